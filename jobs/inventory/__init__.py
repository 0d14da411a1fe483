"""Job `inventory`: every stock movement once into the ledger, then stock per location and SKU.

A run takes one date's movements — POS sales and returns (silver.sales_lines), online
shipments (the order export), warehouse movements and an opening snapshot — optionally only
those with `--since <= movement_ts < --until` (the intraday batches), quarantines the ones
with an unknown SKU or location, appends the others to `silver.stock_movements` (insert-only
on movement_key) and MERGEs the new balances of the touched keys into `silver.stock_levels`.

Every run then publishes `gold.ecommerce_availability` and its feed file. The daily run (no
--since/--until) first reconciles the day's keys (those the intraday batches applied and those
of its own batch) against a full replay of the ledger (`ops.stock_reconciliation`,
corrections merged), then applies its batch and raises `gold.replenishment_alerts`.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from functools import reduce
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.context import RunContext
from jobs.inventory import extract, load, outputs, transforms
from jobs.inventory.tables import (
    QUARANTINE_STOCK_MOVEMENTS,
    STOCK_LEVELS,
    STOCK_MOVEMENTS,
    STOCK_RECONCILIATION,
)
from jobs.lake import sql_literal
from jobs.spark import get_spark

log = logging.getLogger(__name__)


def source_dates(context: RunContext) -> list[date]:
    """The dates whose folders (and silver.sales_lines days) a run reads.

    Every date folder holds a local date (the offset written in the file's timestamps), so a
    daily run reads its date; a --since/--until window reads every date within a day of its
    UTC bounds, which covers any UTC offset (±14 h): a movement at 00:05 in Paris on D+1
    (23:05Z on D) sits in D+1's folder and belongs to D's last window."""
    if context.since is None and context.until is None:
        return [context.run_date]
    first = (context.since.date() if context.since else context.run_date) - timedelta(days=1)
    last = (context.until.date() if context.until else context.run_date) + timedelta(days=1)
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def extract_batch(spark: SparkSession, context: RunContext) -> DataFrame:
    """The run's movements from every source, as ledger rows, within the run's window."""
    settings = context.settings
    landing, lake = settings.landing_root, settings.lake_root
    frames = [
        transforms.wms_to_ledger(
            extract.extract_wms_movements(spark, landing, day).transform(
                transforms.wms_lines_in_window, context.since, context.until
            ),
            day,
        )
        .unionByName(transforms.pos_to_ledger(extract.extract_store_sales(spark, lake, day)))
        .unionByName(transforms.shipments_to_ledger(extract.extract_orders(spark, landing, day)))
        .unionByName(
            transforms.opening_to_ledger(extract.extract_opening_stock(spark, landing, day), day)
        )
        for day in source_dates(context)
    ]
    batch_df = reduce(DataFrame.unionByName, frames)
    return batch_df.transform(transforms.filter_window, context.since, context.until)


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
    valid_df = checked_df.where(F.size("rules") == 0).drop("rules", "raw_record")
    quarantined_df = checked_df.where(F.size("rules") > 0)
    dates = sorted(
        row.movement_date for row in checked_df.select("movement_date").distinct().collect()
    )
    figures: dict[str, Any] = {
        "movements": checked_df.count(),
        "quarantined": quarantined_df.count(),
    }
    # Most batches quarantine nothing: the table is still created, but no MERGE runs for an
    # empty source (Delta would commit nothing; its join costs seconds for nothing).
    quarantined_dates = dates if figures["quarantined"] else []
    load.load_new_movements(
        spark, quarantined_df, QUARANTINE_STOCK_MOVEMENTS, lake, quarantined_dates
    )
    load.load_new_movements(spark, valid_df, STOCK_MOVEMENTS, lake, dates)

    keys_df = valid_df.select("location_id", "sku").distinct().persist()
    locations = sorted(
        row.location_id for row in keys_df.select("location_id").distinct().collect()
    )
    figures |= {"keys": keys_df.count(), "locations": len(locations)}
    if locations:
        state_df = transforms.levels_of_keys(
            extract.extract_levels(spark, lake, locations), keys_df
        ).persist()
        oldest_count = state_df.select(F.to_date(F.min("last_count_ts"))).first()
        count_dates = [oldest_count[0]] if oldest_count and oldest_count[0] else []
        since_date: date = min([*dates, *count_dates])
        ledger_df = extract.extract_ledger(spark, lake, since_date, locations).join(
            keys_df, ["location_id", "sku"], "left_semi"
        )
        # Keys whose balance is what the table already holds are left out: a re-run of a
        # batch commits nothing to the levels.
        changed_df = (
            transforms.stock_levels(ledger_df, state_df)
            .select(*transforms.LEVEL_COLUMNS)
            .exceptAll(state_df)
            .persist()
        )
        figures["keys_changed"] = changed_df.count()
        if figures["keys_changed"]:
            changed_locations = sorted(
                row[0] for row in changed_df.select("location_id").distinct().collect()
            )
            # Keys the levels do not hold yet (a SKU's first movement at a location) need the
            # MERGE's insert clause; without any, the cheaper update-only MERGE does it all.
            new_keys = not changed_df.join(state_df, ["location_id", "sku"], "left_anti").isEmpty()
            updated_at = context.started_at or datetime.now(UTC)
            load.load_levels(spark, changed_df, lake, changed_locations, updated_at, new_keys)
        changed_df.unpersist()
        state_df.unpersist()
    keys_df.unpersist()
    checked_df.unpersist()
    return figures


def reconcile(
    spark: SparkSession, context: RunContext, batch_df: DataFrame | None = None
) -> dict[str, Any]:
    """Replays the whole ledger of every key moved on the run date (in the ledger already, or
    in `batch_df`, the daily batch about to be applied) and compares it with the levels. A
    difference (a lost write, a hand edit) is recorded once in ops.stock_reconciliation and
    the ledger's balance is merged back: the ledger is the truth. The daily run calls it
    before it applies its batch, which would otherwise overwrite an edited key unseen."""
    lake, day = context.settings.lake_root, context.run_date
    load.create_reconciliation(spark, lake)
    ledger_df = extract.extract_ledger(spark, lake)
    keys_df = ledger_df.where(F.col("movement_date") == F.lit(day)).select("location_id", "sku")
    if batch_df is not None:
        keys_df = keys_df.unionByName(
            batch_df.select("location_id", "sku").where(F.col("location_id").isNotNull())
        )
    keys_df = keys_df.distinct().persist()
    locations = sorted(
        row.location_id for row in keys_df.select("location_id").distinct().collect()
    )
    if not locations:
        keys_df.unpersist()
        return {"keys_reconciled": 0, "differences": 0}
    no_counts_df = spark.createDataFrame([], STOCK_LEVELS.schema)
    replay_df = transforms.stock_levels(
        ledger_df.where(F.col("location_id").isin(locations)).join(
            keys_df, ["location_id", "sku"], "left_semi"
        ),
        no_counts_df,
    ).select(*transforms.LEVEL_COLUMNS)
    state_df = transforms.levels_of_keys(extract.extract_levels(spark, lake, locations), keys_df)
    wrong_df = replay_df.exceptAll(state_df).persist()
    figures = {"keys_reconciled": keys_df.count(), "differences": wrong_df.count()}
    if figures["differences"]:
        differences_df = transforms.reconciliation_differences(wrong_df, state_df, day)
        load.load_new_rows(
            spark,
            differences_df,
            STOCK_RECONCILIATION,
            lake,
            f"t.reconciliation_date = {sql_literal(day.isoformat())}",
            ("reconciliation_date", "location_id", "sku"),
        )
        wrong_locations = sorted(
            row[0] for row in wrong_df.select("location_id").distinct().collect()
        )
        updated_at = context.started_at or datetime.now(UTC)
        load.load_levels(spark, wrong_df, lake, wrong_locations, updated_at)
        log.warning("inventory %s: %d keys corrected from the ledger", day, figures["differences"])
    wrong_df.unpersist()
    keys_df.unpersist()
    return figures


def replenish(spark: SparkSession, context: RunContext) -> dict[str, Any]:
    """The run date's replenishment alerts, from the levels and the ledger's sales velocity."""
    lake, day, conf = context.settings.lake_root, context.run_date, context.settings.inventory
    alerts_df = outputs.replenishment_alerts(
        extract.extract_levels(spark, lake),
        outputs.velocity_window(extract.extract_ledger(spark, lake), conf, day),
        conf,
        day,
    ).persist()
    load.load_alerts(spark, alerts_df, lake, day)
    counts = {row.reason: row["count"] for row in alerts_df.groupBy("reason").count().collect()}
    alerts_df.unpersist()
    return {
        "reorder_alerts": counts.get(outputs.REASON_REORDER, 0),
        "negative_stock": counts.get(outputs.REASON_NEGATIVE, 0),
    }


def batch_end(context: RunContext) -> datetime:
    """The instant the run's figures hold for: --until, else the end of the run date (UTC)."""
    if context.until is not None:
        return context.until.astimezone(UTC)
    return datetime.combine(context.run_date + timedelta(days=1), time(0), tzinfo=UTC)


def publish_availability(spark: SparkSession, context: RunContext) -> dict[str, Any]:
    """gold.ecommerce_availability and its feed file, unless the table holds a later batch."""
    settings = context.settings
    landing, lake, conf = settings.landing_root, settings.lake_root, settings.inventory
    as_of = batch_end(context)
    current = extract.extract_current_as_of(spark, lake)
    if current is not None and current > as_of.replace(tzinfo=None):
        log.info("availability left as is: it holds %s, later than this run's %s", current, as_of)
        return {"availability": f"kept (as of {current:%Y-%m-%dT%H:%M}Z)"}
    warehouses_df = extract.extract_warehouses(spark, landing)
    ecommerce = [r.location_id for r in warehouses_df.where("serves_ecommerce").collect()]
    levels_df = extract.extract_levels(spark, lake, ecommerce)
    orders_df = extract.extract_recent_orders(
        spark, landing, context.run_date, conf.reservation_lookback_days
    )
    products_df = extract.extract_products_for_sale(spark, landing)
    availability_df = outputs.availability(
        levels_df,
        warehouses_df,
        products_df,
        outputs.open_reservations(orders_df, as_of),
        conf,
        as_of,
    ).persist()
    load.load_availability(spark, availability_df, lake)
    rows = [
        (row.sku, int(row.available_to_sell))
        for row in availability_df.select("sku", "available_to_sell").collect()
    ]
    availability_df.unpersist()
    manifest = load.load_feed(rows, lake, as_of)
    return {"availability_rows": len(rows), "feed": manifest["folder"]}


def run(context: RunContext) -> dict[str, Any]:
    """One batch: the date's movements (the daily run), or those of the --since/--until window."""
    spark = get_spark(context.settings, app_name=f"retailmax-inventory-{context.run_date}")
    batch_df = extract_batch(spark, context)
    daily = context.since is None and context.until is None
    figures: dict[str, Any] = {}
    if daily:  # compare before the batch repairs anything: then record, repair, apply
        # Both steps read the batch: its files are parsed once (it reads no inventory table).
        batch_df = batch_df.persist(StorageLevel.MEMORY_AND_DISK)
        figures |= reconcile(spark, context, batch_df)
    figures |= apply_batch(spark, context, batch_df)
    batch_df.unpersist()
    if daily:
        figures |= replenish(spark, context)
    figures |= publish_availability(spark, context)
    log.info("inventory %s: %s", context.run_date, figures)
    return figures
