"""Benchmark of the inventory job: one 15-minute batch, and the levels MERGE at 1x and 10x.

    .venv/bin/python -m benchmarks.inventory --stores 500 --skus 20000

Setup (not timed, Spark on local[2]): reference files for the stores, one web warehouse and the
SKUs; `silver.stock_levels` with every store x SKU (1x: stores x skus rows, one file per
location, as the job lays it out); the WMS files of the day up to 10:15, the batches before
10:00 already in the ledger.

Timed:
1. `retailmax run inventory --date D --since 10:00 --until 10:15` in a child process on
   local[2] (JVM start included): ledger, levels, availability and feed — and the same
   command again (a re-run: nothing to commit).
2. The local backend's steady state, on a copy of the lake whose ledger stops at 09:45:
   inventory_sync runs every 15 minutes, within the warm driver's `warm_idle_minutes`, so
   each batch runs in the driver the one before it used. The 09:45-10:00 batch starts a warm
   driver (jobs.warm_driver, as the local operator does), then 10:00-10:15 runs in it.
3. The levels MERGE alone (jobs.inventory.load.load_levels) of the batch's keys into the 1x
   table and into a 10x table (ten times the locations, same batch), with the files and rows
   it rewrote from the Delta history. The peer, DuckDB (2 threads), does the same copy-on-write
   by hand: it reads the touched locations' current Parquet files (listed by deltalake), applies
   the batch's balances and writes the rewritten partitions — without a transaction log.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from benchmarks.common import local_env, retailmax_command, run_measured, run_warm

DAY = date(2024, 3, 5)
CORES = 2
BATCH_START = datetime(2024, 3, 5, 10, 0, tzinfo=UTC)
BATCH = timedelta(minutes=15)
WMS_TYPES = np.array(["RECEIPT", "ADJUSTMENT", "TRANSFER_IN", "TRANSFER_OUT"])
SIGNS = np.array([1, -1, 1, -1])

DUCKDB_REWRITE = """
COPY (
  SELECT l.location_id, l.sku,
         coalesce(c.on_hand, l.on_hand) AS on_hand,
         coalesce(c.last_movement_ts, l.last_movement_ts) AS last_movement_ts,
         coalesce(c.count_on_hand, l.count_on_hand) AS count_on_hand,
         coalesce(c.last_count_ts, l.last_count_ts) AS last_count_ts,
         CASE WHEN c.sku IS NULL THEN l.updated_at ELSE now()::TIMESTAMP END AS updated_at
  FROM read_parquet($files, hive_partitioning = true) l
  LEFT JOIN read_parquet($changes) c USING (location_id, sku)
) TO '{target}' (FORMAT parquet, PARTITION_BY (location_id))
"""


def write_reference(landing: Path, stores: int, skus: int) -> None:
    """stores.csv, warehouses.csv (WH-01 serves the web shop) and products.csv."""
    reference = landing / "reference"
    reference.mkdir(parents=True)
    store_rows = "".join(
        f"{s},Store {s},R{s % 8},C,SUPER,2001-01-01\n" for s in range(1, stores + 1)
    )
    (reference / "stores.csv").write_text(
        "store_id,store_name,region,city,format,opened_on\n" + store_rows
    )
    (reference / "warehouses.csv").write_text(
        "location_id,warehouse_name,region,city,serves_ecommerce\nWH-01,DC,R1,C,true\n"
    )
    product_rows = "".join(
        f"SKU{i:06d},P{i},{'Fresh' if i % 5 == 0 else 'Food'},F,B,1.00,2.00,true\n"
        for i in range(1, skus + 1)
    )
    (reference / "products.csv").write_text(
        "sku,product_name,category,subcategory,brand,unit_cost,list_price,active\n" + product_rows
    )


def write_wms_batch(
    folder: Path, number: int, start: datetime, movements: int, stores: int, skus: int
) -> None:
    """One 15-minute WMS file: random store x SKU movements, unique ids, signed quantities."""
    rng = np.random.default_rng(number)
    kinds = rng.integers(0, len(WMS_TYPES), movements)
    seconds = np.sort(rng.integers(0, int(BATCH.total_seconds()), movements))
    stamps = np.datetime64(start.replace(tzinfo=None), "s") + seconds.astype("timedelta64[s]")
    store_ids = rng.integers(1, stores + 1, movements).astype(str)
    sku_numbers = np.char.zfill(rng.integers(1, skus + 1, movements).astype(str), 6)
    table = pa.table(
        {
            "movement_id": [f"B{number:03d}-{i:07d}" for i in range(movements)],
            "movement_type": WMS_TYPES[kinds],
            "movement_ts": [f"{t}+00:00" for t in stamps.astype(str)],
            "location_id": np.char.add("STORE-", store_ids),
            "sku": np.char.add("SKU", sku_numbers),
            "quantity": SIGNS[kinds] * rng.integers(1, 6, movements),
            "transfer_id": pa.nulls(movements, pa.string()),
            "reason_code": pa.nulls(movements, pa.string()),
            "reference": pa.nulls(movements, pa.string()),
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    pa_csv.write_csv(table, folder / f"movements_{number:03d}.csv")


def build_levels(spark: Any, lake: Path, locations: int, skus: int) -> int:
    """silver.stock_levels with STORE-1..STORE-n x SKU000001.. at 50 units, plus WH-01."""
    from pyspark.sql import functions as F

    from jobs.inventory.tables import STOCK_LEVELS
    from jobs.lake import ensure_table

    opening = datetime(2024, 3, 5, 0, 0)
    location = F.when(F.col("id") < locations, F.concat(F.lit("STORE-"), F.col("id") + 1))
    rows_df = (
        spark.range(0, locations + 1, numPartitions=max(2, (locations + 1) // 50))
        .select(
            F.coalesce(location, F.lit("WH-01")).alias("location_id"),
            F.explode(F.sequence(F.lit(1), F.lit(skus))).alias("i"),
        )
        .select(
            "location_id",
            F.format_string("SKU%06d", "i").alias("sku"),
            F.lit(50).cast("long").alias("on_hand"),
            F.lit(opening).alias("last_movement_ts"),
            F.lit(50).cast("long").alias("count_on_hand"),
            F.lit(opening).alias("last_count_ts"),
            F.lit(opening).alias("updated_at"),
        )
    )
    ensure_table(spark, STOCK_LEVELS, str(lake))
    rows_df.write.format("delta").mode("append").save(STOCK_LEVELS.path(str(lake)))
    return (locations + 1) * skus


def ledger_earlier_batches(spark: Any, landing: Path, lake: Path, until: datetime) -> int:
    """Puts the day's WMS movements before `until` into the ledger (the earlier batches)."""
    from pyspark.sql import functions as F

    from jobs.inventory import extract, transforms
    from jobs.inventory.tables import STOCK_MOVEMENTS
    from jobs.lake import ensure_table

    ledger_df = (
        transforms.wms_to_ledger(extract.extract_wms_movements(spark, str(landing), DAY), DAY)
        .where(F.col("movement_ts") < F.lit(until))
        .drop(*transforms.READ_COLUMNS)
    )
    ensure_table(spark, STOCK_MOVEMENTS, str(lake))
    ledger_df.write.format("delta").mode("append").save(STOCK_MOVEMENTS.path(str(lake)))
    return int(spark.read.format("delta").load(STOCK_MOVEMENTS.path(str(lake))).count())


