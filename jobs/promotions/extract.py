"""The promotions job's inputs: campaigns from the landing zone, and lake tables by date."""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.contracts.campaigns import CAMPAIGN_SCHEMA, CAMPAIGN_SCOPES
from jobs.errors import RetailMaxError
from jobs.lake import TableSpec, list_folder, read_table

log = logging.getLogger(__name__)

CAMPAIGNS_FILE = "campaigns.jsonl"


def extract_campaigns(spark: SparkSession, landing_root: str) -> DataFrame:
    """reference/campaigns.jsonl, typed (a value that does not parse fails the run); no file
    means no campaigns. A campaign that ends before it starts or has an unknown scope is
    refused in one line."""
    folder = f"{landing_root.rstrip('/')}/reference"
    if CAMPAIGNS_FILE not in list_folder(spark, folder):
        log.warning("no %s/%s: no campaigns", folder, CAMPAIGNS_FILE)
        return spark.createDataFrame([], CAMPAIGN_SCHEMA)
    campaigns_df = (
        spark.read.schema(CAMPAIGN_SCHEMA)
        .option("mode", "FAILFAST")
        .json(f"{folder}/{CAMPAIGNS_FILE}")
    )
    bad = (
        campaigns_df.where(
            (F.col("end_date") < F.col("start_date"))
            | ~F.col("scope").isin(*CAMPAIGN_SCOPES)
            | F.col("campaign_id").isNull()
            | F.col("promo_code").isNull()
        )
        .select("campaign_id")
        .limit(1)
        .collect()
    )
    if bad:
        raise RetailMaxError(
            f"{CAMPAIGNS_FILE}: campaign {bad[0]['campaign_id']} has no id or code, an unknown "
            f"scope (known: {', '.join(CAMPAIGN_SCOPES)}) or ends before it starts"
        )
    return campaigns_df


def extract_dates(
    spark: SparkSession, spec: TableSpec, lake_root: str, column: str, first: date, last: date
) -> DataFrame:
    """The rows of a date-partitioned lake table with first <= column <= last."""
    return read_table(spark, spec, lake_root).where(F.col(column).between(first, last))
