"""The promotions job's inputs: campaigns from the landing zone, and lake tables by date."""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.contracts.campaigns import CAMPAIGN_SCHEMA, CAMPAIGN_SCOPES
from jobs.contracts.read import read_reference_jsonl
from jobs.errors import RetailMaxError
from jobs.lake import TableSpec, list_folder, read_table

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
    spark: SparkSession, spec: TableSpec, lake_root: str, column: str, first: date, last: date
) -> DataFrame:
    """The rows of a date-partitioned lake table with first <= column <= last."""
    return read_table(spark, spec, lake_root).where(F.col(column).between(first, last))
