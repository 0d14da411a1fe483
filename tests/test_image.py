"""The images, checked without a Docker engine: house lint rules on both Dockerfiles, one jar
list for local setup and the image, and pinned Python packages that match the tested ones."""

from __future__ import annotations

import re
from importlib.metadata import distribution
from pathlib import Path

import pyspark
from packaging.requirements import Requirement

from jobs.jars import all_jars, required_jars
from jobs.orchestration.factory import JMX_EXPORTER_JAR
from jobs.settings import PROJECT_ROOT
from tests.dockerfile_lint import lint

DOCKERFILES = (PROJECT_ROOT / "Dockerfile", PROJECT_ROOT / "docker" / "airflow.Dockerfile")
RUNTIME_LOCK = PROJECT_ROOT / "docker" / "requirements.lock"


def test_both_dockerfiles_pass_the_lint_rules() -> None:
    for path in DOCKERFILES:
        assert lint(path.read_text()) == [], path.name


def test_the_lint_rules_catch_an_unpinned_root_image() -> None:
    bad = (
        "FROM python:latest\n"
        "RUN apt-get install -y openjdk-17-jre-headless && pip install pyspark\n"
        "ADD https://example.invalid/delta.jar /jars/\n"
        "USER root\n"
        "CMD retailmax --help\n"
    )
    assert lint(bad) == [
        "line 1: base image python:latest is not pinned to a version",
        "line 2: pip install of unpinned packages: pyspark",
        "line 2: apt package openjdk-17-jre-headless is not pinned (name=version)",
        "line 3: ADD fetches or unpacks implicitly; use COPY",
        "line 5: CMD in shell form; use the exec form",
        "the image runs as root (last USER: root)",
    ]


def test_the_image_runs_as_a_non_root_user_with_spark_and_java_17() -> None:
    text = DOCKERFILES[0].read_text()
    assert re.findall(r"^USER (\S+)$", text, re.M)[-1] == "185"
    assert "openjdk-17-jre-headless=17" in text
    assert "COPY jobs/jars.txt" in text and "$2 ~ /(^|,)image(,|$)/" in text


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
