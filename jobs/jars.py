"""The JVM jars of the runtime: roots in jars.txt, their transitive set in jars.lock (written by
`python -m jobs.jars lock`), fetched once, then used offline.

jars.txt names what we ask for; jars.lock is what that pulls in, minus what pyspark's own jars
already provide (Spark's version wins on Spark's classpath anyway). Local setup, the image and
the object-storage tests all read jars.lock, so a class missing from the image fails a test
here rather than a production run."""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from jobs.errors import RuntimeSetupError

JARS_FILE = Path(__file__).with_name("jars.txt")
LOCK_FILE = Path(__file__).with_name("jars.lock")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
SCOPES = ("local", "image")
# Maven Central here does not serve this artifact at any version, so `lock` cannot resolve
# it. Its POM's only compile dependency is delta-storage (also a root); its AWS SDK v1 is
# "provided", listed in jars.txt. Locked as itself; the image build downloads it.
NOT_SERVED_HERE = frozenset({"io.delta:delta-storage-s3-dynamodb"})
# Artifacts whose classes pyspark ships under another name.
SPARK_ALIASES = {"commons-logging:commons-logging": "jcl-over-slf4j"}
LOCK_HEADER = """\
# Written by `python -m jobs.jars lock` from jars.txt: do not edit by hand.
# Every jar the roots pull in (Maven's runtime scope, transitively), except those pyspark's own
# jars already provide. Columns: coordinate, where it is needed, the jars.txt root(s) behind it.
"""


@dataclass(frozen=True)
class MavenJar:
    """One Maven artifact: group:artifact:version."""

    group: str
    artifact: str
    version: str
    scopes: frozenset[str] = frozenset(SCOPES)

    @property
    def coordinate(self) -> str:
        """group:artifact:version, as Maven and spark.jars.packages write it."""
        return f"{self.group}:{self.artifact}:{self.version}"

    @property
    def key(self) -> str:
        """group:artifact, the artifact whatever its version."""
        return f"{self.group}:{self.artifact}"

    @property
    def file_name(self) -> str:
        """The jar's file name in the cache: artifact-version.jar."""
        return f"{self.artifact}-{self.version}.jar"


def _parse(path: Path, max_fields: int) -> list[tuple[MavenJar, list[str]]]:
    """`group:artifact:version  scope[,scope]  [extra]` lines (comments, blanks skipped)."""
    jars = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = text.split()
        scopes = frozenset(fields[1].split(",")) if len(fields) > 1 else frozenset(SCOPES)
        if len(fields) > max_fields or fields[0].count(":") != 2 or not scopes <= set(SCOPES):
            raise RuntimeSetupError(
                f"{path.name} line {number}: expected `group:artifact:version "
                f"local,image`, got {text!r}"
            )
        group, artifact, version = fields[0].split(":")
        jars.append((MavenJar(group, artifact, version, scopes), fields[2:]))
    return jars


def root_jars(jars_file: Path = JARS_FILE) -> list[MavenJar]:
    """The roots of jars.txt: what the runtime asks for, before Maven resolves it."""
    return [jar for jar, _ in _parse(jars_file, max_fields=2)]


def all_jars(lock_file: Path = LOCK_FILE) -> list[MavenJar]:
    """Every jar of jars.lock, the resolved set."""
    return [jar for jar, _ in _parse(lock_file, max_fields=3)]


def required_jars(scope: str = "local", lock_file: Path = LOCK_FILE) -> list[MavenJar]:
    """The jars needed in `scope`: local (the jar cache) or image (the Docker image)."""
    return [jar for jar in all_jars(lock_file) if scope in jar.scopes]


def spark_provided(spark_jars: Path) -> set[str]:
    """Artifact names pyspark's own jars provide (any version), plus their aliases."""
    names = {
        re.sub(r"-\d[^-]*(-[A-Za-z0-9.]+)?\.jar$", "", p.name) for p in spark_jars.glob("*.jar")
    }
    return names | {key for key, alias in SPARK_ALIASES.items() if alias in names}


