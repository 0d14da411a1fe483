"""The customers job's writes: each one MERGE or one replace, so a re-run changes nothing."""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.customers.tables import (
    CONSENTS,
    CUSTOMER_360,
    CUSTOMER_RECORDS,
    CUSTOMERS,
    QUARANTINE_CUSTOMER_RECORDS,
    TRACKED_ATTRIBUTES,
)
from jobs.lake import TableSpec, ensure_table, replace_where, sql_literal

if TYPE_CHECKING:
    from delta.tables import DeltaTable

log = logging.getLogger(__name__)


def _target(spark: SparkSession, spec: TableSpec, lake_root: str) -> DeltaTable:
    """The table (created on first use) as the target of a MERGE."""
    from delta.tables import DeltaTable

    return DeltaTable.forPath(spark, ensure_table(spark, spec, lake_root))


def load_quarantine(
    spark: SparkSession, quarantine_df: DataFrame, lake_root: str, export_date: date
) -> None:
    """Replaces the export date's quarantined rows."""
    ensure_table(spark, QUARANTINE_CUSTOMER_RECORDS, lake_root)
    predicate = f"export_date = {sql_literal(export_date.isoformat())}"
    replace_where(quarantine_df, QUARANTINE_CUSTOMER_RECORDS, lake_root, predicate)


def load_records(spark: SparkSession, records_df: DataFrame, lake_root: str) -> None:
    """Upserts records by record_id; a row equal to the stored one is left alone.

    `records_df`: every record whose version or customer_key may have changed (the batch and
    the known records whose key moved). An older version than the stored one never wins.
    """
    target = _target(spark, CUSTOMER_RECORDS, lake_root)
    columns = [f.name for f in CUSTOMER_RECORDS.schema]
    differs = " OR ".join(f"NOT (t.{c} <=> s.{c})" for c in columns if c != "export_date")
    (
        target.alias("t")
        .merge(records_df.select(*columns).alias("s"), "t.record_id = s.record_id")
        .whenMatchedUpdateAll(condition=f"s.updated_at >= t.updated_at AND ({differs})")
        .whenNotMatchedInsertAll()
        .execute()
    )


def load_customers(
    spark: SparkSession, image_df: DataFrame, lake_root: str, export_date: date
) -> None:
    """SCD type 2 in one MERGE: `image_df` is every customer's surviving attributes today.

    - new customer_key: a current version from `export_date`;
    - changed attributes: the current version gets valid_to = export_date and is_current =
      false, and a new current version starts (when the current version itself started on
      `export_date`, a re-run with corrected data, it is corrected in place instead);
    - unchanged: nothing;
    - a customer_key no longer in the image (merged into another customer): closed.
    """
    target = _target(spark, CUSTOMERS, lake_root)
    day = sql_literal(export_date.isoformat())
    changes = _scd2_changes(target.toDF(), image_df, export_date)
    new_values: dict[str, str | Column] = {
        name: f"s.{name}" for name in (*TRACKED_ATTRIBUTES, "attributes_hash")
    }
    (
        target.alias("t")
        .merge(changes.alias("s"), "t.is_current AND t.customer_key = s.merge_key")
        .whenMatchedUpdate(
            condition="s.attributes_hash IS NULL",  # merged away: closed
            set={"valid_to": day, "is_current": "false"},
        )
        .whenMatchedUpdate(condition=f"t.valid_from = {day}", set=new_values)
        .whenMatchedUpdate(set={"valid_to": day, "is_current": "false"})
        .whenNotMatchedInsert(
            condition="s.attributes_hash IS NOT NULL",
            values={
                "customer_key": "s.customer_key",
                **new_values,
                "valid_from": day,
                "valid_to": "NULL",
                "is_current": "true",
            },
        )
        .execute()
    )


def _scd2_changes(table_df: DataFrame, image_df: DataFrame, export_date: date) -> DataFrame:
    """The MERGE's source: only the customers that change, so unchanged rows are not joined
    again inside the MERGE. Each row has `merge_key` (the key whose current version it
    matches, null for a version to insert) and the image's columns (null hash: merged away).

    - new key: one row (no current version: inserted);
    - changed, current version from before `export_date`: a row that closes it and a
      null-key row that inserts the new version; from `export_date` itself: one row that
      corrects it in place;
    - key absent from the image: one row, null hash, that closes it.
    """
    current = table_df.where("is_current").select(
        "customer_key", F.col("attributes_hash").alias("current_hash"), "valid_from"
    )
    image = image_df.select("customer_key", *TRACKED_ATTRIBUTES, "attributes_hash")
    compared = image.join(current, "customer_key", "full_outer").where(
        ~F.col("attributes_hash").eqNullSafe(F.col("current_hash"))
    )
    columns = ["customer_key", *TRACKED_ATTRIBUTES, "attributes_hash"]
    matched = compared.select(*columns, F.col("customer_key").alias("merge_key"))
    reopened = compared.where(
        F.col("attributes_hash").isNotNull()
        & F.col("current_hash").isNotNull()
        & (F.col("valid_from") < F.lit(export_date))
    ).select(*columns, F.lit(None).cast("string").alias("merge_key"))
    return matched.unionByName(reopened)


def load_consents(spark: SparkSession, consents_df: DataFrame, lake_root: str) -> None:
    """Upserts the latest event per channel and contact; an older event never wins."""
    target = _target(spark, CONSENTS, lake_root)
    newer = "(s.event_ts > t.event_ts OR (s.event_ts = t.event_ts AND s.event_id > t.event_id))"
    (
        target.alias("t")
        .merge(consents_df.alias("s"), "t.channel = s.channel AND t.contact = s.contact")
        .whenMatchedUpdateAll(condition=newer)
        .whenNotMatchedInsertAll()
        .execute()
    )


def load_customer_360(spark: SparkSession, gold_df: DataFrame, lake_root: str) -> None:
    """Replaces the whole table in one commit: a snapshot as of the run date."""
    path = ensure_table(spark, CUSTOMER_360, lake_root)
    gold_df.write.format("delta").mode("overwrite").save(path)
