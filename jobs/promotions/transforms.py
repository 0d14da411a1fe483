"""Velocity, promotion candidates and campaign results: pure DataFrame → DataFrame steps."""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts.types import AMOUNT, PRICE
from jobs.promotions.tables import (
    DAYS,
    LEVEL_CHAIN,
    LEVEL_REGION,
    LEVEL_STORE,
    RATIO,
    UNITS,
)
from jobs.sales.tables import CHANNEL_STORE
from jobs.settings import PromotionSettings

VELOCITY_DAYS = 28
RECENT_DAYS = 7
FAST_MOVER_SHARE = 10  # the top 1/10 of a category: its top decile
MARKDOWN_STEP = 5  # suggested markdowns are multiples of 5 %
STORE_LOCATION = "STORE-"


def window_start(run_date: date, days: int) -> date:
    """The first day of the `days`-day window ending on run_date."""
    return run_date - timedelta(days=days - 1)


def store_stock(levels_df: DataFrame) -> DataFrame:
    """(store_id, sku, on_hand) of the store locations in silver.stock_levels."""
    return levels_df.where(F.col("location_id").startswith(STORE_LOCATION)).select(
        F.substring(F.col("location_id"), len(STORE_LOCATION) + 1, 12)
        .cast("int")
        .alias("store_id"),
        "sku",
        F.col("on_hand").cast("long").alias("on_hand"),
    )


def store_units(daily_df: DataFrame, run_date: date) -> DataFrame:
    """(store_id, sku, units_7d, units_28d): units sold in stores in the two windows, summed
    from gold.daily_store_sku_sales (units_sold: the quantities of its lines sold, not
    returned)."""
    recent = F.col("sale_date") >= F.lit(window_start(run_date, RECENT_DAYS))
    sold = (
        daily_df.where(F.col("channel") == CHANNEL_STORE)
        .where(F.col("sale_date").between(window_start(run_date, VELOCITY_DAYS), run_date))
        .where(F.col("units_sold") > 0)
    )
    return sold.groupBy("store_id", "sku").agg(
        F.sum(F.when(recent, F.col("units_sold")).otherwise(0)).cast("long").alias("units_7d"),
        F.sum("units_sold").cast("long").alias("units_28d"),
    )


def _ratios(df: DataFrame) -> DataFrame:
    stock = F.greatest(F.col("on_hand"), F.lit(0))
    sold_and_held = F.col("units_28d") + stock
    return df.withColumns(
        {
            "sell_through": F.when(
                sold_and_held > 0, F.round(F.col("units_28d") / sold_and_held, 4)
            ).cast(RATIO),
            "stock_cover_days": F.when(
                F.col("units_28d") > 0,
                F.round(stock * VELOCITY_DAYS / F.col("units_28d"), 1),
            ).cast(DAYS),
        }
    )


def _ranked(df: DataFrame) -> DataFrame:
    group = Window.partitionBy("level", "region", "store_id", "category")
    return (
        df.withColumn("category_rank", F.rank().over(group.orderBy(F.desc("units_28d"))))
        .withColumn("category_skus", F.count(F.lit(1)).over(group).cast("int"))
        .withColumn(
            "fast_mover",
            (F.col("units_28d") > 0)
            & (F.col("category_rank") <= F.ceil(F.col("category_skus") / FAST_MOVER_SHARE)),
        )
    )


def product_velocity(
    units_df: DataFrame,
    stock_df: DataFrame,
    stores_df: DataFrame,
    products_df: DataFrame,
    run_date: date,
) -> DataFrame:
    """gold.product_velocity: every SKU a store sold in 28 days or holds, per store, region
    and chain; ranks and the top decile within each category at each level."""
    per_store = (
        units_df.join(stock_df.where(F.col("on_hand") != 0), ["store_id", "sku"], "full_outer")
        .select(
            "store_id",
            "sku",
            F.coalesce("units_7d", F.lit(0)).cast("long").alias("units_7d"),
            F.coalesce("units_28d", F.lit(0)).cast("long").alias("units_28d"),
            F.coalesce("on_hand", F.lit(0)).cast("long").alias("on_hand"),
        )
        .join(F.broadcast(stores_df.select("store_id", "region")), "store_id")
        .join(F.broadcast(products_df.select("sku", "category")), "sku")
    )
    # Each store row counts once at its store, once in its region, once in the chain: one
    # pass over the lines and one aggregation (three unions would scan the lines thrice).
    level = F.explode(F.array(*[F.lit(x) for x in (LEVEL_STORE, LEVEL_REGION, LEVEL_CHAIN)]))
    levels = (
        per_store.withColumn("level", level)
        .select(
            "level",
            F.when(F.col("level") != LEVEL_CHAIN, F.col("region")).alias("region"),
            F.when(F.col("level") == LEVEL_STORE, F.col("store_id")).alias("store_id"),
            "sku",
            "category",
            "units_7d",
            "units_28d",
            "on_hand",
        )
        .groupBy("level", "region", "store_id", "sku", "category")
        .agg(*[F.sum(c).cast("long").alias(c) for c in ("units_7d", "units_28d", "on_hand")])
    )
    return levels.transform(_ratios).transform(_ranked).withColumn("as_of_date", F.lit(run_date))