def resolve(root: MavenJar, work_dir: Path) -> list[MavenJar]:
    """The root and what it pulls in at runtime, by `mvn dependency:list` on a one-dependency
    POM (Maven's own mediation: one version per artifact)."""
    if root.key in NOT_SERVED_HERE:
        return [root]
    pom = work_dir / "pom.xml"
    pom.write_text(
        '<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>'
        "<groupId>retailmax</groupId><artifactId>jar-lock</artifactId><version>0</version>"
        f"<dependencies><dependency><groupId>{root.group}</groupId>"
        f"<artifactId>{root.artifact}</artifactId><version>{root.version}</version>"
        "</dependency></dependencies></project>",
        encoding="utf-8",
    )
    listing = work_dir / "list.txt"
    _mvn(
        [f"{DEPENDENCY_PLUGIN}:list", "-DincludeScope=runtime", f"-DoutputFile={listing}"],
        root.coordinate,
        cwd=work_dir,
    )
    found = re.findall(r"^\s+([\w.-]+):([\w.-]+):jar:([\w.-]+):\w+", listing.read_text(), re.M)
    return [MavenJar(group, artifact, version, root.scopes) for group, artifact, version in found]


def lock(spark_jars: Path, jars_file: Path = JARS_FILE, lock_file: Path = LOCK_FILE) -> str:
    """Writes jars.lock: each root's runtime closure, scopes merged, pyspark's own jars out."""
    provided = spark_provided(spark_jars)
    roots = root_jars(jars_file)
    pinned = {root.key: root.version for root in roots}  # a root's version wins
    locked: dict[str, tuple[MavenJar, list[str]]] = {}
    with tempfile.TemporaryDirectory(prefix="jar-lock-") as tmp:
        for root in roots:
            for found in resolve(root, Path(tmp)):
                if found.artifact in provided or found.key in provided:
                    continue
                jar = MavenJar(
                    found.group, found.artifact, pinned.get(found.key, found.version), root.scopes
                )
                seen, seen_roots = locked.get(jar.key, (jar, []))
                if seen.version != jar.version:
                    raise RuntimeSetupError(
                        f"{jar.key} resolves to {seen.version} for {seen_roots[0]} but to "
                        f"{jar.version} for {root.artifact}: pin one in jars.txt"
                    )
                merged = MavenJar(jar.group, jar.artifact, jar.version, seen.scopes | jar.scopes)
                locked[jar.key] = (merged, [*seen_roots, root.artifact])
    lines = [
        f"{jar.coordinate:<60} {','.join(s for s in SCOPES if s in jar.scopes):<12} "
        f"{','.join(dict.fromkeys(behind))}"
        for jar, behind in locked.values()
    ]
    lock_file.write_text(LOCK_HEADER + "\n".join(lines) + "\n", encoding="utf-8")
    return f"{lock_file.name}: {len(lines)} jars from {len(roots)} roots"


def missing_jars(cache_dir: Path, scope: str = "local") -> list[MavenJar]:
    """The required jars that are not (or only partly) in cache_dir."""
    return [
        jar
        for jar in required_jars(scope)
        if not (cache_dir / jar.file_name).is_file()
        or (cache_dir / jar.file_name).stat().st_size == 0
    ]


def cached_jar_paths(cache_dir: Path, scope: str = "local") -> list[Path]:
    """Paths of the required jars in cache_dir; one line naming the fix if one is missing."""
    missing = missing_jars(cache_dir, scope)
    if missing:
        names = ", ".join(jar.coordinate for jar in missing)
        fix = (
            "run `make setup`"
            if scope == "local"
            else f"run `python -m jobs.jars fetch --scope {scope} --dest {cache_dir}`"
        )
        raise RuntimeSetupError(f"jars missing from {cache_dir}: {names}; {fix}")
    return [cache_dir / jar.file_name for jar in required_jars(scope)]


