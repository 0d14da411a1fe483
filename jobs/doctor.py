"""Checks the runtime: pyspark with its jars, Java 17, the Delta jar cache, a Delta round trip."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jobs import local_fs
from jobs.errors import RuntimeSetupError
from jobs.jars import cached_jar_paths
from jobs.settings import Settings
from jobs.spark import BASE_JVM_OPTIONS, local_fs_jar

PYSPARK_VERSION = "4.2.0"
JAVA_MAJOR = "17"
TRAINING_RUN = "--training-run"


def check_pyspark() -> Path:
    """pyspark is the full distribution (jars present), not only pyspark-client's Python files."""
    version = importlib.metadata.version("pyspark")
    if version != PYSPARK_VERSION:
        raise RuntimeSetupError(f"pyspark {version} is installed, {PYSPARK_VERSION} is required")
    import pyspark

    jars = Path(pyspark.__file__).parent / "jars"
    if not any(jars.glob("spark-core_*.jar")):
        # pyspark-client (pulled in by the apache-spark provider) shares the pyspark import path;
        # installing or removing it can leave pyspark without its jars.
        raise RuntimeSetupError(
            f"{jars} has no Spark jars (pyspark-client clash); "
            f"reinstall with: pip install --force-reinstall --no-deps pyspark=={PYSPARK_VERSION}"
        )
    return jars


def check_java() -> str:
    """Java 17 is on the PATH (or JAVA_HOME)."""
    java = shutil.which("java")
    if java is None:
        raise RuntimeSetupError("java not found: install a Java 17 runtime")
    output = subprocess.run([java, "-version"], capture_output=True, text=True).stderr
    first = output.splitlines()[0] if output else "unknown"
    if f'"{JAVA_MAJOR}.' not in first:
        raise RuntimeSetupError(f"Java {JAVA_MAJOR} is required, found: {first}")
    return first


def delta_round_trip(settings: Settings) -> int:
    """Writes and reads a tiny Delta table with Spark, and reads it again with deltalake."""
    from delta.tables import DeltaTable as SparkDeltaTable
    from deltalake import DeltaTable
    from pyspark.sql import functions as F

    from jobs.spark import get_spark

    spark = get_spark(settings, app_name="retailmax-doctor")
    with tempfile.TemporaryDirectory(prefix="retailmax-doctor-") as folder:
        # The jobs' kinds of work (CSV in, partitioned replaceWhere, MERGE): the class archive
        # `--class-archive` writes from this run then holds the classes they load.
        csv = Path(folder) / "ids.csv"
        csv.write_text("id,part\n0,a\n1,a\n2,b\n", encoding="utf-8")
        path = str(Path(folder) / "check")
        ids_df = spark.read.option("header", True).schema("id LONG, part STRING").csv(str(csv))
        ids_df.write.format("delta").partitionBy("part").save(path)
        (
            ids_df.where(F.col("part") == "b")
            .write.format("delta")
            .mode("overwrite")
            .option("replaceWhere", "part = 'b'")
            .save(path)
        )
        (
            SparkDeltaTable.forPath(spark, path)
            .alias("t")
            .merge(ids_df.alias("s"), "t.id = s.id")
            .whenMatchedUpdateAll()
            .whenNotMatchedInsertAll()
            .execute()
        )
        spark_rows = spark.read.format("delta").load(path).count()
        arrow_rows = DeltaTable(path).to_pyarrow_table().num_rows
    if spark_rows != 3 or arrow_rows != 3:
        raise RuntimeSetupError(f"Delta round trip read {spark_rows}/{arrow_rows} rows, not 3")
    return spark_rows


def write_class_archive(settings: Settings, jars: Path) -> str:
    """Writes `spark.class_archive` once: a Delta round trip in a spark-submit driver whose JVM
    dumps the classes it loaded at exit. Re-written when pyspark's jars are newer than it."""
    archive = Path(settings.spark.class_archive or "")
    if not settings.spark.class_archive:
        return "no class archive configured"
    # The archive holds the classpath it was written with: pyspark's jars and the local file
    # system's jar, so it is written again when either is newer.
    fs_jar = local_fs_jar(settings)
    inputs = [jars, *([Path(fs_jar)] if fs_jar else [])]
    if archive.is_file() and all(archive.stat().st_mtime > p.stat().st_mtime for p in inputs):
        return f"class archive {archive}: up to date"
    partial = archive.with_name(archive.name + ".partial")
    partial.unlink(missing_ok=True)
    archive.parent.mkdir(parents=True, exist_ok=True)
    options = [*BASE_JVM_OPTIONS, *settings.spark.driver_java_options]
    options.append(f"-XX:ArchiveClassesAtExit={partial}")
    jar_paths = cached_jar_paths(Path(settings.paths.jar_cache))
    command = [
        str(Path(sys.executable).parent / "spark-submit"),
        "--master",
        "local[2]",
        "--conf",
        f"spark.driver.extraJavaOptions={' '.join(options)}",
        *(["--conf", f"spark.driver.extraClassPath={fs_jar}"] if fs_jar else []),
        "--conf",
        f"spark.jars={','.join(str(path) for path in jar_paths)}",
        str(Path(__file__).resolve()),
        TRAINING_RUN,
    ]
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if result.returncode != 0 or not partial.is_file():
        tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
        raise RuntimeSetupError(f"could not write the class archive {archive}: {' | '.join(tail)}")
    partial.replace(archive)
    return f"class archive {archive}: written ({archive.stat().st_size // 2**20} MiB)"


def main() -> int:
    """`python -m jobs.doctor [--spark] [--local-fs] [--class-archive]`: static checks, plus a
    Spark+Delta run with --spark, the local file system's jar with --local-fs (before the
    archive: it is on the archived classpath), the driver's class-data archive with
    --class-archive."""
    from jobs.settings import load_settings

    if TRAINING_RUN in sys.argv[1:]:  # inside write_class_archive's spark-submit
        delta_round_trip(load_settings())
        return 0
    try:
        jars = check_pyspark()
        java = check_java()
        settings = load_settings()
        if settings.spark.jars == "cache":
            cached_jar_paths(Path(settings.paths.jar_cache))
        print(f"pyspark {PYSPARK_VERSION} with {len(list(jars.glob('*.jar')))} jars; {java}")
        if "--spark" in sys.argv[1:]:
            delta_round_trip(settings)
            print("Spark + Delta: write, read, and read back with deltalake: ok")
        if "--local-fs" in sys.argv[1:] and settings.spark.local_fs_jar:
            print(local_fs.build(Path(settings.spark.local_fs_jar), jars))
        if "--class-archive" in sys.argv[1:] and settings.spark.jars == "cache":
            print(write_class_archive(settings, jars))
    except RuntimeSetupError as exc:
        print(f"retailmax doctor: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
