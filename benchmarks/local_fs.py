"""Hadoop's local file system against the forkless one (jobs/local_fs.py) on a shard's writes.

    .venv/bin/python -m benchmarks.local_fs --stores 25 --lines 2000 --writes 10

Each file system in a process of its own (the classes are chosen when the JVM starts), on
local[2] with the JVM's own tiers: the same shard of store lines (silver.sales_lines' columns,
one partition per store-day) written `--writes` times with the jobs' replaceWhere after two
writes not timed (the JIT's warm-up), as a sales shard writes silver. Printed: seconds per
write, and the processes the machine started per write (/proc/stat: Hadoop's `chmod` and
`readlink` among them, so run it with nothing else running). The peer is DuckDB writing the
same rows as Parquet, one folder per store-day, as many times.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import local_env, sales_lines_frame
from jobs.settings import PROJECT_ROOT

DAY = date(2024, 3, 4)
CORES = 2
SKUS = 5000
WARM_UP = 2
KINDS = ("hadoop", "forkless")


def processes_started() -> int:
    """Processes the machine has started since boot (the `processes` counter of /proc/stat):
    read around the writes, the JVM's children and anything else that ran meanwhile."""
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("processes "):
            return int(line.split()[1])
    return 0


def child(kind: str, work: Path, stores: int, lines: int, writes: int) -> dict[str, Any]:
    """The writes in this process, with the file system `kind`."""
    from jobs.lake import replace_where, store_day_predicate
    from jobs.sales.tables import SILVER_SALES_LINES
    from jobs.spark import get_spark

    _, settings = local_env(work, work / "landing", work / kind, CORES, "2g", jit_tiers=True)
    spark_settings = settings.spark.model_copy(
        update={
            "class_archive": None,
            "local_fs_jar": settings.spark.local_fs_jar if kind == "forkless" else None,
        }
    )
    spark = get_spark(settings.model_copy(update={"spark": spark_settings}))
    jvm = spark._jvm
    assert jvm is not None
    local = jvm.org.apache.hadoop.fs.FileSystem.getLocal(spark._jsc.hadoopConfiguration())
    fs_class = str(local.getClass().getName())
    shard = range(1, stores + 1)
    df = sales_lines_frame(spark, DAY, 1, shard, lines, SKUS).repartition("store_id").cache()
    rows = df.count()
    if kind == KINDS[0]:  # the peer's input: the same rows
        df.write.mode("overwrite").parquet(str(work / "source"))
    lake, predicate = str(work / kind), store_day_predicate(DAY, list(shard))
    for _ in range(WARM_UP):
        replace_where(df, SILVER_SALES_LINES, lake, predicate)
    processes, started = processes_started(), time.perf_counter()
    for _ in range(writes):
        replace_where(df, SILVER_SALES_LINES, lake, predicate)
    seconds = time.perf_counter() - started
    forks = processes_started() - processes
    spark.stop()
    return {
        "class": fs_class,
        "rows": rows,
        "per_write": seconds / writes,
        "forks_per_write": forks / writes,
    }


def duckdb_writes(work: Path, writes: int) -> float:
    """Seconds per write for DuckDB (2 threads) writing the rows, one folder per store-day."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET threads = 2")
    source, target = work / "source", work / "duckdb"
    started = time.perf_counter()
    for _ in range(writes):
        connection.execute(
            f"COPY (SELECT * FROM read_parquet('{source}/*.parquet')) TO '{target}' "
            "(FORMAT parquet, PARTITION_BY (sale_date, store_id), OVERWRITE_OR_IGNORE)"
        )
    return (time.perf_counter() - started) / writes


def main() -> int:
    """Runs each file system in a child process, then the peer; prints the figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=25, help="stores in the shard")
    parser.add_argument("--lines", type=int, default=2000, help="store lines per store")
    parser.add_argument("--writes", type=int, default=10)
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = child(args.child, args.work, args.stores, args.lines, args.writes)
        print("FIGURES " + json.dumps(figures))
        return 0

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-local-fs-"))
    results = {}
    for kind in KINDS:
        command = [sys.executable, "-m", "benchmarks.local_fs", "--child", kind]
        command += ["--work", str(work), "--stores", str(args.stores), "--lines", str(args.lines)]
        command += ["--writes", str(args.writes)]
        env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        lines = [line for line in result.stdout.splitlines() if line.startswith("FIGURES ")]
        if result.returncode != 0 or not lines:
            raise SystemExit(f"{kind} failed:\n{result.stderr[-3000:]}")
        results[kind] = json.loads(lines[-1].removeprefix("FIGURES "))
    peer = duckdb_writes(work, args.writes)
    rows = results[KINDS[0]]["rows"]
    print(f"a shard of {args.stores} stores, {rows:,} lines, written {args.writes} times")
    for kind, figures in results.items():
        print(
            f"  {kind:<9} {figures['per_write']:6.2f} s a write ({figures['class']}), "
            f"{figures['forks_per_write']:5.0f} processes started on the machine a write, "
            f"{peer and figures['per_write'] / peer:5.1f}x DuckDB"
        )
    gain = results["hadoop"]["per_write"] / results["forkless"]["per_write"]
    print(f"  DuckDB    {peer:6.2f} s a write; forkless {gain:.2f}x faster than Hadoop's own")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
