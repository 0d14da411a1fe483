"""Benchmark of the promotions job's heavy step: gold.product_velocity over 28 days of sales.

    .venv/bin/python -m benchmarks.promotions --stores 100 --skus 5000 --lines 2000

Setup (not timed, Spark on local[2]): `silver.sales_lines` with `--lines` store lines per
store-day for 28 days (one file per store-day, partitioned by sale_date and store_id as the
sales job writes it; SKUs drawn with a skew, a few returns), `gold.daily_store_sku_sales` of
the 27 days before the date as sales-gold wrote it on each of them, `silver.stock_levels`
with a quarter of the SKUs in every store, and the reference files.

Timed:
1. Spark (local[2], in this process), what the pipeline adds for the date: sales-gold's
   gold.daily_store_sku_sales of the date from its lines, then the velocity step: the 28
   days of that table, units per store and SKU, the stock, the region and chain levels,
   ratios and category ranks, and the replaceWhere write of the date
   (`extract_daily_units`, `transforms.product_velocity`, `load.load_date`).
2. The peer, DuckDB (2 threads): the same velocity rows in one SQL statement over the 28
   days of sales lines (the same Parquet files, listed by deltalake), written as one Parquet
   file with no transaction log; then the same statement over the 28 days of
   gold.daily_store_sku_sales, for the ratio on equal inputs.
The row counts are printed; they must be equal.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import local_env, sales_lines_frame

DAY = date(2024, 3, 28)
CORES = 2
DAYS = 28
CATEGORIES = ("Grocery", "Fresh", "Beverages", "Household", "Textile", "Home", "Toys", "Beauty")
REGIONS = ("North", "South", "East", "West", "Centre")

# Units per store and SKU, from the sales lines or from gold.daily_store_sku_sales.
DUCKDB_UNITS_OF_LINES = "quantity"
DUCKDB_UNITS_OF_DAILY = "units_sold"
DUCKDB_VELOCITY = """
COPY (
WITH units AS (
  SELECT store_id, sku,
         sum({units}) FILTER (WHERE sale_date >= DATE '{recent}') AS units_7d,
         sum({units}) AS units_28d
  FROM read_parquet($source, hive_partitioning = true)
  WHERE channel = 'STORE' AND {units} > 0 AND sale_date BETWEEN DATE '{first}' AND DATE '{day}'
  GROUP BY store_id, sku
), stock AS (
  SELECT CAST(substr(location_id, 7) AS INTEGER) AS store_id, sku, on_hand
  FROM read_parquet($stock, hive_partitioning = true)
  WHERE location_id LIKE 'STORE-%' AND on_hand <> 0
), per_store AS (
  SELECT coalesce(u.store_id, s.store_id) AS store_id, coalesce(u.sku, s.sku) AS sku,
         coalesce(u.units_7d, 0) AS units_7d, coalesce(u.units_28d, 0) AS units_28d,
         coalesce(s.on_hand, 0) AS on_hand
  FROM units u FULL OUTER JOIN stock s ON u.store_id = s.store_id AND u.sku = s.sku
), labelled AS (
  SELECT p.*, r.region, c.category
  FROM per_store p JOIN read_csv($stores) r USING (store_id) JOIN read_csv($products) c USING (sku)
), levels AS (
  SELECT 'STORE' AS level, region, store_id, sku, category, units_7d, units_28d, on_hand
  FROM labelled
  UNION ALL
  SELECT 'REGION', region, NULL, sku, category, sum(units_7d), sum(units_28d), sum(on_hand)
  FROM labelled GROUP BY region, sku, category
  UNION ALL
  SELECT 'CHAIN', NULL, NULL, sku, category, sum(units_7d), sum(units_28d), sum(on_hand)
  FROM labelled GROUP BY sku, category
)
SELECT *,
       CASE WHEN units_28d + greatest(on_hand, 0) > 0
            THEN round(units_28d / (units_28d + greatest(on_hand, 0)), 4) END AS sell_through,
       CASE WHEN units_28d > 0 THEN round(greatest(on_hand, 0) * 28 / units_28d, 1) END
         AS stock_cover_days,
       rank() OVER w AS category_rank,
       count(*) OVER (PARTITION BY level, region, store_id, category) AS category_skus,
       units_28d > 0 AND rank() OVER w
         <= ceil(count(*) OVER (PARTITION BY level, region, store_id, category) / 10)
         AS fast_mover
FROM levels
WINDOW w AS (PARTITION BY level, region, store_id, category ORDER BY units_28d DESC)
) TO '{target}' (FORMAT parquet)
"""


def write_reference(landing: Path, stores: int, skus: int) -> None:
    """stores.csv and products.csv."""
    folder = landing / "reference"
    folder.mkdir(parents=True)
    store_rows = [
        f"{s},Store {s},{REGIONS[s % len(REGIONS)]},City {s},SUPER,2010-01-01"
        for s in range(1, stores + 1)
    ]
    (folder / "stores.csv").write_text(
        "store_id,store_name,region,city,format,opened_on\n" + "\n".join(store_rows) + "\n"
    )
    product_rows = [
        f"SKU{k:06d},Product {k},{CATEGORIES[k % len(CATEGORIES)]},Sub,Brand,2.00,5.00,true"
        for k in range(skus)
    ]
    (folder / "products.csv").write_text(
        "sku,product_name,category,subcategory,brand,unit_cost,list_price,active\n"
        + "\n".join(product_rows)
        + "\n"
    )


def build_lake(spark: object, lake: Path, stores: int, skus: int, lines: int) -> int:
    """silver.sales_lines (28 days), gold.daily_store_sku_sales (the 27 days before DAY) and
    silver.stock_levels; returns the sales line count."""
    from pyspark.sql import functions as F

    from jobs.inventory.tables import STOCK_LEVELS
    from jobs.lake import ensure_table, replace_where
    from jobs.sales.tables import GOLD_DAILY_STORE_SKU_SALES, SILVER_SALES_LINES
    from jobs.sales.transforms import daily_store_sku_sales

    session = spark  # a SparkSession
    total = stores * DAYS * lines
    lines_df = sales_lines_frame(session, DAY, DAYS, range(1, stores + 1), lines, skus)
    ensure_table(session, SILVER_SALES_LINES, str(lake))  # type: ignore[arg-type]
    (
        lines_df.repartition("sale_date", "store_id")
        .write.format("delta")
        .mode("append")
        .save(SILVER_SALES_LINES.path(str(lake)))
    )
    before = (
        session.read.format("delta")  # type: ignore[attr-defined]
        .load(SILVER_SALES_LINES.path(str(lake)))
        .where(F.col("sale_date") < F.lit(DAY))
    )
    ensure_table(session, GOLD_DAILY_STORE_SKU_SALES, str(lake))  # type: ignore[arg-type]
    replace_where(
        daily_store_sku_sales(before),
        GOLD_DAILY_STORE_SKU_SALES,
        str(lake),
        f"sale_date < '{DAY.isoformat()}'",
    )
    stock_df = session.range(0, stores * (skus // 4), numPartitions=4).select(  # type: ignore[attr-defined]
        F.format_string("STORE-%d", (F.col("id") % stores + 1).cast("int")).alias("location_id"),
        F.format_string("SKU%06d", (F.floor(F.col("id") / stores) * 4).cast("int")).alias("sku"),
        (F.col("id") % 40).cast("long").alias("on_hand"),
        F.current_timestamp().alias("last_movement_ts"),
        F.lit(None).cast("long").alias("count_on_hand"),
        F.lit(None).cast("timestamp").alias("last_count_ts"),
        F.current_timestamp().alias("updated_at"),
    )
    ensure_table(session, STOCK_LEVELS, str(lake))  # type: ignore[arg-type]
    (
        stock_df.repartition("location_id")
        .write.format("delta")
        .mode("append")
        .save(STOCK_LEVELS.path(str(lake)))
    )
    return total


def duckdb_velocity(work: Path, units: str, files: dict[str, Any]) -> tuple[float, int]:
    """(seconds, rows) of DuckDB's velocity statement, units from `units` of files["source"]."""
    import duckdb

    from jobs.promotions.transforms import RECENT_DAYS, VELOCITY_DAYS, window_start

    connection = duckdb.connect()
    connection.execute(f"SET threads TO {CORES}")
    target = work / f"duckdb_velocity_{units}.parquet"
    sql = DUCKDB_VELOCITY.format(
        units=units,
        recent=window_start(DAY, RECENT_DAYS),
        first=window_start(DAY, VELOCITY_DAYS),
        day=DAY,
        target=target,
    )
    started = time.perf_counter()
    connection.execute(sql, files)
    seconds = time.perf_counter() - started
    result = connection.execute(f"SELECT count(*) FROM read_parquet('{target}')").fetchone()
    return seconds, int(result[0]) if result else -1


