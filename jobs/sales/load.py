"""The only functions of the sales job that write: each replaces exactly its run's partitions."""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from jobs.lake import TableSpec, ensure_table, replace_where, sql_literal, store_day_predicate

log = logging.getLogger(__name__)


def load_store_days(
    spark: SparkSession,
    df: DataFrame,
    spec: TableSpec,
    lake_root: str,
    run_date: date,
    stores: list[int],
) -> None:
    """Replaces the run's store-days of a store-day table (bronze, quarantine, silver, dq)."""
    ensure_table(spark, spec, lake_root)
    # The job clusters its data by store-day once, up front: no repartition before writing.
    replace_where(df, spec, lake_root, store_day_predicate(run_date, stores), cluster=False)
    log.info("wrote %s for %s, %d stores", spec.name, run_date, len(stores))


def load_gold(
    spark: SparkSession, frames: list[tuple[TableSpec, DataFrame]], lake_root: str, run_date: date
) -> None:
    """The gold tables for the whole date (written after the shards, by one writer)."""
    predicate = f"sale_date = {sql_literal(run_date.isoformat())}"
    for spec, df in frames:
        ensure_table(spark, spec, lake_root)
        replace_where(df, spec, lake_root, predicate)
        log.info("wrote %s for %s", spec.name, run_date)
