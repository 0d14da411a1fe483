"""Job `promotions`: fast movers, promotion candidates, campaign results, and the figures of
the daily sales report, for one date, after sales-gold and inventory.

Reads gold.daily_store_sku_sales (28 days), silver.sales_lines (each running campaign's
period and pre-period), silver.stock_levels, the gold sales tables, ops.dq_results and the
reference files; writes gold.product_velocity, gold.promotion_candidates,
gold.campaign_performance and gold.daily_sales_report, each replaced for the date (a re-run
gives the same rows). The `report` job then renders the HTML page from
gold.daily_sales_report.
"""

from __future__ import annotations

from typing import Any

from pyspark.sql import functions as F

from jobs.context import RunContext
from jobs.errors import MissingInputError
from jobs.promotions import report_figures, transforms
from jobs.promotions.extract import (
    extract_campaigns,
    extract_daily_units,
    extract_dates,
    extract_stock_levels,
    first_line_date,
)
from jobs.promotions.load import load_date
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


def run(context: RunContext) -> dict[str, Any]:
    """The four gold tables of the date: extract, then each table's transform and load (the
    later transforms build on the rows the earlier ones wrote)."""
    settings, day = context.settings, context.run_date
    conf = settings.promotions
    spark = get_spark(settings, app_name=f"retailmax-promotions-{day}")
    landing, lake = settings.landing_root, settings.lake_root
    last_week = report_figures.last_week(day)

    summary_df = extract_dates(spark, GOLD_DAILY_SALES_SUMMARY, lake, last_week, day)
    if summary_df.where(F.col("sale_date") == F.lit(day)).isEmpty():
        raise MissingInputError(
            f"gold.daily_sales_summary has no rows for {day}: run sales and sales-gold first"
        )
    # The report reads the week's summary ten times and the store sales twice: small, read once.
    summary_df = summary_df.cache()
    stores_df = extract_stores(spark, landing).cache()
    products_df = extract_products(spark, landing).cache()
    campaigns_df = extract_campaigns(spark, landing).cache()
    lines_df = extract_dates(
        spark, SILVER_SALES_LINES, lake, first_line_date(campaigns_df, day), day
    )
    store_sales_df = extract_dates(spark, GOLD_DAILY_STORE_SALES, lake, last_week, day).cache()
    dq_df = extract_dates(spark, DQ_RESULTS, lake, day, day)

    velocity_df = load_date(
        spark,
        transforms.product_velocity(
            transforms.store_units(extract_daily_units(spark, lake, day), day),
            transforms.store_stock(extract_stock_levels(spark, lake)),
            stores_df,
            products_df,
            day,
        ),
        PRODUCT_VELOCITY,
        lake,
        day,
    )
    candidates_df = load_date(
        spark,
        transforms.promotion_candidates(velocity_df, products_df, campaigns_df, day, conf),
        PROMOTION_CANDIDATES,
        lake,
        day,
    )
    performance_df = load_date(
        spark,
        transforms.campaign_performance(
            lines_df, products_df, campaigns_df, stores_df.count(), day
        ),
        CAMPAIGN_PERFORMANCE,
        lake,
        day,
    )
    report_df = load_date(
        spark,
        report_figures.report_rows(
            day,
            report_figures.ReportInputs(
                summary_df,
                store_sales_df,
                stores_df,
                products_df,
                velocity_df,
                candidates_df,
                performance_df,
                dq_df,
            ),
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
    for df in (stores_df, products_df, campaigns_df, summary_df, store_sales_df):
        df.unpersist()
    return counts
