"""The only inventory functions that write: insert-only MERGEs (ledger, quarantine,
reconciliation), the levels upsert, the alerts of a date, the availability table and its feed.

The MERGEs prune in their condition: the ledger by the batch's movement dates, the levels by
the batch's locations (the partition column), so their cost follows the batch, not the table.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pyspark.sql import DataFrame, SparkSession

from jobs.files import write_atomically
from jobs.inventory.tables import (
    ECOMMERCE_AVAILABILITY,
    REPLENISHMENT_ALERTS,
    STOCK_LEVELS,
    STOCK_RECONCILIATION,
)
from jobs.lake import TableSpec, ensure_table, replace_where, session_conf, sql_literal

log = logging.getLogger(__name__)

FEED_NAME = "availability.csv"
MANIFEST_NAME = "manifest.json"
MERGE_REPARTITION_BEFORE_WRITE = "spark.databricks.delta.merge.repartitionBeforeWrite.enabled"


def _in_list(column: str, values: Sequence[date | str]) -> str:
    return f"t.{column} IN ({', '.join(sql_literal(v) for v in values)})"


def load_new_rows(
    spark: SparkSession,
    df: DataFrame,
    spec: TableSpec,
    lake_root: str,
    prune: str,
    keys: Sequence[str],
) -> None:
    """Inserts the rows whose key is not in the table yet, an insert-only MERGE (`prune`
    limits the files read): rows already there are left as they are."""
    from delta.tables import DeltaTable

    ensure_table(spark, spec, lake_root)
    target = DeltaTable.forPath(spark, spec.path(lake_root)).alias("t")
    condition = " AND ".join([prune, *[f"t.{key} = s.{key}" for key in keys]])
    target.merge(df.alias("s"), condition).whenNotMatchedInsertAll().execute()


def load_new_movements(
    spark: SparkSession, df: DataFrame, spec: TableSpec, lake_root: str, dates: Sequence[date]
) -> None:
    """Inserts the movements whose key is not in the table yet: re-running a batch adds nothing.
    No dates (nothing to insert) creates the table when absent and commits nothing."""
    if not dates:
        ensure_table(spark, spec, lake_root)
        return
    load_new_rows(
        spark, df, spec, lake_root, _in_list("movement_date", sorted(dates)), ("movement_key",)
    )
    log.info("appended new movements to %s (%d dates)", spec.name, len(dates))


def load_levels(
    spark: SparkSession,
    levels_df: DataFrame,
    lake_root: str,
    locations: Sequence[str],
    updated_at: datetime,
    new_keys: bool = True,
) -> None:
    """Upserts the changed (location, sku) balances into silver.stock_levels in one MERGE (one
    commit).

    `new_keys=False` says every key of levels_df is in the table already (the usual batch):
    the MERGE then has no insert clause, so Delta joins the touched files' rows to the source
    without the full outer join that would also keep the source's unmatched rows (the same
    rows, 15-17 % faster at 500 stores: docs/performance.md). A key absent after all would be
    matched by nothing and not written: callers pass False only for keys they have just read
    from the table, which nothing deletes from (see apply_batch).
    """
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not locations:
        return
    ensure_table(spark, STOCK_LEVELS, lake_root)
    source_df = levels_df.withColumn("updated_at", F.lit(updated_at.replace(tzinfo=None)))
    target = DeltaTable.forPath(spark, STOCK_LEVELS.path(lake_root)).alias("t")
    condition = (
        f"{_in_list('location_id', sorted(locations))} "
        "AND t.location_id = s.location_id AND t.sku = s.sku"
    )
    merge = target.merge(source_df.alias("s"), condition).whenMatchedUpdateAll()
    if new_keys:
        merge.whenNotMatchedInsertAll().execute()
    else:
        # Update-only, each target file's rows stay in one task, so each location is still one
        # file without Delta's shuffle by partition before the write (docs/performance.md).
        with session_conf(spark, MERGE_REPARTITION_BEFORE_WRITE, "false"):
            merge.execute()
    log.info("merged %s for %d locations", STOCK_LEVELS.name, len(locations))


def create_reconciliation(spark: SparkSession, lake_root: str) -> None:
    """Creates ops.stock_reconciliation when absent: no difference is an empty table, not a
    missing one, for its readers."""
    ensure_table(spark, STOCK_RECONCILIATION, lake_root)


def load_alerts(spark: SparkSession, alerts_df: DataFrame, lake_root: str, day: date) -> None:
    """Replaces the date's alerts: a re-run of the day leaves one set of alerts."""
    ensure_table(spark, REPLENISHMENT_ALERTS, lake_root)
    predicate = f"alert_date = {sql_literal(day.isoformat())}"
    replace_where(alerts_df, REPLENISHMENT_ALERTS, lake_root, predicate)


def load_availability(spark: SparkSession, availability_df: DataFrame, lake_root: str) -> None:
    """Replaces the whole (small: one row per SKU) table in one commit."""
    ensure_table(spark, ECOMMERCE_AVAILABILITY, lake_root)
    (
        availability_df.coalesce(1)
        .write.format("delta")
        .mode("overwrite")
        .save(ECOMMERCE_AVAILABILITY.path(lake_root))
    )


def feed_folder(lake_root: str, as_of: datetime) -> str:
    """`<lake>/feeds/ecommerce_availability/as_of=YYYY-MM-DDTHH-MMZ`: one folder per batch."""
    stamp = as_of.strftime("%Y-%m-%dT%H-%MZ")
    return f"{lake_root.rstrip('/')}/feeds/ecommerce_availability/as_of={stamp}"


def load_feed(rows: list[tuple[str, int]], lake_root: str, as_of: datetime) -> dict[str, Any]:
    """availability.csv (sku, available_to_sell) sorted by SKU, then manifest.json with its row
    count and SHA-256. Each is written then renamed; the manifest comes last, so a platform that
    waits for the manifest never reads a partial feed."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(["sku", "available_to_sell"])
    writer.writerows(sorted(rows))
    data = text.getvalue().encode("utf-8")
    folder = feed_folder(lake_root, as_of)
    manifest = {
        "feed": "ecommerce_availability",
        "as_of": as_of.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "file": FEED_NAME,
        "rows": len(rows),
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    write_atomically(f"{folder}/{FEED_NAME}", data)
    write_atomically(
        f"{folder}/{MANIFEST_NAME}", (json.dumps(manifest, indent=2) + "\n").encode("utf-8")
    )
    log.info("availability feed: %s/%s (%d rows)", folder, FEED_NAME, len(rows))
    return {**manifest, "folder": folder}
