"""The sales tables' layout: one partition per store-day (the jobs') against date partitions.

    .venv/bin/python -m benchmarks.layout --stores 100 --lines 2000 --days 7

Both layouts hold the same generated store lines (silver.sales_lines' columns) and are written
the way a sales shard writes: one replaceWhere of `sale_date = D AND store_id IN (the shard)`
per shard and day, in one Spark session on local[2].

- store-day: partitioned by sale_date and store_id (silver.sales_lines as the jobs lay it out);
  the lines clustered by store-day, one file per store-day.
- date: partitioned by sale_date only; each shard's lines in one file sorted by store_id, so
  that the file statistics of store_id let a replaceWhere skip the other shards' files.

Printed per layout: the shard writes of the last day (seconds each, files added), a re-run of
one shard (rows of the day unchanged), a read of every day (units per store and SKU, the
promotions job's velocity read), and a new day's shards committed at the same moment from
threads (what Airflow's mapped shards do): how many committed, the error of the others, and
whether the day then holds every shard's rows.
"""

from __future__ import annotations

import argparse
import dataclasses
import shutil
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import local_env, sales_lines_frame

LAST_DAY = date(2024, 3, 28)
CORES = 2
SKUS = 5000
LAYOUTS = {"store-day": ("sale_date", "store_id"), "date": ("sale_date",)}


def shard_lines(spark: Any, day: date, stores: range, lines: int) -> Any:
    """One shard's lines for one day."""
    return sales_lines_frame(spark, day, 1, stores, lines, SKUS)


def write_shard(spark: Any, spec: Any, lake: str, day: date, stores: range, lines: int) -> int:
    """One shard's replaceWhere, laid out for the spec; the files it added."""
    from delta.tables import DeltaTable

    from jobs.lake import replace_where, store_day_predicate

    df = shard_lines(spark, day, stores, lines)
    if "store_id" in spec.partition_by:  # as the sales job: clustered by store-day once
        df = df.repartition("sale_date", "store_id")
    else:
        df = df.repartition(1).sortWithinPartitions("store_id")
    replace_where(df, spec, lake, store_day_predicate(day, list(stores)), cluster=False)
    last = DeltaTable.forPath(spark, spec.path(lake)).history(1).first()
    return int(last.operationMetrics.get("numFiles", 0)) if last else 0


def day_rows(spark: Any, spec: Any, lake: str, day: date) -> int:
    """Rows of one day in the table."""
    from pyspark.sql import functions as F

    return int(
        spark.read.format("delta").load(spec.path(lake)).where(F.col("sale_date") == day).count()
    )


def duckdb_units_read(path: str, first: date, last: date) -> tuple[float, int]:
    """The peer: DuckDB (2 threads) computing the same read from the same Parquet files."""
    import duckdb
    from deltalake import DeltaTable

    connection = duckdb.connect()
    connection.execute(f"SET threads TO {CORES}")
    started = time.perf_counter()
    row = connection.execute(
        "SELECT count(*) FROM (SELECT store_id, sku, sum(quantity) FROM read_parquet($files, "
        "hive_partitioning = true) WHERE sale_date BETWEEN $first AND $last GROUP BY ALL)",
        {"files": DeltaTable(path).file_uris(), "first": first, "last": last},
    ).fetchone()
    return time.perf_counter() - started, int(row[0]) if row else -1