def main() -> int:
    """Prints the figures of one run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=100)
    parser.add_argument("--skus", type=int, default=5000)
    parser.add_argument("--lines", type=int, default=2000, help="store lines per store-day")
    parser.add_argument("--driver-memory", default="8g")
    args = parser.parse_args()

    from deltalake import DeltaTable
    from pyspark.sql import functions as F

    from jobs.inventory.tables import STOCK_LEVELS
    from jobs.promotions import transforms
    from jobs.promotions.extract import extract_daily_units, extract_stock_levels
    from jobs.promotions.load import load_date
    from jobs.promotions.tables import PRODUCT_VELOCITY
    from jobs.sales.extract import extract_products, extract_stores
    from jobs.sales.load import load_gold
    from jobs.sales.tables import GOLD_DAILY_STORE_SKU_SALES, SILVER_SALES_LINES
    from jobs.sales.transforms import daily_store_sku_sales
    from jobs.spark import get_spark

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-promotions-"))
    try:
        landing, lake = work / "landing", work / "lake"
        _, settings = local_env(work, landing, lake, CORES, args.driver_memory, jit_tiers=True)
        spark = get_spark(settings, app_name="retailmax-bench-promotions")
        started = time.perf_counter()
        write_reference(landing, args.stores, args.skus)
        total = build_lake(spark, lake, args.stores, args.skus, args.lines)
        setup = time.perf_counter() - started

        started = time.perf_counter()
        day_df = (
            spark.read.format("delta")
            .load(SILVER_SALES_LINES.path(str(lake)))
            .where(F.col("sale_date") == F.lit(DAY))
        )
        load_gold(
            spark, [(GOLD_DAILY_STORE_SKU_SALES, daily_store_sku_sales(day_df))], str(lake), DAY
        )
        daily_seconds = time.perf_counter() - started
        started = time.perf_counter()
        velocity_df = load_date(
            spark,
            transforms.product_velocity(
                transforms.store_units(extract_daily_units(spark, str(lake), DAY), DAY),
                transforms.store_stock(extract_stock_levels(spark, str(lake))),
                extract_stores(spark, str(landing)),
                extract_products(spark, str(landing)),
                DAY,
            ),
            PRODUCT_VELOCITY,
            str(lake),
            DAY,
        )
        velocity_seconds = time.perf_counter() - started
        spark_seconds = daily_seconds + velocity_seconds
        spark_rows = velocity_df.count()
        spark.stop()

        files = {
            "stock": DeltaTable(STOCK_LEVELS.path(str(lake))).file_uris(),
            "stores": str(landing / "reference" / "stores.csv"),
            "products": str(landing / "reference" / "products.csv"),
        }
        lines_seconds, lines_rows = duckdb_velocity(
            work,
            DUCKDB_UNITS_OF_LINES,
            {"source": DeltaTable(SILVER_SALES_LINES.path(str(lake))).file_uris(), **files},
        )
        daily_table = DeltaTable(GOLD_DAILY_STORE_SKU_SALES.path(str(lake)))
        daily_duck_seconds, daily_rows = duckdb_velocity(
            work, DUCKDB_UNITS_OF_DAILY, {"source": daily_table.file_uris(), **files}
        )

        print(
            f"promotions velocity: {args.stores} stores x {DAYS} days x {args.lines} lines "
            f"= {total:,} sales lines, {args.skus:,} SKUs (setup {setup:.0f} s, not timed)"
        )
        print(
            f"  spark local[{CORES}]  {spark_seconds:7.1f} s  {spark_rows:,} velocity rows "
            f"(the date's daily_store_sku_sales {daily_seconds:.1f} s, "
            f"the velocity over 28 days of it {velocity_seconds:.1f} s)"
        )
        print(
            f"  duckdb {CORES} threads {lines_seconds:7.1f} s  {lines_rows:,} velocity rows "
            "(from the lines)"
        )
        print(
            f"  duckdb {CORES} threads {daily_duck_seconds:7.1f} s  {daily_rows:,} velocity rows "
            "(from daily_store_sku_sales)"
        )
        print(f"  ratio spark / duckdb over the lines: {spark_seconds / lines_seconds:.2f}")
        print(
            "  ratio spark's velocity step / duckdb over daily_store_sku_sales: "
            f"{velocity_seconds / daily_duck_seconds:.2f}"
        )
        return 0 if spark_rows == lines_rows == daily_rows else 1
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
