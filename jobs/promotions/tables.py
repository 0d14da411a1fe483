"""The tables of the promotions job: velocity, candidates, campaigns, and the report's figures.

Every table is partitioned by the date it was computed for and replaced per date, so a re-run
of a date gives the same rows.
"""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.contracts.types import AMOUNT, PRICE
from jobs.lake import TableSpec, column

LEVEL_STORE = "STORE"
LEVEL_REGION = "REGION"
LEVEL_CHAIN = "CHAIN"
RATIO = T.DecimalType(7, 4)
DAYS = T.DecimalType(10, 1)
UNITS = T.DecimalType(18, 2)

PRODUCT_VELOCITY = TableSpec(
    "gold.product_velocity",
    T.StructType(
        [
            column("as_of_date", T.DateType(), "the run date; windows end on it (partition)"),
            column("level", T.StringType(), "STORE (one store), REGION or CHAIN (all stores)"),
            column("region", T.StringType(), "the store's region; null at CHAIN level"),
            column("store_id", T.IntegerType(), "the store at STORE level, else null"),
            column("sku", T.StringType(), "product"),
            column("category", T.StringType(), "product category"),
            column("units_7d", T.LongType(), "units sold (quantity > 0) in the 7 days to the date"),
            column("units_28d", T.LongType(), "units sold in the 28 days to the date"),
            column("on_hand", T.LongType(), "store stock now (silver.stock_levels), 0 if none"),
            column(
                "sell_through",
                RATIO,
                "units_28d / (units_28d + on_hand), negative stock as 0; null if both are 0",
            ),
            column(
                "stock_cover_days",
                DAYS,
                "on_hand / (units_28d / 28): days of stock at the 28-day pace; null if no sales",
            ),
            column("category_rank", T.IntegerType(), "rank by units_28d within the category"),
            column("category_skus", T.IntegerType(), "SKUs ranked in that category"),
            column(
                "fast_mover",
                T.BooleanType(),
                "top decile of its category: rank <= ceil(category_skus / 10), units_28d > 0",
            ),
        ]
    ),
    ("as_of_date",),
    "Units over 7 and 28 days, sell-through, cover and category rank of every SKU sold or "
    "stocked, per store, region and the whole chain. Key: as_of_date, level, region, "
    "store_id, sku.",
)

PROMOTION_CANDIDATES = TableSpec(
    "gold.promotion_candidates",
    T.StructType(
        [
            column("as_of_date", T.DateType(), "the run date (partition)"),
            column("store_id", T.IntegerType(), "store"),
            column("region", T.StringType(), "the store's region"),
            column("sku", T.StringType(), "product"),
            column("category", T.StringType(), "product category"),
            column("on_hand", T.LongType(), "store stock now"),
            column("units_28d", T.LongType(), "units sold in the 28 days to the date"),
            column("stock_cover_days", DAYS, "days of stock at the 28-day pace; null: no sales"),
            column("list_price", PRICE, "products.csv list price"),
            column("unit_cost", PRICE, "products.csv unit cost"),
            column("margin_pct", RATIO, "(list_price - unit_cost) / list_price"),
            column(
                "max_markdown_pct",
                RATIO,
                "the largest markdown that keeps promotions.min_margin_pct",
            ),
            column(
                "suggested_markdown_pct",
                RATIO,
                "the cover tier's markdown, capped by max_markdown_pct, in 5-point steps",
            ),
            column("markdown_price", PRICE, "list_price × (1 - suggested_markdown_pct)"),
            column(
                "excess_units",
                T.LongType(),
                "stock beyond min_cover_days at the 28-day pace (all of it without sales)",
            ),
            column("excess_value", AMOUNT, "excess_units × unit_cost: what a markdown can free"),
            column(
                "velocity_trend",
                T.StringType(),
                "rising, steady or slowing (7-day units vs the 28-day weekly pace), or no sales",
            ),
            column(
                "rank_in_store_category",
                T.IntegerType(),
                "1 = the largest excess_value of its store and category (then cover, sku)",
            ),
            column(
                "reason",
                T.StringType(),
                "one line: cover (or no sales), excess stock at cost, margin room, trend",
            ),
        ]
    ),
    ("as_of_date",),
    "Slow movers with a high stock cover and room in their margin, with a suggested markdown, "
    "ranked per store and category by the cost value of their excess stock and capped at "
    "promotions.candidates_per_store_category; SKUs of a running campaign are left out. "
    "Key: as_of_date, store_id, sku.",
)

