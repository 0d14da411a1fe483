"""The JVM jars of the runtime: one list (jars.txt), fetched once, then used offline."""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from jobs.errors import RuntimeSetupError

JARS_FILE = Path(__file__).with_name("jars.txt")
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
SCOPES = ("local", "image")


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
    def file_name(self) -> str:
        """The jar's file name in the cache: artifact-version.jar."""
        return f"{self.artifact}-{self.version}.jar"


def all_jars(jars_file: Path = JARS_FILE) -> list[MavenJar]:
    """Parses jars.txt: `group:artifact:version  scope[,scope]` (comments, blanks skipped)."""
    jars = []
    for number, line in enumerate(jars_file.read_text(encoding="utf-8").splitlines(), 1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        fields = text.split()
        scopes = frozenset(fields[1].split(",")) if len(fields) > 1 else frozenset(SCOPES)
        if len(fields) > 2 or fields[0].count(":") != 2 or not scopes <= set(SCOPES):
            raise RuntimeSetupError(
                f"{jars_file.name} line {number}: expected `group:artifact:version "
                f"local,image`, got {text!r}"
            )
        group, artifact, version = fields[0].split(":")
        jars.append(MavenJar(group, artifact, version, scopes))
    return jars


def required_jars(scope: str = "local", jars_file: Path = JARS_FILE) -> list[MavenJar]:
    """The jars needed in `scope`: local (the jar cache) or image (the Docker image)."""
    return [jar for jar in all_jars(jars_file) if scope in jar.scopes]


def missing_jars(cache_dir: Path) -> list[MavenJar]:
    """The required jars that are not (or only partly) in cache_dir."""
    return [
        jar
        for jar in required_jars()
        if not (cache_dir / jar.file_name).is_file()
        or (cache_dir / jar.file_name).stat().st_size == 0
    ]


def cached_jar_paths(cache_dir: Path) -> list[Path]:
    """Paths of the required jars in cache_dir; one line naming the fix if one is missing."""
    missing = missing_jars(cache_dir)
    if missing:
        names = ", ".join(jar.coordinate for jar in missing)
        raise RuntimeSetupError(f"Delta jars missing from {cache_dir}: {names}; run `make setup`")
    return [cache_dir / jar.file_name for jar in required_jars()]


def fetch_jars(cache_dir: Path) -> list[Path]:
    """Downloads the missing jars into cache_dir with Maven (once; a no-op when all are there)."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    for jar in missing_jars(cache_dir):
        if shutil.which("mvn") is None:
            raise RuntimeSetupError(
                "Maven (mvn) is needed once to fetch the Delta jars; install it"
            )
        print(f"fetching {jar.coordinate} -> {cache_dir}", file=sys.stderr)
        command = [
            "mvn",
            "-q",
            "-B",
            f"{DEPENDENCY_PLUGIN}:copy",
            f"-Dartifact={jar.coordinate}",
            f"-DoutputDirectory={cache_dir}",
        ]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            reason = next(
                (line for line in result.stdout.splitlines() if "[ERROR]" in line), "mvn failed"
            )
            raise RuntimeSetupError(f"could not fetch {jar.coordinate}: {reason.strip()}")
    return cached_jar_paths(cache_dir)


def main(argv: list[str] | None = None) -> int:
    """`python -m jobs.jars fetch|list --dest DIR`: used by `make setup` and the Dockerfile."""
    parser = argparse.ArgumentParser(prog="python -m jobs.jars", description=__doc__)
    parser.add_argument("action", choices=["fetch", "list"])
    parser.add_argument("--dest", type=Path, required=True, help="the jar folder")
    args = parser.parse_args(argv)
    try:
        paths = fetch_jars(args.dest) if args.action == "fetch" else cached_jar_paths(args.dest)
    except RuntimeSetupError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