def running_on(campaigns_df: DataFrame, day: date) -> DataFrame:
    """The campaigns with start_date <= day <= end_date."""
    return campaigns_df.where(F.lit(day).between(F.col("start_date"), F.col("end_date")))


def _in_scope(campaign_skus: Column, campaign_categories: Column) -> Column:
    return (
        (F.col("scope") == "SKU")
        & F.coalesce(F.array_contains(campaign_skus, F.col("sku")), F.lit(False))
    ) | (
        (F.col("scope") == "CATEGORY")
        & F.coalesce(F.array_contains(campaign_categories, F.col("category")), F.lit(False))
    )


def promotion_candidates(
    velocity_df: DataFrame,
    products_df: DataFrame,
    campaigns_df: DataFrame,
    run_date: date,
    conf: PromotionSettings,
) -> DataFrame:
    """gold.promotion_candidates: store SKUs that are not fast movers, have stock, cover more
    than min_cover_days (or sold nothing in 28 days), and can take a markdown of at least one
    step while keeping min_margin_pct; SKUs of a campaign running on the date are left out.

    The markdown: the highest conf.markdown_tiers step whose cover is exceeded (no sales in 28
    days counts as the highest), capped by the margin rule. The candidates are ranked within
    each store and category by the cost value of the stock beyond min_cover_days of cover
    (what a markdown can free), and the first conf.candidates_per_store_category are kept.
    """
    running = running_on(campaigns_df, run_date)
    cover = F.col("stock_cover_days")
    no_sales = F.col("units_28d") == 0
    tier = F.lit(None).cast("int")
    for step in sorted(conf.markdown_tiers, key=lambda t: t.cover_days_over):
        tier = F.when(
            no_sales | (cover > step.cover_days_over), F.lit(step.markdown_pct)
        ).otherwise(tier)
    price, cost = F.col("list_price"), F.col("unit_cost")
    # price × (1 − md) × (1 − min_margin) >= cost  <=>  md <= 1 − cost / ((1 − min_margin) × price)
    max_markdown = F.lit(1) - cost / (F.lit(1 - conf.min_margin_pct) * price)
    max_steps = F.floor(max_markdown * 100 / MARKDOWN_STEP) * MARKDOWN_STEP
    candidates = (
        velocity_df.where(F.col("level") == LEVEL_STORE)
        .where(~F.col("fast_mover") & (F.col("on_hand") > 0))
        .where(no_sales | (cover > conf.min_cover_days))
        .join(F.broadcast(products_df.select("sku", "list_price", "unit_cost")), "sku")
        .where((price > 0) & cost.isNotNull())
        .join(
            F.broadcast(running.select("scope", "skus", "categories")),
            _in_scope(F.col("skus"), F.col("categories")),
            "left_anti",
        )
        .withColumn("suggested", F.least(tier, max_steps))
        .where(F.col("suggested") >= MARKDOWN_STEP)
        .transform(with_excess_stock, conf.min_cover_days)
        .withColumn("velocity_trend", velocity_trend())
        .withColumn(
            "rank_in_store_category",
            F.row_number().over(
                Window.partitionBy("store_id", "category").orderBy(
                    F.desc("excess_value"), F.desc_nulls_first("stock_cover_days"), "sku"
                )
            ),
        )
        .where(F.col("rank_in_store_category") <= conf.candidates_per_store_category)
    )
    return candidates.select(
        F.lit(run_date).alias("as_of_date"),
        "store_id",
        "region",
        "sku",
        "category",
        "on_hand",
        "units_28d",
        "stock_cover_days",
        "list_price",
        "unit_cost",
        F.round((price - cost) / price, 4).cast(RATIO).alias("margin_pct"),
        F.round(max_markdown, 4).cast(RATIO).alias("max_markdown_pct"),
        (F.col("suggested") / 100).cast(RATIO).alias("suggested_markdown_pct"),
        F.round(price * (F.lit(1) - F.col("suggested") / 100), 2)
        .cast(PRICE)
        .alias("markdown_price"),
        "excess_units",
        "excess_value",
        "velocity_trend",
        "rank_in_store_category",
        _candidate_reason(conf.min_cover_days, max_markdown).alias("reason"),
    )