CAMPAIGN_PERFORMANCE = TableSpec(
    "gold.campaign_performance",
    T.StructType(
        [
            column("sale_date", T.DateType(), "the day measured; the last day for FINAL rows"),
            column("campaign_id", T.StringType(), "campaign"),
            column("campaign_name", T.StringType(), "campaign name"),
            column(
                "row_type",
                T.StringType(),
                "DAY (that day) or FINAL (the whole campaign, on its last day)",
            ),
            column("period_start", T.DateType(), "first day measured"),
            column("period_end", T.DateType(), "last day measured"),
            column("redemptions", T.LongType(), "store transactions with the promo code"),
            column("promo_units", T.LongType(), "units sold with the promo code"),
            column("revenue", AMOUNT, "net_amount of the promo-code lines"),
            column("discount_cost", AMOUNT, "discount_amount of the promo-code lines"),
            column(
                "campaign_units",
                T.LongType(),
                "units of in-scope SKUs sold in the campaign's stores (all but controls)",
            ),
            column(
                "baseline_method",
                T.StringType(),
                "CONTROL_STORES (scaled by store count) or PRE_PERIOD (same length, before)",
            ),
            column("baseline_units", UNITS, "units expected without the campaign"),
            column("incremental_units", UNITS, "campaign_units - baseline_units"),
            column(
                "unit_margin",
                PRICE,
                "regular margin per campaign unit: Σ qty × (unit_price − unit_cost) / Σ qty",
            ),
            column("incremental_margin", AMOUNT, "incremental_units × unit_margin"),
            column(
                "roi",
                RATIO,
                "(incremental_margin − discount_cost) / discount_cost; null without discount",
            ),
            column("budget", AMOUNT, "the campaign's budget"),
            column("budget_used_pct", RATIO, "discount_cost / budget"),
        ]
    ),
    ("sale_date",),
    "Redemptions, revenue, discount cost, incremental units and ROI per campaign and day, "
    "and a FINAL row over the whole campaign on its last day. Store sales only. "
    "Key: sale_date, campaign_id, row_type.",
)

DAILY_SALES_REPORT = TableSpec(
    "gold.daily_sales_report",
    T.StructType(
        [
            column("report_date", T.DateType(), "the business date reported (partition)"),
            column(
                "section",
                T.StringType(),
                "totals, region, format, category, top_stores, bottom_stores, fast_movers, "
                "campaigns, quarantine_rules or missing_store_files",
            ),
            column("position", T.IntegerType(), "order within the section, from 1"),
            column("item", T.StringType(), "what the row is about (a region, a store, a SKU…)"),
            column("metric", T.StringType(), "net_sales, units_sold, redemptions, lines…"),
            column("value", T.DecimalType(18, 4), "the figure on the report date"),
            column("last_week", T.DecimalType(18, 4), "the same figure 7 days earlier, if any"),
        ]
    ),
    ("report_date",),
    "Every figure of the daily sales report, one row per section, item and metric; the HTML "
    "page at <lake>/reports/daily/date=D/index.html shows exactly these. "
    "Key: report_date, section, item, metric.",
)

ALL_TABLES = (PRODUCT_VELOCITY, PROMOTION_CANDIDATES, CAMPAIGN_PERFORMANCE, DAILY_SALES_REPORT)