def time_warm_batches(settings: Any, work: Path, lake: Path) -> tuple[float, float]:
    """(the 09:45-10:00 batch in a new warm driver, JVM start included; the 10:00-10:15 batch
    in the same driver), each run sent by the client the local operator calls."""
    import os
    from unittest import mock

    from jobs.warm_driver import stop_all

    overrides = {
        "RETAILMAX_CONF_DIR": str(work / "conf"),
        "RETAILMAX_LAKE_ROOT": str(lake),
        "RETAILMAX_WARM_DIR": str(work / "warm"),
    }
    seconds = []
    with mock.patch.dict(os.environ, overrides):  # the runs' variables, forwarded by the client
        try:
            for start in (BATCH_START - BATCH, BATCH_START):
                window = ["--since", start.isoformat(), "--until", (start + BATCH).isoformat()]
                arguments = ["run", "inventory", "--date", DAY.isoformat(), *window]
                seconds.append(run_warm(arguments, settings)["wall"])
        finally:
            stop_all(work / "warm")
    return seconds[0], seconds[1]


def batch_changes(spark: Any, landing: Path, work: Path) -> tuple[Any, list[str], int]:
    """The measured batch's keys with a new balance, as load_levels receives them; also saved
    as Parquet for DuckDB."""
    from pyspark.sql import functions as F

    from jobs.inventory import extract, transforms

    batch_df = (
        transforms.wms_to_ledger(extract.extract_wms_movements(spark, str(landing), DAY), DAY)
        .transform(transforms.filter_window, BATCH_START, BATCH_START + BATCH)
        .groupBy("location_id", "sku")
        .agg(F.sum("quantity").alias("change"), F.max("movement_ts").alias("last_movement_ts"))
    )
    opening = datetime(2024, 3, 5, 0, 0)
    changes_df = batch_df.select(
        "location_id",
        "sku",
        (F.lit(50) + F.col("change")).cast("long").alias("on_hand"),
        "last_movement_ts",
        F.lit(50).cast("long").alias("count_on_hand"),
        F.lit(opening).alias("last_count_ts"),
    )
    path = work / "changes.parquet"
    changes_df.coalesce(1).write.mode("overwrite").parquet(str(path))
    changes_df = spark.read.parquet(str(path)).cache()
    keys = changes_df.count()
    locations = sorted(r[0] for r in changes_df.select("location_id").distinct().collect())
    return changes_df, locations, keys


