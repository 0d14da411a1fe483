"""The only functions of the sales job that write: each replaces exactly its run's partitions."""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession

from jobs.lake import TableSpec, ensure_table, replace_where, sql_literal, store_day_predicate
from jobs.sales.tables import (
    BRONZE_POS_LINES,
    DQ_RESULTS,
    GOLD_DAILY_SALES_SUMMARY,
    GOLD_DAILY_STORE_SALES,
    QUARANTINE_SALES_LINES,
    SILVER_SALES_LINES,
)

log = logging.getLogger(__name__)


def _load_store_days(
    spark: SparkSession,
    df: DataFrame,
    spec: TableSpec,
    lake_root: str,
    run_date: date,
    stores: list[int],
) -> None:
    ensure_table(spark, spec, lake_root)
    # The job clusters its data by store-day once, up front: no repartition before writing.
    replace_where(df, spec, lake_root, store_day_predicate(run_date, stores), cluster=False)
    log.info("wrote %s for %s, %d stores", spec.name, run_date, len(stores))


def load_bronze(
    spark: SparkSession, df: DataFrame, lake_root: str, run_date: date, stores: list[int]
) -> None:
    """bronze.pos_lines for the run's store-days."""
    _load_store_days(spark, df, BRONZE_POS_LINES, lake_root, run_date, stores)


def load_sales_lines(
    spark: SparkSession, df: DataFrame, lake_root: str, run_date: date, stores: list[int]
) -> None:
    """silver.sales_lines for the run's store-days (store 0: the web shop)."""
    _load_store_days(spark, df, SILVER_SALES_LINES, lake_root, run_date, stores)


def load_quarantine(
    spark: SparkSession, df: DataFrame, lake_root: str, run_date: date, stores: list[int]
) -> None:
    """quarantine.sales_lines for the run's store-days."""
    _load_store_days(spark, df, QUARANTINE_SALES_LINES, lake_root, run_date, stores)


def load_dq_results(
    spark: SparkSession, df: DataFrame, lake_root: str, run_date: date, stores: list[int]
) -> None:
    """ops.dq_results for the run's store-days."""
    _load_store_days(spark, df, DQ_RESULTS, lake_root, run_date, stores)


def load_gold(
    spark: SparkSession,
    store_sales_df: DataFrame,
    summary_df: DataFrame,
    lake_root: str,
    run_date: date,
) -> None:
    """The gold tables for the whole date (written after the shards, by one writer)."""
    predicate = f"sale_date = {sql_literal(run_date.isoformat())}"
    for spec, df in (
        (GOLD_DAILY_STORE_SALES, store_sales_df),
        (GOLD_DAILY_SALES_SUMMARY, summary_df),
    ):
        ensure_table(spark, spec, lake_root)
        replace_where(df, spec, lake_root, predicate)
        log.info("wrote %s for %s", spec.name, run_date)