def with_excess_stock(candidates_df: DataFrame, min_cover_days: float) -> DataFrame:
    """Adds excess_units, the stock beyond min_cover_days at the 28-day pace (all of it when
    nothing sold: on_hand − ⌈units_28d × min_cover_days / 28⌉), and excess_value, those units
    at unit cost: the money a markdown can free."""
    kept = F.ceil(F.col("units_28d") * F.lit(min_cover_days) / F.lit(VELOCITY_DAYS))
    excess = F.greatest(F.col("on_hand") - kept, F.lit(0)).cast("long")
    return candidates_df.withColumn("excess_units", excess).withColumn(
        "excess_value", (F.col("excess_units") * F.col("unit_cost")).cast(AMOUNT)
    )


def velocity_trend() -> Column:
    """`rising`, `steady` or `slowing`: the last 7 days' units against the 28-day weekly pace
    (over 125 %, 75-125 %, under 75 %); `no sales` when nothing sold in 28 days."""
    weekly = F.col("units_28d") / F.lit(VELOCITY_DAYS / 7)
    return (
        F.when(F.col("units_28d") == 0, F.lit("no sales"))
        .when(F.col("units_7d") > weekly * 1.25, F.lit("rising"))
        .when(F.col("units_7d") < weekly * 0.75, F.lit("slowing"))
        .otherwise(F.lit("steady"))
    )


def _candidate_reason(min_cover_days: float, max_markdown: Column) -> Column:
    """One line for the merchandiser: cover, excess stock at cost, margin room, trend."""
    room = F.format_number(max_markdown * 100, 1)
    excess = F.format_string(
        "%d units (%s at cost)", F.col("excess_units"), F.col("excess_value").cast("string")
    )
    return F.when(
        F.col("units_28d") == 0,
        F.format_string("no sales in 28 days; %s in stock; margin room %s %%", excess, room),
    ).otherwise(
        F.format_string(
            "cover %s days > %s; %s beyond it; margin room %s %%; %s (%d sold in 7 days, %d in 28)",
            F.col("stock_cover_days").cast("string"),
            F.lit(str(min_cover_days)),
            excess,
            room,
            F.col("velocity_trend"),
            F.col("units_7d"),
            F.col("units_28d"),
        )
    )


def campaign_lines(
    lines_df: DataFrame, products_df: DataFrame, campaigns_df: DataFrame
) -> DataFrame:
    """Store lines that a campaign covers (in scope or carrying its code), one row per pair,
    from the first day of its pre-period; flags: promo (its code), in_scope, control store."""
    campaigns = campaigns_df.withColumn(
        "pre_start", F.date_sub("start_date", F.datediff("end_date", "start_date") + 1)
    )
    lines = lines_df.where(F.col("channel") == CHANNEL_STORE).join(
        F.broadcast(products_df.select("sku", "category", "unit_cost")), "sku", "left"
    )
    in_scope = _in_scope(F.col("skus"), F.col("categories"))
    return (
        lines.join(
            F.broadcast(campaigns),
            F.col("sale_date").between(F.col("pre_start"), F.col("end_date"))
            & (in_scope | (F.col("promo_code") == F.col("campaign_code"))),
        )
        .withColumn("in_scope", in_scope)
        .withColumn(
            "is_control",
            F.coalesce(F.array_contains("control_store_ids", F.col("store_id")), F.lit(False)),
        )
    )


def _period_figures(first: Column, last: Column) -> list[Column]:
    """Aggregates over [first, last] of one campaign's lines (see campaign_lines)."""
    in_period = F.col("sale_date").between(first, last)
    promo = in_period & F.col("is_promo")
    sold = F.col("in_scope") & (F.col("quantity") > 0)
    campaign = in_period & sold & ~F.col("is_control")
    control = in_period & sold & F.col("is_control")
    pre = F.col("sale_date") < F.col("start_date")
    qty = F.col("quantity")

    def total(condition: Column, value: Column) -> Column:
        return F.coalesce(F.sum(F.when(condition, value)), F.lit(0))

    return [
        F.count_distinct(
            F.when(promo, F.concat_ws("/", F.col("store_id"), F.col("transaction_id")))
        ).alias("redemptions"),
        total(promo & (qty > 0), qty).cast("long").alias("promo_units"),
        total(promo, F.col("net_amount")).cast(AMOUNT).alias("revenue"),
        total(promo, F.col("discount_amount")).cast(AMOUNT).alias("discount_cost"),
        total(campaign, qty).cast("long").alias("campaign_units"),
        total(campaign, qty * (F.col("unit_price") - F.col("unit_cost"))).alias("margin_total"),
        total(control, qty).cast("long").alias("control_units"),
        total(pre & sold, qty).cast("long").alias("pre_units"),
    ]