def time_spark_merge(spark: Any, changes_df: Any, lake: Path, locations: list[str]) -> dict:
    """load_levels of the batch; its wall time and what the Delta history says it rewrote."""
    from deltalake import DeltaTable

    from jobs.inventory import load
    from jobs.inventory.tables import STOCK_LEVELS

    started = time.perf_counter()
    # Every key of the batch is in the table (all stores x SKUs), so the job's batch runs the
    # update-only MERGE (apply_batch: no new keys); the same here.
    load.load_levels(
        spark,
        changes_df,
        str(lake),
        locations,
        datetime(2024, 3, 5, 10, 15),
        new_keys=False,
    )
    seconds = time.perf_counter() - started
    metrics = DeltaTable(STOCK_LEVELS.path(str(lake))).history(1)[0]["operationMetrics"]
    return {
        "seconds": seconds,
        "files_removed": int(metrics["numTargetFilesRemoved"]),
        "rows_updated": int(metrics["numTargetRowsUpdated"]),
        "rows_copied": int(metrics["numTargetRowsCopied"]),
    }


def time_duckdb_rewrite(lake: Path, work: Path, locations: list[str], name: str) -> float:
    """DuckDB's copy-on-write of the touched locations' current files."""
    import duckdb
    from deltalake import DeltaTable

    from jobs.inventory.tables import STOCK_LEVELS

    touched = {f"location_id={loc}" for loc in locations}
    files = [
        uri
        for uri in DeltaTable(STOCK_LEVELS.path(str(lake))).file_uris()
        if uri.rsplit("/", 2)[-2] in touched
    ]
    connection = duckdb.connect()
    connection.execute(f"SET threads TO {CORES}")
    started = time.perf_counter()
    connection.execute(
        DUCKDB_REWRITE.format(target=work / f"duckdb_{name}"),
        {"files": files, "changes": str(work / "changes.parquet" / "*.parquet")},
    )
    return time.perf_counter() - started