def measure(spark: Any, name: str, lake: str, args: argparse.Namespace) -> dict[str, Any]:
    """Writes the days shard by shard, then times the last day's writes, a re-run, the read
    and the concurrent shards of a new day."""
    from delta.exceptions import (
        ConcurrentAppendException,
        ConcurrentDeleteReadException,
        DeltaConcurrentModificationException,
    )
    from pyspark.sql import functions as F

    from jobs.lake import ensure_table
    from jobs.sales.tables import SILVER_SALES_LINES

    spec = dataclasses.replace(
        SILVER_SALES_LINES,
        name=f"silver.lines_{name.replace('-', '_')}",
        partition_by=LAYOUTS[name],
    )
    ensure_table(spark, spec, lake)
    shards = [
        range(first, min(first + args.per_shard, args.stores + 1))
        for first in range(1, args.stores + 1, args.per_shard)
    ]
    days = [LAST_DAY - timedelta(days=back) for back in reversed(range(args.days))]
    for day in days[:-1]:
        for stores in shards:
            write_shard(spark, spec, lake, day, stores, args.lines)
    write_seconds, files = [], []
    for stores in shards:
        started = time.perf_counter()
        files.append(write_shard(spark, spec, lake, days[-1], stores, args.lines))
        write_seconds.append(time.perf_counter() - started)
    before = day_rows(spark, spec, lake, days[-1])
    started = time.perf_counter()
    write_shard(spark, spec, lake, days[-1], shards[0], args.lines)
    rerun = time.perf_counter() - started
    after = day_rows(spark, spec, lake, days[-1])

    started = time.perf_counter()
    units = (
        spark.read.format("delta")
        .load(spec.path(lake))
        .where(F.col("sale_date").between(days[0], days[-1]))
        .groupBy("store_id", "sku")
        .agg(F.sum("quantity").alias("units"))
        .count()
    )
    read = time.perf_counter() - started
    table_files = spark.read.format("delta").load(spec.path(lake)).inputFiles()
    duckdb_read, duckdb_units = duckdb_units_read(spec.path(lake), days[0], days[-1])

    new_day = LAST_DAY + timedelta(days=1)

    def commit(stores: range) -> str:
        try:
            write_shard(spark, spec, lake, new_day, stores, args.lines)
            return "committed"
        except (  # not subclasses of one another in delta-spark 4.4's Python API
            ConcurrentAppendException,
            ConcurrentDeleteReadException,
            DeltaConcurrentModificationException,
        ) as exc:
            return str(exc).split("]", 1)[0].lstrip("[")  # its error class

    with ThreadPoolExecutor(len(shards)) as pool:
        outcomes = list(pool.map(commit, shards))
    return {
        "write": sum(write_seconds) / len(write_seconds),
        "files": sum(files) / len(files),
        "rerun": rerun,
        "rerun_same": before == after == args.stores * args.lines,
        "read": read,
        "read_files": len(table_files),
        "units_rows": units,
        "duckdb_read": duckdb_read,
        "duckdb_units_rows": duckdb_units,
        "concurrent": outcomes,
        "concurrent_rows": day_rows(spark, spec, lake, new_day),
    }


def main() -> int:
    """Prints both layouts' figures."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--lines", type=int, default=2000, help="lines per store-day")
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--per-shard", type=int, default=25)
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args()

    from jobs.spark import get_spark

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-layout-"))
    try:
        lake = work / "lake"
        _, settings = local_env(
            work, work / "landing", lake, CORES, args.driver_memory, jit_tiers=True
        )
        spark = get_spark(settings, app_name="retailmax-bench-layout")
        print(
            f"sales lines: {args.stores} stores x {args.lines} lines x {args.days} days, "
            f"shards of {args.per_shard} stores, local[{CORES}]"
        )
        for name in LAYOUTS:
            figures = measure(spark, name, str(lake), args)
            print(f"  {name} partitions:")
            print(
                f"    a shard's write (last day)   {figures['write']:6.2f} s, "
                f"{figures['files']:.0f} files"
            )
            print(
                f"    re-run of one shard          {figures['rerun']:6.2f} s, "
                f"rows of the day unchanged: {figures['rerun_same']}"
            )
            print(
                f"    read of {args.days} days (units per store, SKU) {figures['read']:6.2f} s, "
                f"{figures['read_files']} files; DuckDB {figures['duckdb_read']:.2f} s "
                f"({figures['read'] / figures['duckdb_read']:.1f}x), same rows: "
                f"{figures['units_rows'] == figures['duckdb_units_rows']}"
            )
            print(
                f"    {len(figures['concurrent'])} shards at once: "
                f"{', '.join(figures['concurrent'])};"
                f" rows of the day {figures['concurrent_rows']:,} of {args.stores * args.lines:,}"
            )
        spark.stop()
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