def campaign_performance(
    lines_df: DataFrame,
    products_df: DataFrame,
    campaigns_df: DataFrame,
    store_count: int,
    run_date: date,
) -> DataFrame:
    """gold.campaign_performance: a DAY row per campaign running on run_date, and a FINAL row
    over the whole campaign when run_date is its last day.

    Baseline: with control stores, their units scaled by (campaign stores / control stores);
    without, the in-scope units of all stores over the pre-period of equal length, per day
    of the period measured.
    """
    running = running_on(campaigns_df, run_date).withColumnRenamed("promo_code", "campaign_code")
    lines = campaign_lines(lines_df, products_df, running).withColumn(
        "is_promo", F.col("promo_code") == F.col("campaign_code")
    )
    n_control = F.greatest(F.coalesce(F.size("control_store_ids"), F.lit(0)), F.lit(0))
    keys = ["campaign_id", "campaign_name", "start_date", "end_date", "budget", "n_control"]
    frames = []
    for row_type, first in (("DAY", F.lit(run_date)), ("FINAL", F.col("start_date"))):
        scoped = running if row_type == "DAY" else running.where(F.col("end_date") == run_date)
        figures = (
            lines.withColumn("n_control", n_control)
            .groupBy(*keys)
            .agg(*_period_figures(first, F.lit(run_date)))
        )
        # campaigns without a single line still get their row (zeros)
        frames.append(
            scoped.withColumn("n_control", n_control)
            .select(*keys)
            .join(figures, keys, "left")
            .withColumns({"row_type": F.lit(row_type), "period_start": first})
        )
    both = frames[0].unionByName(frames[1])
    days_measured = F.datediff(F.lit(run_date), F.col("period_start")) + 1
    length = F.datediff("end_date", "start_date") + 1
    zero = F.lit(0)
    with_control = F.col("n_control") > 0
    baseline = F.when(
        with_control,
        F.coalesce(F.col("control_units"), zero)
        * (F.lit(store_count) - F.col("n_control"))
        / F.col("n_control"),
    ).otherwise(F.coalesce(F.col("pre_units"), zero) * days_measured / length)
    campaign_units = F.coalesce(F.col("campaign_units"), zero)
    unit_margin = F.round(F.when(campaign_units > 0, F.col("margin_total") / campaign_units), 2)
    incremental = F.round(campaign_units - baseline, 2)
    incremental_margin = F.round(incremental * F.coalesce(unit_margin, zero), 2)
    discount = F.coalesce(F.col("discount_cost"), zero).cast(AMOUNT)
    return both.select(
        F.lit(run_date).alias("sale_date"),
        "campaign_id",
        "campaign_name",
        "row_type",
        "period_start",
        F.lit(run_date).alias("period_end"),
        F.coalesce("redemptions", zero).cast("long").alias("redemptions"),
        F.coalesce("promo_units", zero).cast("long").alias("promo_units"),
        F.coalesce("revenue", zero).cast(AMOUNT).alias("revenue"),
        discount.alias("discount_cost"),
        campaign_units.cast("long").alias("campaign_units"),
        F.when(with_control, F.lit("CONTROL_STORES"))
        .otherwise(F.lit("PRE_PERIOD"))
        .alias("baseline_method"),
        F.round(baseline, 2).cast(UNITS).alias("baseline_units"),
        incremental.cast(UNITS).alias("incremental_units"),
        unit_margin.cast(PRICE).alias("unit_margin"),
        incremental_margin.cast(AMOUNT).alias("incremental_margin"),
        F.when(discount > 0, F.round((incremental_margin - discount) / discount, 4))
        .cast(RATIO)
        .alias("roi"),
        F.col("budget").cast(AMOUNT).alias("budget"),
        F.when(F.col("budget") > 0, F.round(discount / F.col("budget"), 4))
        .cast(RATIO)
        .alias("budget_used_pct"),
    )