def main() -> int:
    """Prints the figures of one run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--skus", type=int, default=20_000)
    parser.add_argument(
        "--batch-movements",
        type=int,
        default=160_000,
        help="movements in the 15 minutes (default: 500 stores' POS volume at peak)",
    )
    parser.add_argument("--earlier-batches", type=int, default=8)
    parser.add_argument("--scale", type=int, default=10, help="the larger table, in x")
    parser.add_argument("--driver-memory", default="6g")
    args = parser.parse_args()

    from jobs.spark import get_spark

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-inventory-"))
    try:
        landing, lake, lake_10x = work / "landing", work / "lake", work / "lake_10x"
        write_reference(landing, args.stores, args.skus)
        folder = landing / "warehouse" / "movements" / f"movement_date={DAY}"
        first = BATCH_START - args.earlier_batches * BATCH
        for number in range(args.earlier_batches + 1):
            write_wms_batch(
                folder, number, first + number * BATCH, args.batch_movements, args.stores, args.skus
            )
        env, settings = local_env(work, landing, lake, CORES, args.driver_memory, jit_tiers=True)
        spark = get_spark(settings, app_name="retailmax-bench-inventory")
        started = time.perf_counter()
        rows_1x = build_levels(spark, lake, args.stores, args.skus)
        lake_warm = work / "lake_warm"
        shutil.copytree(lake, lake_warm)
        ledger_rows = ledger_earlier_batches(spark, landing, lake, BATCH_START)
        ledger_earlier_batches(spark, landing, lake_warm, BATCH_START - BATCH)
        setup_1x = time.perf_counter() - started

        command = retailmax_command(
            "run",
            "inventory",
            "--date",
            DAY.isoformat(),
            "--since",
            BATCH_START.isoformat(),
            "--until",
            (BATCH_START + BATCH).isoformat(),
        )
        batch_s, batch_mib = run_measured(command, env, "inventory batch")
        rerun_s, _ = run_measured(command, env, "inventory batch re-run")
        warm_first_s, warm_next_s = time_warm_batches(settings, work, lake_warm)

        changes_df, locations, keys = batch_changes(spark, landing, work)
        duck_1x = time_duckdb_rewrite(lake, work, locations, "1x")
        merge_1x = time_spark_merge(spark, changes_df, lake, locations)
        started = time.perf_counter()
        rows_10x = build_levels(spark, lake_10x, args.stores * args.scale, args.skus)
        setup_10x = time.perf_counter() - started
        duck_10x = time_duckdb_rewrite(lake_10x, work, locations, "10x")
        merge_10x = time_spark_merge(spark, changes_df, lake_10x, locations)
        spark.stop()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    import duckdb

    print(f"inventory, {args.stores} stores x {args.skus:,} SKUs, local[{CORES}]")
    print(f"  stock_levels rows (1x)        {rows_1x:>14,}   (setup {setup_1x:.0f} s)")
    print(f"  ledger rows before the batch  {ledger_rows:>14,}")
    print(f"  movements in the batch        {args.batch_movements:>14,}")
    print("one 15-minute batch: retailmax run inventory --since 10:00 --until 10:15")
    print(f"  wall time (JVM start incl.)   {batch_s:>14.1f} s")
    print(f"  peak RSS (process tree)       {batch_mib:>14,} MiB")
    print(f"  re-run of the same batch      {rerun_s:>14.1f} s")
    print("the local backend's steady state: each batch in the warm driver the one before used")
    print(f"  09:45-10:00, a new driver     {warm_first_s:>14.1f} s   (JVM start incl.)")
    print(f"  10:00-10:15, the same driver  {warm_next_s:>14.1f} s")
    print(f"levels MERGE of the batch: {keys:,} keys in {len(locations)} locations")
    for label, rows, merge, duck in (
        ("1x ", rows_1x, merge_1x, duck_1x),
        (f"{args.scale}x", rows_10x, merge_10x, duck_10x),
    ):
        print(
            f"  {label} table {rows:>12,} rows: MERGE {merge['seconds']:6.1f} s "
            f"(files rewritten {merge['files_removed']}, rows updated {merge['rows_updated']:,}, "
            f"copied {merge['rows_copied']:,}); DuckDB {duckdb.__version__} copy-on-write "
            f"{duck:5.1f} s; ratio {merge['seconds'] / duck:.1f}x"
        )
    print(f"  ({args.scale}x table setup {setup_10x:.0f} s, not timed in the MERGE)")
    flat = merge_10x["seconds"] / merge_1x["seconds"]
    print(f"MERGE time {args.scale}x / 1x: {flat:.2f} (flat = 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
