"""Airflow Assets for the lake's main tables, so downstream work can follow a table update.

Names match the TableSpec names of the jobs (a test checks it) without importing pyspark here.
"""

from __future__ import annotations

from airflow.sdk import Asset

from jobs.orchestration.plan import arrow_uri
from jobs.settings import Settings

# Which tables each job step writes.
WRITES: dict[str, tuple[str, ...]] = {
    "sales": (
        "bronze.pos_lines",
        "quarantine.sales_lines",
        "silver.sales_lines",
        "ops.dq_results",
    ),
    "sales-gold": ("silver.sales_lines", "gold.daily_store_sales", "gold.daily_sales_summary"),
    "inventory": (
        "silver.stock_movements",
        "quarantine.stock_movements",
        "silver.stock_levels",
        "gold.ecommerce_availability",
        "gold.replenishment_alerts",
        "ops.stock_reconciliation",
    ),
    "customers": (
        "quarantine.customer_records",
        "silver.customer_records",
        "silver.customers",
        "silver.customer_consents",
        "gold.customer_360",
    ),
    "promotions": (
        "gold.product_velocity",
        "gold.promotion_candidates",
        "gold.campaign_performance",
        "gold.daily_sales_report",
    ),
}
REPORT_ASSET = "report.daily_sales"


def asset_uri(root: str, *parts: str) -> str:
    """A URI Airflow accepts: file:// for local paths, s3:// for Spark's s3a://."""
    path = arrow_uri("/".join([root.rstrip("/"), *parts]))
    return path if "://" in path else f"file://{path}"


def table_asset(settings: Settings, table: str) -> Asset:
    """`silver.sales_lines` -> Asset named so, at `<lake_root>/silver/sales_lines`."""
    layer, name = table.split(".", 1)
    return Asset(name=table, uri=asset_uri(settings.lake_root, layer, name), group="retailmax")


def job_outlets(settings: Settings, job: str) -> list[Asset]:
    """The assets a job step updates."""
    if job == "report":
        uri = asset_uri(settings.lake_root, "reports", "daily")
        return [Asset(name=REPORT_ASSET, uri=uri, group="retailmax")]
    return [table_asset(settings, table) for table in WRITES.get(job, ())]
