"""Job `sales`: POS files -> bronze, quarantine, silver sales lines, data-quality figures; gold.

`retailmax run sales --date D --stores 1-50` (or `--shard I/N`) processes those stores'
store-days; `retailmax run sales-gold --date D` then loads the day's online orders and
recomputes the gold tables for the date. `retailmax run sales --date D` alone does both.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.context import RunContext
from jobs.quality import StoreDayFigures, check_gate
from jobs.sales import extract, load, transforms
from jobs.sales.tables import (
    BRONZE_POS_LINES,
    DQ_RESULTS,
    GOLD_DAILY_SALES_SUMMARY,
    GOLD_DAILY_STORE_SALES,
    GOLD_DAILY_STORE_SKU_SALES,
    ONLINE_STORE_ID,
    QUARANTINE_SALES_LINES,
    SILVER_SALES_LINES,
)
from jobs.spark import get_spark

log = logging.getLogger(__name__)


def run(context: RunContext) -> dict[str, Any]:
    """Processes the run's store-days; for the whole date, the gold step too; then the gate."""
    spark = get_spark(context.settings, app_name=f"retailmax-sales-{context.run_date}")
    figures = run_store_days(spark, context)
    if context.is_whole_date:
        figures.update(run_gold(spark, context))
    quality = context.settings.quality
    check_gate(
        context.run_date,
        figures.pop("store_days"),
        figures["missing_stores"],
        quality.max_reject_rate,
        quality.max_missing_store_files,
    )
    return figures


def run_gold_step(context: RunContext) -> dict[str, Any]:
    """Job `sales-gold`: the day's online orders, then the gold tables for the date."""
    spark = get_spark(context.settings, app_name=f"retailmax-sales-gold-{context.run_date}")
    return run_gold(spark, context)


def run_store_days(spark: SparkSession, context: RunContext) -> dict[str, Any]:
    """bronze, quarantine, silver and dq_results for the run's store-days, in that order."""
    settings, run_date = context.settings, context.run_date
    landing, lake = settings.landing_root, settings.lake_root
    stores_df = extract.extract_stores(spark, landing).cache()
    products_df = extract.extract_products(spark, landing).cache()
    known = [int(row.store_id) for row in stores_df.select("store_id").collect()]
    folders = extract.extract_store_folders(spark, landing, run_date)
    scope = context.scope(sorted(set(known) | set(folders)))
    log.info("sales %s: %s -> %d stores", run_date, context.describe_scope(), len(scope))

    started_at = context.started_at or datetime.now(UTC)
    # One shuffle: a store-day per task from here on. The files are parsed once; the broadcast
    # joins, the key windows and the writes all keep this clustering, so no more data moves.
    # By store_id alone: sale_date is the run's date, a literal, and a partitioning on a
    # literal satisfies no later window or aggregate, so Spark would shuffle the lines again.
    raw_df = (
        extract.extract_pos_lines(spark, landing, run_date, [s for s in scope if s in folders])
        .repartition("store_id")
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    bronze_df = raw_df.withColumn("ingested_at", F.lit(started_at.replace(tzinfo=None)))
    load.load_store_days(spark, bronze_df, BRONZE_POS_LINES, lake, run_date, scope)

    checked_df = raw_df.transform(transforms.with_rule_violations, stores_df, products_df).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    quarantined_df = transforms.filter_quarantined(checked_df)
    load.load_store_days(spark, quarantined_df, QUARANTINE_SALES_LINES, lake, run_date, scope)
    deduped_df = (
        transforms.filter_valid(checked_df)
        .transform(transforms.dedupe_lines)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    silver_df = deduped_df.transform(transforms.to_store_sales_lines)
    load.load_store_days(spark, silver_df, SILVER_SALES_LINES, lake, run_date, scope)

    figures_df = transforms.store_day_figures(checked_df, deduped_df).cache()
    expected_df = stores_df.where(F.col("store_id").isin(scope))
    missing_df = transforms.missing_store_metrics(expected_df, figures_df, run_date)
    dq_df = (
        transforms.figures_to_metrics(figures_df)
        .unionByName(transforms.rule_counts(quarantined_df))
        .unionByName(missing_df)
        .withColumn("job", F.lit("sales"))
    )
    load.load_store_days(spark, dq_df, DQ_RESULTS, lake, run_date, scope)

    rows = figures_df.collect()
    missing = sorted(int(row.store_id) for row in missing_df.select("store_id").collect())
    for cached in (raw_df, checked_df, deduped_df, figures_df, stores_df, products_df):
        cached.unpersist()
    totals = {
        name: sum(int(row[name]) for row in rows)
        for name in ("input_lines", "valid_distinct", "quarantined", "duplicates", "superseded")
    }
    return {
        "stores": len(scope),
        **totals,
        "missing_stores": missing,
        "store_days": [
            StoreDayFigures(int(r.store_id), int(r.input_lines), int(r.quarantined)) for r in rows
        ],
    }


def run_gold(spark: SparkSession, context: RunContext) -> dict[str, Any]:
    """Online orders of the date into silver, then the three gold tables from silver for the
    date."""
    settings, run_date = context.settings, context.run_date
    landing, lake = settings.landing_root, settings.lake_root
    orders_df = (
        extract.extract_online_orders(spark, landing, run_date)
        .transform(transforms.with_order_rules)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    online_df = orders_df.transform(transforms.to_online_sales_lines, run_date)
    online_quarantine_df = orders_df.transform(transforms.to_online_quarantine, run_date)
    for spec, frame in (
        (SILVER_SALES_LINES, online_df),
        (QUARANTINE_SALES_LINES, online_quarantine_df),
    ):
        load.load_store_days(spark, frame, spec, lake, run_date, [ONLINE_STORE_ID])
    orders_quarantined = online_quarantine_df.count()
    orders_df.unpersist()
    stores_df = extract.extract_stores(spark, landing)
    products_df = extract.extract_products(spark, landing)
    # The date's lines are read from silver once, with only the columns the gold tables use:
    # three aggregations and the online count share them.
    day_df = (
        spark.read.format("delta")
        .load(SILVER_SALES_LINES.path(lake))
        .where(F.col("sale_date") == F.lit(run_date))
        .select(*transforms.GOLD_INPUT_COLUMNS)
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    store_sales_df = transforms.daily_store_sales(day_df).cache()
    gold = [
        (GOLD_DAILY_STORE_SALES, store_sales_df),
        (GOLD_DAILY_SALES_SUMMARY, transforms.daily_sales_summary(day_df, stores_df, products_df)),
        (GOLD_DAILY_STORE_SKU_SALES, transforms.daily_store_sku_sales(day_df)),
    ]
    load.load_gold(spark, gold, lake, run_date)
    stores_with_sales = store_sales_df.count()
    online_lines = day_df.where(F.col("store_id") == ONLINE_STORE_ID).count()
    for cached in (store_sales_df, day_df):
        cached.unpersist()
    return {
        "gold_store_days": stores_with_sales,
        "online_lines": online_lines,
        "orders_quarantined": orders_quarantined,
    }
