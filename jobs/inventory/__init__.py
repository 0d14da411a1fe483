"""Job `inventory`: every stock movement once into the ledger, then stock per location and SKU.

A run takes one date's movements — POS sales and returns (silver.sales_lines), online
shipments (the order export), warehouse movements and an opening snapshot — optionally only
those with `--since <= movement_ts < --until` (the intraday batches), quarantines the ones
with an unknown SKU or location, appends the others to `silver.stock_movements` (insert-only
on movement_key) and MERGEs the new balances of the touched keys into `silver.stock_levels`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.context import RunContext
from jobs.inventory import extract, load, transforms
from jobs.inventory.tables import QUARANTINE_STOCK_MOVEMENTS, STOCK_LEVELS, STOCK_MOVEMENTS
from jobs.spark import get_spark

log = logging.getLogger(__name__)

# What a batch computes per key; updated_at only records when one of these changed.
LEVEL_COLUMNS = (
    "location_id",
    "sku",
    "on_hand",
    "last_movement_ts",
    "count_on_hand",
    "last_count_ts",
)


def extract_batch(spark: SparkSession, context: RunContext) -> DataFrame:
    """The run's movements from every source, as ledger rows, within the run's window."""
    settings, day = context.settings, context.run_date
    landing, lake = settings.landing_root, settings.lake_root
    batch_df = (
        transforms.wms_to_ledger(extract.extract_wms_movements(spark, landing, day))
        .unionByName(transforms.pos_to_ledger(extract.extract_store_sales(spark, lake, day)))
        .unionByName(transforms.shipments_to_ledger(extract.extract_orders(spark, landing, day)))
        .unionByName(
            transforms.opening_to_ledger(extract.extract_opening_stock(spark, landing, day), day)
        )
    )
    return batch_df.transform(transforms.filter_window, context.since, context.until)


def _state_counts(
    spark: SparkSession, lake: str, keys_df: DataFrame, locations: list[str]
) -> DataFrame:
    """The current levels of the batch's keys (their latest count is where the replay starts)."""
    from delta.tables import DeltaTable

    path = STOCK_LEVELS.path(lake)
    if not DeltaTable.isDeltaTable(spark, path):
        return spark.createDataFrame([], STOCK_LEVELS.schema).select(*LEVEL_COLUMNS)
    return (
        spark.read.format("delta")
        .load(path)
        .where(F.col("location_id").isin(locations))
        .join(keys_df, ["location_id", "sku"], "left_semi")
        .select(*LEVEL_COLUMNS)
    )


def apply_batch(spark: SparkSession, context: RunContext, batch_df: DataFrame) -> dict[str, Any]:
    """Quarantine, ledger, levels: each step idempotent, so a re-run or a crash re-run is safe."""
    settings = context.settings
    landing, lake = settings.landing_root, settings.lake_root
    checked_df = (
        batch_df.transform(transforms.dedupe_movements)
        .transform(
            transforms.with_movement_violations,
            extract.extract_locations(spark, landing),
            extract.extract_skus(spark, landing),
        )
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    valid_df = checked_df.where(F.size("rules") == 0).drop("rules")
    quarantined_df = checked_df.where(F.size("rules") > 0)
    dates = sorted(
        row.movement_date for row in checked_df.select("movement_date").distinct().collect()
    )
    load.append_movements(spark, quarantined_df, QUARANTINE_STOCK_MOVEMENTS, lake, dates)
    load.append_movements(spark, valid_df, STOCK_MOVEMENTS, lake, dates)

    keys_df = valid_df.select("location_id", "sku").distinct().persist()
    locations = sorted(
        row.location_id for row in keys_df.select("location_id").distinct().collect()
    )
    figures: dict[str, Any] = {
        "movements": checked_df.count(),
        "quarantined": quarantined_df.count(),
        "keys": keys_df.count(),
        "locations": len(locations),
    }
    if locations:
        state_df = _state_counts(spark, lake, keys_df, locations).persist()
        oldest_count = state_df.select(F.to_date(F.min("last_count_ts"))).first()
        count_dates = [oldest_count[0]] if oldest_count and oldest_count[0] else []
        since_date: date = min([*dates, *count_dates])
        ledger_df = (
            spark.read.format("delta")
            .load(STOCK_MOVEMENTS.path(lake))
            .where(F.col("movement_date") >= F.lit(since_date))
            .where(F.col("location_id").isin(locations))
            .join(keys_df, ["location_id", "sku"], "left_semi")
        )
        # Keys whose balance is what the table already holds are left out: a re-run of a
        # batch commits nothing to the levels.
        changed_df = (
            transforms.stock_levels(ledger_df, state_df)
            .select(*LEVEL_COLUMNS)
            .exceptAll(state_df)
            .persist()
        )
        figures["keys_changed"] = changed_df.count()
        if figures["keys_changed"]:
            changed_locations = sorted(
                row[0] for row in changed_df.select("location_id").distinct().collect()
            )
            updated_at = context.started_at or datetime.now(UTC)
            load.merge_levels(spark, changed_df, STOCK_LEVELS, lake, changed_locations, updated_at)
        changed_df.unpersist()
        state_df.unpersist()
    keys_df.unpersist()
    checked_df.unpersist()
    return figures


def run(context: RunContext) -> dict[str, Any]:
    """One batch: the date's movements, or those of the --since/--until window."""
    spark = get_spark(context.settings, app_name=f"retailmax-inventory-{context.run_date}")
    figures = apply_batch(spark, context, extract_batch(spark, context))
    log.info("inventory %s: %s", context.run_date, figures)
    return figures
