"""The one Spark session factory: every entry point (CLI, jobs, tests) gets its session here."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from jobs import local_fs
from jobs.jars import cached_jar_paths
from jobs.settings import Settings

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

DELTA_EXTENSION = "io.delta.sql.DeltaSparkSessionExtension"
DELTA_CATALOG = "org.apache.spark.sql.delta.catalog.DeltaCatalog"
SESSION_TIME_ZONE = "UTC"
UTC_JVM_OPTION = "-Duser.timezone=UTC"
# HotSpot compiles no method of more than 8,000 bytes of bytecode (DontCompileHugeMethods is on
# by default), and Spark's generated code for a wide projection is such a method: the POS
# lines' rules ran interpreted, 3x slower (docs/performance.md). Every driver and executor JVM.
HUGE_METHODS_JVM_OPTION = "-XX:-DontCompileHugeMethods"
BASE_JVM_OPTIONS = (UTC_JVM_OPTION, HUGE_METHODS_JVM_OPTION)


def driver_java_options(settings: Settings) -> str:
    """The driver JVM's options: UTC, huge methods compiled, conf's `driver_java_options`, and
    the class-data archive when `make setup` has written it (a missing archive is skipped)."""
    options = [*BASE_JVM_OPTIONS, *settings.spark.driver_java_options]
    archive = settings.spark.class_archive
    if archive and Path(archive).is_file():
        options.append(f"-XX:SharedArchiveFile={archive}")
    return " ".join(options)


def local_fs_jar(settings: Settings) -> str | None:
    """The forkless local file system's jar (jobs/local_fs.py) when `make setup` has built it."""
    jar = settings.spark.local_fs_jar
    return jar if jar and Path(jar).is_file() else None


def driver_launch_conf(settings: Settings) -> dict[str, str]:
    """What a local driver's JVM must be started with, so on spark-submit's command line (the
    session's conf comes after the JVM is up): its options, and the local file system's jar."""
    conf = {"spark.driver.extraJavaOptions": driver_java_options(settings)}
    jar = local_fs_jar(settings)
    if jar:
        conf["spark.driver.extraClassPath"] = jar
    return conf


def spark_conf(settings: Settings, extra_conf: Mapping[str, str] | None = None) -> dict[str, str]:
    """The full Spark conf for these settings: Delta, UTC, sizing; conf entries override all."""
    conf = {
        "spark.sql.extensions": DELTA_EXTENSION,
        "spark.sql.catalog.spark_catalog": DELTA_CATALOG,
        "spark.sql.session.timeZone": SESSION_TIME_ZONE,
        "spark.sql.shuffle.partitions": str(settings.spark.shuffle_partitions),
        "spark.driver.memory": settings.spark.driver_memory,
        "spark.ui.enabled": str(settings.spark.ui_enabled).lower(),
        "spark.ui.showConsoleProgress": "false",
    }
    if settings.spark.master:
        # Local: this process may start the driver JVM; UTC there, so parsing local timestamps
        # never depends on the host zone (executors run inside it). On Kubernetes the driver
        # and executor JVMs get UTC from the SparkApplication's javaOptions, to which the
        # Spark Operator appends its JMX agent: setting extraJavaOptions here would replace
        # that agent and silently switch the executors' metrics off.
        conf.update(driver_launch_conf(settings))
        if local_fs_jar(settings):
            conf.update(local_fs.hadoop_conf())
    if settings.spark.jars == "cache":
        # Local: the jars `make setup` fetched once; nothing is resolved or downloaded here.
        jar_paths = cached_jar_paths(Path(settings.paths.jar_cache))
        conf["spark.jars"] = ",".join(str(path) for path in jar_paths)
    # "image": the jars are on the image's Spark classpath already; nothing to add or download.
    conf.update(settings.spark.conf)
    conf.update(extra_conf or {})
    return conf


def get_spark(
    settings: Settings,
    app_name: str | None = None,
    extra_conf: Mapping[str, str] | None = None,
) -> SparkSession:
    """The process's Spark session: the active one as it is, else a new one for these settings.

    A job process makes one session; in the tests every job shares the session the fixture
    made, and re-applying a job's conf to it (shuffle partitions, say) would make later tests
    depend on which job ran before them."""
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(app_name or settings.spark.app_name)
    if settings.spark.master:
        builder = builder.master(settings.spark.master)
    for key, value in spark_conf(settings, extra_conf).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark


def drop_cached_frames() -> None:
    """Drops every frame the process's session caches, if a session runs. For a session that
    outlives the job runs made in it (the warm driver's, the tests'): a job unpersists what it
    cached at its end, a run that fails or is cancelled never gets there, and a frame left
    cached would answer a later read of the same files (Spark matches it by plan), however the
    files changed."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()
    if session is not None:
        session.catalog.clearCache()
