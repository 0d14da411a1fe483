"""gold.daily_sales_report: every figure of the daily sales page, as rows of one gold table.

Built from the gold tables of the date (and of the same day last week), so the page shows
nothing that a BI tool cannot read from the lake.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts.pos import MISSING_STORE_FILE
from jobs.promotions.tables import DAILY_SALES_REPORT, LEVEL_CHAIN
from jobs.sales.transforms import RECONCILIATION_METRICS
from jobs.settings import PromotionSettings

FAST_MOVERS_SHOWN = 10
_VALUE = DAILY_SALES_REPORT.schema["value"].dataType


def last_week(run_date: date) -> date:
    """The same weekday one week earlier."""
    return run_date - timedelta(days=7)


def _melt(
    df: DataFrame,
    section: str,
    metrics: Sequence[str],
    compared: Sequence[str] = (),
) -> DataFrame:
    """(position, item, <metrics>, last_week_<m>) → rows (section, position, item, metric,
    value, last_week)."""
    pairs = [
        F.struct(
            F.lit(metric).alias("metric"),
            F.col(metric).cast(_VALUE).alias("value"),
            (F.col(f"last_week_{metric}") if metric in compared else F.lit(None))
            .cast(_VALUE)
            .alias("last_week"),
        )
        for metric in metrics
    ]
    return df.select(
        F.lit(section).alias("section"),
        F.col("position").cast("int").alias("position"),
        F.col("item").cast("string").alias("item"),
        F.explode(F.array(*pairs)).alias("figure"),
    ).select("section", "position", "item", "figure.*")


def _positioned(df: DataFrame, *order: Column) -> DataFrame:
    return df.withColumn("position", F.row_number().over(Window.orderBy(*order)))


def _compared_groups(
    summary_df: DataFrame, run_date: date, key: str, item: Column | None = None
) -> DataFrame:
    """Net sales and units of each value of `key` on the date and the same day last week."""
    figures = ("net_sales", "units_sold", "units_returned", "lines")

    def day(on: date, prefix: str) -> DataFrame:
        return (
            summary_df.where(F.col("sale_date") == F.lit(on))
            .groupBy(key)
            .agg(*[F.sum(f).alias(prefix + f) for f in figures])
        )

    both = day(run_date, "").join(day(last_week(run_date), "last_week_"), key, "left")
    both = both.where(F.col("net_sales").isNotNull())
    return _positioned(both, F.desc("net_sales"), F.col(key)).withColumn(
        "item", item if item is not None else F.col(key)
    )


def totals(summary_df: DataFrame, run_date: date) -> DataFrame:
    """All channels, then each channel: net sales, units, lines; against last week."""
    labelled = summary_df.withColumn(
        "scope",
        F.when(F.col("channel") == "STORE", F.lit("Stores")).otherwise(F.lit("Web shop")),
    )
    every = summary_df.withColumn("scope", F.lit("All channels"))
    rows = _compared_groups(every.unionByName(labelled), run_date, "scope")
    order = F.when(F.col("item") == "All channels", 1).when(F.col("item") == "Stores", 2)
    return _melt(
        _positioned(rows.drop("position"), order.otherwise(3)),
        "totals",
        ("net_sales", "units_sold", "units_returned", "lines"),
        ("net_sales", "units_sold", "units_returned", "lines"),
    )


def breakdowns(summary_df: DataFrame, run_date: date) -> DataFrame:
    """Net sales and units sold by region, format and category; against last week."""
    frames = [
        _melt(
            _compared_groups(summary_df, run_date, key),
            key,
            ("net_sales", "units_sold"),
            ("net_sales", "units_sold"),
        )
        for key in ("region", "format", "category")
    ]
    return frames[0].unionByName(frames[1]).unionByName(frames[2])


def store_ranking(
    store_sales_df: DataFrame, stores_df: DataFrame, run_date: date, shown: int
) -> DataFrame:
    """The `shown` stores with the highest and the lowest net sales of the date."""
    week_ago = store_sales_df.where(F.col("sale_date") == F.lit(last_week(run_date))).select(
        "store_id", F.col("net_sales").alias("last_week_net_sales")
    )
    day = (
        store_sales_df.where(F.col("sale_date") == F.lit(run_date))
        .join(week_ago, "store_id", "left")
        .join(F.broadcast(stores_df.select("store_id", "store_name", "region")), "store_id", "left")
        .withColumn(
            "item",
            F.format_string(
                "%d %s (%s)",
                F.col("store_id"),
                F.coalesce("store_name", F.lit("?")),
                F.coalesce("region", F.lit("?")),
            ),
        )
    )
    metrics, compared = ("net_sales", "transactions"), ("net_sales",)
    top = _positioned(day, F.desc("net_sales"), F.col("store_id")).where(F.col("position") <= shown)
    bottom = _positioned(day, F.asc("net_sales"), F.col("store_id")).where(
        F.col("position") <= shown
    )
    return _melt(top, "top_stores", metrics, compared).unionByName(
        _melt(bottom, "bottom_stores", metrics, compared)
    )


def fast_movers(velocity_df: DataFrame, products_df: DataFrame) -> DataFrame:
    """The chain's fast movers with the most units over 7 days."""
    chain = (
        velocity_df.where((F.col("level") == LEVEL_CHAIN) & F.col("fast_mover"))
        .join(F.broadcast(products_df.select("sku", "product_name")), "sku", "left")
        .withColumn(
            "item",
            F.format_string(
                "%s %s (%s)", F.col("sku"), F.coalesce("product_name", F.lit("")), F.col("category")
            ),
        )
    )
    shown = _positioned(chain, F.desc("units_7d"), F.desc("units_28d"), F.col("sku")).where(
        F.col("position") <= FAST_MOVERS_SHOWN
    )
    return _melt(shown, "fast_movers", ("units_7d", "units_28d", "sell_through"))


