"""The only promotions functions that read: campaigns from the landing zone, lake tables by
date, and the stock levels."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.contracts.campaigns import CAMPAIGN_SCHEMA, CAMPAIGN_SCOPES
from jobs.contracts.read import read_reference_jsonl
from jobs.errors import MissingInputError, RetailMaxError
from jobs.inventory.tables import STOCK_LEVELS
from jobs.lake import TableSpec, list_folder, read_table
from jobs.promotions.transforms import VELOCITY_DAYS, running_on, window_start
from jobs.sales.tables import CHANNEL_STORE, GOLD_DAILY_STORE_SALES, GOLD_DAILY_STORE_SKU_SALES

log = logging.getLogger(__name__)

CAMPAIGNS_FILE = "campaigns.jsonl"


def extract_campaigns(spark: SparkSession, landing_root: str) -> DataFrame:
    """reference/campaigns.jsonl, typed (a value that does not parse stops the run with one
    line naming the line and the field); no file
    means no campaigns. A campaign without id or code, with an unknown or empty scope, or
    ending before it starts is refused in one line."""
    folder = f"{landing_root.rstrip('/')}/reference"
    if CAMPAIGNS_FILE not in list_folder(spark, folder):
        log.warning("no %s/%s: no campaigns", folder, CAMPAIGNS_FILE)
        return spark.createDataFrame([], CAMPAIGN_SCHEMA)
    campaigns_df = read_reference_jsonl(
        spark, landing_root, f"reference/{CAMPAIGNS_FILE}", CAMPAIGN_SCHEMA
    )
    for campaign in campaigns_df.collect():  # a few hundred lines at most
        problem = campaign_problem(campaign.asDict())
        if problem:
            raise RetailMaxError(f"{CAMPAIGNS_FILE}: campaign {campaign.campaign_id} {problem}")
    return campaigns_df


def campaign_problem(campaign: dict[str, Any]) -> str | None:
    """Why a campaign cannot be measured, or None."""
    if not campaign["campaign_id"] or not campaign["promo_code"]:
        return "has no campaign_id or no promo_code"
    if campaign["scope"] not in CAMPAIGN_SCOPES:
        return f"has scope {campaign['scope']!r} (known: {', '.join(CAMPAIGN_SCOPES)})"
    if campaign["end_date"] < campaign["start_date"]:
        return f"ends ({campaign['end_date']}) before it starts ({campaign['start_date']})"
    listed = campaign["skus"] if campaign["scope"] == "SKU" else campaign["categories"]
    if not listed:
        return f"has scope {campaign['scope']} and lists none"
    return None


def extract_dates(
    spark: SparkSession, spec: TableSpec, lake_root: str, first: date, last: date
) -> DataFrame:
    """The rows of a date-partitioned lake table whose date (its partition column) is within
    first..last."""
    column = spec.partition_by[0]
    return read_table(spark, spec, lake_root).where(F.col(column).between(first, last))


def extract_daily_units(spark: SparkSession, lake_root: str, run_date: date) -> DataFrame:
    """gold.daily_store_sku_sales over the velocity's 28 days. A date of the window with store
    sales in gold.daily_store_sales but none in this table (a lake written before sales-gold
    wrote it, or a sales-gold run stopped between the two) stops the run in one line: the
    velocity would count it as a day without sales."""
    first = window_start(run_date, VELOCITY_DAYS)
    daily_df = extract_dates(spark, GOLD_DAILY_STORE_SKU_SALES, lake_root, first, run_date)
    missing = sorted(
        row.sale_date
        for row in extract_dates(spark, GOLD_DAILY_STORE_SALES, lake_root, first, run_date)
        .select("sale_date")
        .subtract(daily_df.where(F.col("channel") == CHANNEL_STORE).select("sale_date"))
        .collect()
    )
    if missing:
        dates = ", ".join(day.isoformat() for day in missing)
        raise MissingInputError(
            f"{GOLD_DAILY_STORE_SKU_SALES.name} has no store rows for {dates} "
            f"({GOLD_DAILY_STORE_SALES.name} has): run sales-gold for those dates"
        )
    return daily_df


def extract_stock_levels(spark: SparkSession, lake_root: str) -> DataFrame:
    """silver.stock_levels as the inventory job left it."""
    return read_table(spark, STOCK_LEVELS, lake_root)


def first_line_date(campaigns_df: DataFrame, run_date: date) -> date:
    """The earliest sale date the campaign results read: the first day of the earliest
    pre-period of the campaigns running on run_date (run_date itself when none runs)."""
    running = running_on(campaigns_df, run_date)
    pre_start = running.select(
        F.min(F.date_sub("start_date", F.datediff("end_date", "start_date") + 1))
    ).first()
    if pre_start is not None and pre_start[0] is not None:
        return pre_start[0]  # a running campaign's pre-period starts before run_date
    return run_date
