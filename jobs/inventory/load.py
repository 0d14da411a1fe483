"""Inventory MERGEs: insert-only (ledger, quarantine, reconciliation) and the levels upsert.

Both MERGEs prune in their condition: the ledger by the batch's movement dates, the levels by
the batch's locations (the partition column), so their cost follows the batch, not the table.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import date, datetime

from pyspark.sql import DataFrame, SparkSession

from jobs.lake import TableSpec, ensure_table, sql_literal

log = logging.getLogger(__name__)


def _in_list(column: str, values: Sequence[date | str]) -> str:
    return f"t.{column} IN ({', '.join(sql_literal(v) for v in values)})"


def insert_new(
    spark: SparkSession,
    df: DataFrame,
    spec: TableSpec,
    lake_root: str,
    prune: str,
    keys: Sequence[str],
) -> None:
    """Inserts the rows whose key is not in the table yet (`prune` limits the files read)."""
    from delta.tables import DeltaTable

    ensure_table(spark, spec, lake_root)
    target = DeltaTable.forPath(spark, spec.path(lake_root)).alias("t")
    condition = " AND ".join([prune, *[f"t.{key} = s.{key}" for key in keys]])
    target.merge(df.alias("s"), condition).whenNotMatchedInsertAll().execute()


def append_movements(
    spark: SparkSession, df: DataFrame, spec: TableSpec, lake_root: str, dates: Sequence[date]
) -> None:
    """Inserts the movements whose key is not in the table yet: re-running a batch adds nothing."""
    if not dates:
        return
    insert_new(
        spark, df, spec, lake_root, _in_list("movement_date", sorted(dates)), ("movement_key",)
    )
    log.info("appended new movements to %s (%d dates)", spec.name, len(dates))


def merge_levels(
    spark: SparkSession,
    levels_df: DataFrame,
    spec: TableSpec,
    lake_root: str,
    locations: Sequence[str],
    updated_at: datetime,
) -> None:
    """Upserts the batch's changed (location, sku) balances."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    if not locations:
        return
    ensure_table(spark, spec, lake_root)
    source_df = levels_df.withColumn("updated_at", F.lit(updated_at.replace(tzinfo=None)))
    target = DeltaTable.forPath(spark, spec.path(lake_root)).alias("t")
    condition = (
        f"{_in_list('location_id', sorted(locations))} "
        "AND t.location_id = s.location_id AND t.sku = s.sku"
    )
    (
        target.merge(source_df.alias("s"), condition)
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )
    log.info("merged %s for %d locations", spec.name, len(locations))