def promotion_candidates(
    candidates_df: DataFrame, stores_df: DataFrame, products_df: DataFrame, shown: int
) -> DataFrame:
    """The chain's `shown` promotion candidates with the largest stock value beyond their
    cover (then store and SKU): what a markdown would free, its markdown and cover."""
    named = (
        candidates_df.join(
            F.broadcast(stores_df.select("store_id", "store_name")), "store_id", "left"
        )
        .join(F.broadcast(products_df.select("sku", "product_name")), "sku", "left")
        .withColumn(
            "item",
            F.format_string(
                "%d %s: %s %s (%s), %s",
                F.col("store_id"),
                F.coalesce("store_name", F.lit("?")),
                F.col("sku"),
                F.coalesce("product_name", F.lit("")),
                F.col("category"),
                F.col("velocity_trend"),
            ),
        )
    )
    top = _positioned(named, F.desc("excess_value"), F.col("store_id"), F.col("sku")).where(
        F.col("position") <= shown
    )
    return _melt(
        top,
        "promotion_candidates",
        ("excess_value", "excess_units", "stock_cover_days", "suggested_markdown_pct"),
    )


def campaigns(performance_df: DataFrame) -> DataFrame:
    """Running campaigns on the date (and the final result of those ending on it)."""
    rows = performance_df.withColumn(
        "item",
        F.concat(
            F.col("campaign_id"),
            F.lit(" "),
            F.coalesce("campaign_name", F.lit("")),
            F.when(F.col("row_type") == "FINAL", F.lit(" (final result)")).otherwise(F.lit("")),
        ),
    )
    shown = _positioned(rows, F.col("campaign_id"), F.col("row_type"))
    return _melt(
        shown,
        "campaigns",
        ("redemptions", "revenue", "discount_cost", "incremental_units", "roi"),
    )


def quality(dq_df: DataFrame, stores_df: DataFrame) -> DataFrame:
    """Quarantined POS lines by rule, and the stores whose file did not arrive."""
    rules = (
        dq_df.where(~F.col("metric").isin(*RECONCILIATION_METRICS, MISSING_STORE_FILE))
        .groupBy(F.col("metric").alias("item"))
        .agg(F.sum("value").alias("lines"))
        .where(F.col("lines") > 0)
    )
    missing = (
        dq_df.where((F.col("metric") == MISSING_STORE_FILE) & (F.col("value") > 0))
        .join(F.broadcast(stores_df.select("store_id", "store_name")), "store_id", "left")
        .select(
            F.format_string("%d %s", F.col("store_id"), F.coalesce("store_name", F.lit("?"))).alias(
                "item"
            ),
            F.col("store_id"),
            F.col("value").alias("missing_store_file"),
        )
    )
    return _melt(
        _positioned(rules, F.desc("lines"), F.col("item")), "quarantine_rules", ("lines",)
    ).unionByName(
        _melt(
            _positioned(missing, F.col("store_id")), "missing_store_files", ("missing_store_file",)
        )
    )


@dataclass(frozen=True)
class ReportInputs:
    """What the day's report is built from: the gold sales tables (the date and a week back),
    the references, the three promotions tables as written, and the date's dq_results."""

    summary_df: DataFrame
    store_sales_df: DataFrame
    stores_df: DataFrame
    products_df: DataFrame
    velocity_df: DataFrame
    candidates_df: DataFrame
    performance_df: DataFrame
    dq_df: DataFrame


def report_rows(run_date: date, inputs: ReportInputs, conf: PromotionSettings) -> DataFrame:
    """All sections of gold.daily_sales_report for run_date."""
    i = inputs
    sections = [
        totals(i.summary_df, run_date),
        breakdowns(i.summary_df, run_date),
        store_ranking(i.store_sales_df, i.stores_df, run_date, conf.report_stores_shown),
        fast_movers(i.velocity_df, i.products_df),
        promotion_candidates(
            i.candidates_df, i.stores_df, i.products_df, conf.report_candidates_shown
        ),
        campaigns(i.performance_df),
        quality(i.dq_df, i.stores_df),
    ]
    rows = sections[0]
    for frame in sections[1:]:
        rows = rows.unionByName(frame)
    return rows.withColumn("report_date", F.lit(run_date))
