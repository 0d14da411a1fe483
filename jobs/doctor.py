"""Checks the runtime: pyspark with its jars, Java 17, the Delta jar cache, a Delta round trip."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from jobs.errors import RuntimeSetupError
from jobs.jars import cached_jar_paths
from jobs.settings import Settings

PYSPARK_VERSION = "4.2.0"
JAVA_MAJOR = "17"


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
    from deltalake import DeltaTable

    from jobs.spark import get_spark

    spark = get_spark(settings, app_name="retailmax-doctor")
    with tempfile.TemporaryDirectory(prefix="retailmax-doctor-") as folder:
        path = str(Path(folder) / "check")
        spark.range(3).write.format("delta").save(path)
        spark_rows = spark.read.format("delta").load(path).count()
        arrow_rows = DeltaTable(path).to_pyarrow_table().num_rows
    if spark_rows != 3 or arrow_rows != 3:
        raise RuntimeSetupError(f"Delta round trip read {spark_rows}/{arrow_rows} rows, not 3")
    return spark_rows


def main() -> int:
    """`python -m jobs.doctor [--spark]`: static checks, plus a Spark+Delta run with --spark."""
    from jobs.settings import load_settings

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
    except RuntimeSetupError as exc:
        print(f"retailmax doctor: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