def _mvn(goal: list[str], coordinate: str, cwd: Path | None = None) -> None:
    """Runs Maven once; one line naming the artifact and Maven's first error on failure."""
    if shutil.which("mvn") is None:
        raise RuntimeSetupError("Maven (mvn) is needed once to fetch the jars; install it")
    command = ["mvn", "-q", "-B", *goal]
    result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=cwd)
    if result.returncode != 0:
        reason = next(
            (line for line in result.stdout.splitlines() if "[ERROR]" in line), "mvn failed"
        )
        raise RuntimeSetupError(f"could not fetch {coordinate}: {reason.strip()}")


def local_repository() -> Path:
    """Maven's local repository: `-Dmaven.repo.local` in MAVEN_OPTS, else ~/.m2/repository."""
    for option in shlex.split(os.environ.get("MAVEN_OPTS", "")):
        if option.startswith("-Dmaven.repo.local="):
            return Path(option.split("=", 1)[1]).expanduser()
    return Path.home() / ".m2" / "repository"


def verified_local_jar(jar: MavenJar, repository: Path) -> Path | None:
    """The jar in Maven's local repository when its SHA-1 matches the `.sha1` file Maven
    downloaded beside it from the remote repository; None otherwise (absent, no checksum, or a
    mismatch), and Maven fetches it."""
    path = repository.joinpath(*jar.group.split("."), jar.artifact, jar.version, jar.file_name)
    checksum = path.with_name(path.name + ".sha1")
    if not (path.is_file() and checksum.is_file()):
        return None
    expected = checksum.read_text().split(maxsplit=1)
    with path.open("rb") as data:
        actual = hashlib.file_digest(data, "sha1").hexdigest()
    return path if expected and expected[0].lower() == actual else None


def fetch_jars(
    cache_dir: Path, scope: str = "local", skip: frozenset[str] = frozenset()
) -> list[Path]:
    """Puts the missing jars of `scope` into cache_dir (once; a no-op when all are there):
    copied from Maven's local repository when there with a matching checksum, else fetched by
    Maven (one JVM per jar). `skip`: group:artifact keys not fetched (and not returned)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    # One fetch at a time per folder (test workers share ~/.cache): a jar half copied by one
    # process must never be read by another. Each is copied to a temporary folder, then moved.
    with (cache_dir / ".fetch.lock").open("w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        repository = local_repository()
        for jar in missing_jars(cache_dir, scope):
            if jar.key in skip:
                continue
            local = verified_local_jar(jar, repository)
            print(
                f"{'copying' if local else 'fetching'} {jar.coordinate} -> {cache_dir}",
                file=sys.stderr,
            )
            with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
                if local:
                    shutil.copyfile(local, Path(tmp) / jar.file_name)
                else:
                    _mvn(
                        [
                            f"{DEPENDENCY_PLUGIN}:copy",
                            f"-Dartifact={jar.coordinate}",
                            f"-DoutputDirectory={tmp}",
                        ],
                        jar.coordinate,
                    )
                os.replace(Path(tmp) / jar.file_name, cache_dir / jar.file_name)
    return [cache_dir / jar.file_name for jar in required_jars(scope) if jar.key not in skip]


def main(argv: list[str] | None = None) -> int:
    """`python -m jobs.jars fetch|list [--scope S] --dest DIR`, `python -m jobs.jars lock`."""
    parser = argparse.ArgumentParser(prog="python -m jobs.jars", description=__doc__)
    parser.add_argument("action", choices=["fetch", "list", "lock"])
    parser.add_argument("--dest", type=Path, help="the jar folder (fetch, list)")
    parser.add_argument("--scope", choices=SCOPES, default="local")
    args = parser.parse_args(argv)
    try:
        if args.action == "lock":
            import pyspark

            print(lock(Path(pyspark.__file__).parent / "jars"))
            return 0
        if args.dest is None:
            parser.error(f"{args.action} needs --dest")
        if args.action == "fetch":
            paths = fetch_jars(args.dest, args.scope)
        else:
            paths = cached_jar_paths(args.dest, args.scope)
    except RuntimeSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
