"""Job `promotions`: fast movers, promotion candidates, campaign results, and the figures of
the daily sales report, for one date, after sales-gold and inventory.

Reads silver.sales_lines (28 days, and each running campaign's pre-period),
silver.stock_levels, the gold sales tables, ops.dq_results and the reference files; writes
gold.product_velocity, gold.promotion_candidates, gold.campaign_performance and
gold.daily_sales_report, each replaced for the date (a re-run gives the same rows). The
`report` job then renders the HTML page from gold.daily_sales_report.
"""

from __future__ import annotations

import logging
from datetime import date
from typing import Any

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.context import RunContext
from jobs.errors import MissingInputError
from jobs.inventory.tables import STOCK_LEVELS
from jobs.lake import TableSpec, ensure_table, read_table, replace_where, sql_literal
from jobs.promotions import report_figures, transforms
from jobs.promotions.extract import extract_campaigns, extract_dates
from jobs.promotions.tables import (
    CAMPAIGN_PERFORMANCE,
    DAILY_SALES_REPORT,
    PRODUCT_VELOCITY,
    PROMOTION_CANDIDATES,
)
from jobs.sales.extract import extract_products, extract_stores
from jobs.sales.tables import (
    DQ_RESULTS,
    GOLD_DAILY_SALES_SUMMARY,
    GOLD_DAILY_STORE_SALES,
    SILVER_SALES_LINES,
)
from jobs.spark import get_spark

log = logging.getLogger(__name__)


def replace_date(
    spark: SparkSession, df: DataFrame, spec: TableSpec, lake: str, day: date
) -> DataFrame:
    """Replaces the date's partition of spec with df; returns the date's rows as written."""
    column = spec.partition_by[0]
    ensure_table(spark, spec, lake)
    replace_where(df, spec, lake, f"{column} = {sql_literal(day.isoformat())}")
    log.info("wrote %s for %s", spec.name, day)
    return read_table(spark, spec, lake).where(F.col(column) == F.lit(day))


def _first_line_date(campaigns_df: DataFrame, run_date: date) -> date:
    """The earliest sale date needed: 28 days back, or a running campaign's pre-period."""
    earliest = transforms.window_start(run_date, transforms.VELOCITY_DAYS)
    running = transforms.running_on(campaigns_df, run_date)
    pre_start = running.select(
        F.min(F.date_sub("start_date", F.datediff("end_date", "start_date") + 1))
    ).first()
    if pre_start is not None and pre_start[0] is not None:
        earliest = min(earliest, pre_start[0])
    return earliest


def run(context: RunContext) -> dict[str, Any]:
    """The four gold tables of the date."""
    settings, day = context.settings, context.run_date
    conf = settings.promotions
    spark = get_spark(settings, app_name=f"retailmax-promotions-{day}")
    landing, lake = settings.landing_root, settings.lake_root

    summary_df = extract_dates(
        spark, GOLD_DAILY_SALES_SUMMARY, lake, "sale_date", report_figures.last_week(day), day
    )
    if summary_df.where(F.col("sale_date") == F.lit(day)).isEmpty():
        raise MissingInputError(
            f"gold.daily_sales_summary has no rows for {day}: run sales and sales-gold first"
        )
    stores_df = extract_stores(spark, landing).cache()
    products_df = extract_products(spark, landing).cache()
    campaigns_df = extract_campaigns(spark, landing).cache()
    lines_df = extract_dates(
        spark, SILVER_SALES_LINES, lake, "sale_date", _first_line_date(campaigns_df, day), day
    )

    velocity_df = replace_date(
        spark,
        transforms.product_velocity(
            transforms.store_units(lines_df, day),
            transforms.store_stock(read_table(spark, STOCK_LEVELS, lake)),
            stores_df,
            products_df,
            day,
        ),
        PRODUCT_VELOCITY,
        lake,
        day,
    )
    candidates_df = replace_date(
        spark,
        transforms.promotion_candidates(
            velocity_df,
            products_df,
            campaigns_df,
            day,
            conf,
        ),
        PROMOTION_CANDIDATES,
        lake,
        day,
    )
    performance_df = replace_date(
        spark,
        transforms.campaign_performance(
            lines_df, products_df, campaigns_df, stores_df.count(), day
        ),
        CAMPAIGN_PERFORMANCE,
        lake,
        day,
    )
    report_df = replace_date(
        spark,
        report_figures.report_rows(
            day,
            summary_df,
            extract_dates(
                spark, GOLD_DAILY_STORE_SALES, lake, "sale_date", report_figures.last_week(day), day
            ),
            stores_df,
            products_df,
            velocity_df,
            candidates_df,
            performance_df,
            extract_dates(spark, DQ_RESULTS, lake, "sale_date", day, day),
            conf,
        ),
        DAILY_SALES_REPORT,
        lake,
        day,
    )
    counts = {
        "velocity_rows": velocity_df.count(),
        "fast_movers": velocity_df.where(F.col("fast_mover")).count(),
        "promotion_candidates": candidates_df.count(),
        "campaign_rows": performance_df.count(),
        "report_rows": report_df.count(),
    }
    for df in (stores_df, products_df, campaigns_df):
        df.unpersist()
    return counts
