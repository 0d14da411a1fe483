"""Shared fixtures: one Spark session per test run, a fresh temporary lake per test."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest

from jobs.settings import Settings, load_settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Airflow, once imported, writes its config under AIRFLOW_HOME: never the developer's own.
# One per pytest process (each xdist worker and the controller), removed when it exits.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="retailmax-airflow-home-")
atexit.register(shutil.rmtree, os.environ["AIRFLOW_HOME"], ignore_errors=True)
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"

# Delta's own fast test settings (few snapshot partitions, small log cache) and a tiny Spark.
SPARK_TEST_CONF = {
    "spark.master": "local[2]",
    "spark.sql.shuffle.partitions": "2",
    "spark.default.parallelism": "2",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.databricks.delta.snapshotPartitions": "2",
    "spark.databricks.delta.delta.log.cacheSize": "3",
    "spark.sql.sources.parallelPartitionDiscovery.parallelism": "2",
    "spark.driver.memory": "2g",
}
TEST_JVM_OPTIONS = ["-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=256m"]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never pick up a developer's RETAILMAX_* variables."""
    for name in list(os.environ):
        if name.startswith("RETAILMAX_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(PROJECT_ROOT)


@pytest.fixture(scope="session")
def local_settings() -> Settings:
    """conf/local.yaml as loaded by every entry point."""
    return load_settings("local")


def settings_for(base: Settings, landing: Path, lake: Path, **sections: object) -> Settings:
    """base with its landing and lake roots at `landing` and `lake`, and any top-level
    section (quality, inventory, ...) replaced."""
    paths = base.paths.model_copy(update={"landing_root": str(landing), "lake_root": str(lake)})
    return base.model_copy(update={"paths": paths, **sections})


def with_jvm_options(settings: Settings, options: list[str]) -> Settings:
    """settings whose driver JVMs start with `options` instead of the conf's."""
    spark = settings.spark.model_copy(update={"driver_java_options": options})
    return settings.model_copy(update={"spark": spark})


def with_test_jvm(settings: Settings) -> Settings:
    """settings whose spark-submit drivers run the JIT's first tier only: a driver of the tests'
    tiny data ends before C2's compiling pays off (docs/performance.md). The tests' own session
    lives for the whole run and keeps the JVM's tiers (on C1 only it was 23 % slower)."""
    return with_jvm_options(settings, TEST_JVM_OPTIONS)


@pytest.fixture(scope="session")
def spark(local_settings: Settings) -> Iterator[object]:
    """The one Spark session of the test run, from the project's own session factory."""
    from jobs.spark import get_spark

    # The session lives for the whole run: the JVM's own tiers, whatever local.yaml says.
    session = get_spark(
        with_jvm_options(local_settings, []), app_name="retailmax-tests", extra_conf=SPARK_TEST_CONF
    )
    yield session
    session.stop()


@pytest.fixture(autouse=True)
def _drop_cached_frames(request: pytest.FixtureRequest) -> Iterator[None]:
    """After a test that used the shared session, drops what a job it ran left cached (the
    session outlives the test, as the warm driver's outlives a run: jobs.spark)."""
    yield
    if "spark" in request.fixturenames:
        from jobs.spark import drop_cached_frames

        drop_cached_frames()


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    """A fresh, empty lake root for one test."""
    root = tmp_path / "lake"
    root.mkdir()
    return root


SMALL_START = date(2024, 3, 4)  # a Monday


@pytest.fixture(scope="session")
def clean_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated landing data without anomalies: 4 stores, 2 days, small volumes."""
    from jobs.generate import GenerateOptions, generate

    root = tmp_path_factory.mktemp("landing_clean")
    generate(
        GenerateOptions(
            root,
            stores=4,
            days=2,
            start=SMALL_START,
            seed=7,
            skus=300,
            lines_per_store=150,
            progress=False,
        )
    )
    return root


@pytest.fixture(scope="session")
def dirty_landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Generated landing data with every anomaly of the POS contract injected."""
    from jobs.generate import GenerateOptions, generate

    root = tmp_path_factory.mktemp("landing_dirty")
    generate(
        GenerateOptions(
            root,
            stores=5,
            days=2,
            start=SMALL_START,
            seed=11,
            skus=300,
            lines_per_store=200,
            anomalies=0.03,
            progress=False,
        )
    )
    return root
