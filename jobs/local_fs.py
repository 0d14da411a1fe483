"""The local backend's Hadoop file system: Hadoop's own, without a child process per file.

pyspark ships no Hadoop native library, so Hadoop's RawLocalFileSystem sets the mode of every
file and folder it creates by running `chmod`, and reads a link status (each rename of a Delta
commit) by running `readlink`: about 1,250 child processes of the driver's JVM in one
retail_daily day at demo scale, some 3 ms each. jobs/jvm holds three small classes that do
the same through java.nio, in the process (the same modes, the same checksum files beside the
data); `make setup` compiles them once against pyspark's Hadoop into `spark.local_fs_jar`.

Only the local backend uses it (`conf/local.yaml`): the Kubernetes lake is on object storage.
When the jar is not there, the session uses Hadoop's own local file system, only slower.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

from jobs.errors import RuntimeSetupError

SOURCES = Path(__file__).with_name("jvm")
FILE_SYSTEM = "com.retailmax.hadoop.ForklessLocalFileSystem"  # FileSystem API (fs.file.impl)
ABSTRACT_FILE_SYSTEM = "com.retailmax.hadoop.ForklessLocalFs"  # FileContext API
HADOOP_API_JAR = "hadoop-client-api-*.jar"


def java_sources() -> list[Path]:
    """The .java files the jar is compiled from."""
    return sorted(SOURCES.rglob("*.java"))


def hadoop_conf() -> dict[str, str]:
    """The Spark conf that makes `file:` paths use the forkless classes."""
    return {
        "spark.hadoop.fs.file.impl": FILE_SYSTEM,
        "spark.hadoop.fs.AbstractFileSystem.file.impl": ABSTRACT_FILE_SYSTEM,
    }


def is_current(jar: Path, spark_jars: Path) -> bool:
    """The jar exists and is newer than its sources and than pyspark's jars."""
    if not jar.is_file():
        return False
    built = jar.stat().st_mtime
    inputs = [spark_jars, *java_sources()]
    return all(path.stat().st_mtime < built for path in inputs)


def build(jar: Path, spark_jars: Path) -> str:
    """Compiles jobs/jvm against pyspark's Hadoop into jar (Java 17 bytecode); a no-op when the
    jar is current. One line naming the fix when there is no JDK or the compile fails."""
    if is_current(jar, spark_jars):
        return f"local file system {jar}: up to date"
    javac, jar_tool = shutil.which("javac"), shutil.which("jar")
    if javac is None or jar_tool is None:
        raise RuntimeSetupError(
            "javac and jar not found on PATH: the local file system jar needs a JDK 17"
        )
    hadoop = sorted(spark_jars.glob(HADOOP_API_JAR))
    if not hadoop:
        raise RuntimeSetupError(f"no {HADOOP_API_JAR} in {spark_jars}: reinstall pyspark")
    jar.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="retailmax-local-fs-") as classes:
        partial = jar.with_name(jar.name + ".partial")
        compile_options = ["--release", "17", "-Xlint:all", "-Werror", "-d", classes]
        steps = [
            [javac, *compile_options, "-cp", str(hadoop[-1]), *map(str, java_sources())],
            [jar_tool, "--create", "--file", str(partial), "-C", classes, "."],
        ]
        for command in steps:
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            if result.returncode != 0:
                first = (result.stderr or result.stdout).strip().splitlines()[:1]
                raise RuntimeSetupError(
                    f"could not build the local file system jar {jar}: {' '.join(first)}"
                )
        partial.replace(jar)
    return f"local file system {jar}: built"
