"""The promotions job (issue #6) end to end on a hand-made month of sales: velocity, cover,
promotion candidates, campaign baselines, incrementality and ROI, and the report's figures.

Four stores (1, 2 North; 3, 4 South), six products, three campaigns. Every expected value is
worked out by hand in the comments; the tables are read back with deltalake, not Spark; the
report's sales figures are checked against pandas on the sales lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from jobs.context import RunContext
from jobs.inventory.tables import STOCK_LEVELS
from jobs.lake import ensure_table
from jobs.sales.tables import (
    DQ_RESULTS,
    GOLD_DAILY_SALES_SUMMARY,
    GOLD_DAILY_STORE_SALES,
    GOLD_DAILY_STORE_SKU_SALES,
    SILVER_SALES_LINES,
)
from jobs.sales.transforms import daily_store_sku_sales
from jobs.settings import Settings
from tests.conftest import PROJECT_ROOT
from tests.tables import snapshot, table

DAY = date(2024, 3, 28)  # a Thursday; 7 days: 03-22..03-28; 28 days: 03-01..03-28
WEEK_AGO = DAY - timedelta(days=7)
STORES = [
    "store_id,store_name,region,city,format,opened_on",
    "1,Lille Centre,North,Lille,HYPER,2010-01-01",
    "2,Arras,North,Arras,SUPER,2012-01-01",
    "3,Nimes,South,Nimes,HYPER,2011-01-01",
    "4,Ales,South,Ales,PROXI,2015-01-01",
]
PRODUCTS = [
    "sku,product_name,category,subcategory,brand,unit_cost,list_price,active",
    "G1,Pasta,Grocery,Dry,Orbis,3.00,5.00,true",
    "G2,Olive oil,Grocery,Dry,Orbis,5.00,10.00,true",
    "G3,Rice,Grocery,Dry,Orbis,3.20,4.00,true",
    "T1,Socks,Textile,Kids,Verano,6.00,15.00,true",
    "T2,Scarf,Textile,Adult,Verano,18.00,20.00,true",
    "H1,Vase,Home,Decoration,Nordica,2.00,10.00,true",
]
CAMPAIGNS = [
    # C1: SKU G1, ends on DAY (a FINAL row), store 4 is its control store.
    {
        "campaign_id": "C1",
        "campaign_name": "Pasta week",
        "promo_code": "SAVE10",
        "start_date": "2024-03-26",
        "end_date": "2024-03-28",
        "discount_pct": 10.00,
        "scope": "SKU",
        "skus": ["G1"],
        "categories": None,
        "budget": 100.00,
        "control_store_ids": [4],
    },
    # C2: category Home, 10 days from 03-27, no control: pre-period 03-17..03-26.
    {
        "campaign_id": "C2",
        "campaign_name": "Home days",
        "promo_code": "HOME5",
        "start_date": "2024-03-27",
        "end_date": "2024-04-05",
        "discount_pct": 5.00,
        "scope": "CATEGORY",
        "skus": None,
        "categories": ["Home"],
        "budget": 50.00,
        "control_store_ids": None,
    },
    # C3: ended on 03-20: no row, and G2 stays a candidate.
    {
        "campaign_id": "C3",
        "campaign_name": "Oil",
        "promo_code": "OLD",
        "start_date": "2024-03-01",
        "end_date": "2024-03-20",
        "discount_pct": 10.00,
        "scope": "SKU",
        "skus": ["G2"],
        "categories": None,
        "budget": 10.00,
        "control_store_ids": None,
    },
]
# (day of March, store, transaction, sku, quantity, unit price, discount, promo code)
LINES: list[tuple[int, int, str, str, int, str, str, str | None]] = [
    (25, 1, "S1-1", "G1", 10, "5.00", "0.00", None),
    (5, 1, "S1-2", "G1", 20, "5.00", "0.00", None),
    (26, 1, "S1-3", "G1", -2, "5.00", "0.00", None),  # a return: no units sold
    (-9, 1, "S1-4", "G1", 100, "5.00", "0.00", None),  # 20 Feb: before the 28 days
    (10, 1, "S1-5", "G2", 3, "10.00", "0.00", None),
    (28, 1, "S1-6", "T1", 4, "15.00", "0.00", None),
    (27, 2, "S2-1", "G1", 8, "5.00", "0.00", None),
    (20, 2, "S2-2", "G2", 6, "10.00", "0.00", None),
    (28, 3, "A", "G1", 4, "5.00", "2.00", "SAVE10"),
    (28, 3, "B", "G1", 2, "5.00", "0.00", None),
    (27, 3, "C", "G1", 1, "5.00", "0.50", "SAVE10"),
    (18, 3, "H-1", "H1", 5, "10.00", "0.00", None),
    (20, 3, "H-2", "H1", 5, "10.00", "0.00", None),
    (16, 3, "H-3", "H1", 7, "10.00", "0.00", None),  # before C2's pre-period
    (28, 3, "H-4", "H1", 3, "10.00", "1.50", "HOME5"),
    (28, 3, "H-5", "H1", 1, "10.00", "0.00", None),
    (21, 3, "G-1", "G3", 2, "4.00", "0.00", None),  # the same day last week
    (28, 4, "K1", "G1", 1, "5.00", "0.00", None),
    (26, 4, "K2", "G1", 2, "5.00", "0.00", None),
]
STOCK = [
    ("STORE-1", "G1", 10),
    ("STORE-1", "G2", 40),
    ("STORE-1", "G3", 50),
    ("STORE-1", "T1", -3),
    ("STORE-1", "T2", 30),
    ("STORE-1", "H1", 5),
    ("STORE-2", "G2", 24),
    ("WH-01", "G1", 999),  # a warehouse: not a store's stock
]
DQ = [  # (store, metric, value) on DAY
    (1, "input_lines", 12),
    (1, "quarantined", 3),
    (1, "unknown_sku", 2),
    (1, "bad_type", 1),
    (2, "missing_store_file", 1),
]


def sale_date(day_of_march: int) -> date:
    return date(2024, 3, 1) + timedelta(days=day_of_march - 1)


def sales_rows() -> list[dict[str, Any]]:
    rows = []
    for day, store, txn, sku, qty, price, discount, promo in LINES:
        on = sale_date(day)
        rows.append(
            {
                "sale_date": on,
                "store_id": store,
                "channel": "STORE",
                "transaction_id": txn,
                "line_number": 1,
                "register_id": "R1",
                "transaction_ts": datetime(on.year, on.month, on.day, 10),
                "sku": sku,
                "quantity": qty,
                "unit_price": Decimal(price),
                "discount_amount": Decimal(discount),
                "net_amount": qty * Decimal(price) - Decimal(discount),
                "promo_code": promo,
                "loyalty_id": None,
                "payment_method": "CARD",
                "fulfilment_location_id": None,
                "source_file": "hand-made",
            }
        )
    return rows


def write_table(spark: Any, spec: Any, lake: Path, rows: list[dict[str, Any]]) -> None:
    write_frame(spec, lake, spark.createDataFrame(rows, spec.schema))


def write_frame(spec: Any, lake: Path, frame: Any) -> None:
    ensure_table(frame.sparkSession, spec, str(lake))
    columns = [frame[f.name].cast(f.dataType).alias(f.name) for f in spec.schema]
    frame.select(*columns).write.format("delta").mode("append").save(spec.path(str(lake)))


def context_for(base: Settings, landing: Path, lake: Path, day: date) -> RunContext:
    paths = base.paths.model_copy(update={"landing_root": str(landing), "lake_root": str(lake)})
    return RunContext(base.model_copy(update={"paths": paths}), day)


@pytest.fixture(scope="module")
def world(spark: Any, local_settings: Settings, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Landing reference files, silver sales, stock and DQ rows; then sales-gold for DAY and
    a week before, promotions and the report for DAY."""
    from jobs import report
    from jobs.promotions import run as run_promotions
    from jobs.sales import run_gold_step

    root = tmp_path_factory.mktemp("promotions")
    landing, lake = root / "landing", root / "lake"
    (landing / "reference").mkdir(parents=True)
    (landing / "reference" / "stores.csv").write_text("\n".join(STORES) + "\n")
    (landing / "reference" / "products.csv").write_text("\n".join(PRODUCTS) + "\n")
    (landing / "reference" / "campaigns.jsonl").write_text(
        "".join(json.dumps(c) + "\n" for c in CAMPAIGNS)
    )
    write_table(spark, SILVER_SALES_LINES, lake, sales_rows())
    at = datetime(2024, 3, 28, 23)
    write_table(
        spark,
        STOCK_LEVELS,
        lake,
        [
            {
                "location_id": location,
                "sku": sku,
                "on_hand": on_hand,
                "last_movement_ts": at,
                "count_on_hand": None,
                "last_count_ts": None,
                "updated_at": at,
            }
            for location, sku, on_hand in STOCK
        ],
    )
    write_table(
        spark,
        DQ_RESULTS,
        lake,
        [
            {"sale_date": DAY, "store_id": s, "job": "sales", "metric": m, "value": v}
            for s, m, v in DQ
        ],
    )
    # gold.daily_store_sku_sales of the other days, as sales-gold writes it (its transform is
    # checked against pandas in test_sales_job); sales-gold itself runs for WEEK_AGO and DAY.
    earlier = spark.read.format("delta").load(SILVER_SALES_LINES.path(str(lake)))
    write_frame(
        GOLD_DAILY_STORE_SKU_SALES,
        lake,
        daily_store_sku_sales(earlier.where(~earlier.sale_date.isin(WEEK_AGO, DAY))),
    )
    for day in (WEEK_AGO, DAY):
        run_gold_step(context_for(local_settings, landing, lake, day))
    run_promotions(context_for(local_settings, landing, lake, DAY))
    report.run(context_for(local_settings, landing, lake, DAY))
    return root


def rows_of(lake: Path, name: str, **where: Any) -> pd.DataFrame:
    df = table(lake, name)
    for column, value in where.items():
        df = df[df[column] == value]
    return df


def as_tuple(row: pd.Series, columns: list[str]) -> tuple[Any, ...]:
    values = []
    for column in columns:
        value = row[column]
        values.append(
            None if pd.isna(value) else str(value) if isinstance(value, Decimal) else value
        )
    return tuple(values)


VELOCITY_COLUMNS = [
    "units_7d",
    "units_28d",
    "on_hand",
    "sell_through",
    "stock_cover_days",
    "category_rank",
    "category_skus",
    "fast_mover",
]


def test_velocity_per_store_by_hand(world: Path) -> None:
    stores = rows_of(world / "lake", "gold.product_velocity", level="STORE")
    got = {(int(r.store_id), r.sku): as_tuple(r, VELOCITY_COLUMNS) for _, r in stores.iterrows()}
    assert got == {
        # G1: 10 on 03-25 (7 days), 20 on 03-05; the return and 20 Feb do not count.
        # sell-through 30 / (30 + 10); cover 10 × 28 / 30 = 9.33; top 1 of 3 = ceil(3/10).
        (1, "G1"): (10, 30, 10, "0.7500", "9.3", 1, 3, True),
        # 3 / 43 = 0.06977; 40 × 28 / 3 = 373.33
        (1, "G2"): (0, 3, 40, "0.0698", "373.3", 2, 3, False),
        (1, "G3"): (0, 0, 50, "0.0000", None, 3, 3, False),  # stocked, never sold
        (1, "T1"): (4, 4, -3, "1.0000", "0.0", 1, 2, True),  # negative stock counts as 0
        (1, "T2"): (0, 0, 30, "0.0000", None, 2, 2, False),
        (1, "H1"): (0, 0, 5, "0.0000", None, 1, 1, False),  # first, but sold nothing
        (2, "G1"): (8, 8, 0, "1.0000", "0.0", 1, 2, True),
        (2, "G2"): (0, 6, 24, "0.2000", "112.0", 2, 2, False),  # 24 × 28 / 6
        (3, "G1"): (7, 7, 0, "1.0000", "0.0", 1, 2, True),
        (3, "G3"): (0, 2, 0, "1.0000", "0.0", 2, 2, False),  # 03-21: not in 7 days
        (3, "H1"): (4, 21, 0, "1.0000", "0.0", 1, 1, True),  # 5 + 5 + 7 + 3 + 1
        (4, "G1"): (3, 3, 0, "1.0000", "0.0", 1, 1, True),
    }


def test_velocity_per_region_and_chain_by_hand(world: Path) -> None:
    lake = world / "lake"
    north = rows_of(lake, "gold.product_velocity", level="REGION", region="North")
    got = {r.sku: as_tuple(r, VELOCITY_COLUMNS) for _, r in north.iterrows()}
    assert got == {
        # stores 1 + 2: 38 / (38 + 10) = 0.79167; 10 × 28 / 38 = 7.37
        "G1": (18, 38, 10, "0.7917", "7.4", 1, 3, True),
        # 9 / (9 + 64) = 0.12329; 64 × 28 / 9 = 199.11
        "G2": (0, 9, 64, "0.1233", "199.1", 2, 3, False),
        "G3": (0, 0, 50, "0.0000", None, 3, 3, False),
        "T1": (4, 4, -3, "1.0000", "0.0", 1, 2, True),
        "T2": (0, 0, 30, "0.0000", None, 2, 2, False),
        "H1": (0, 0, 5, "0.0000", None, 1, 1, False),
    }
    chain = rows_of(lake, "gold.product_velocity", level="CHAIN", sku="G1").iloc[0]
    # 7 days: 10 + 8 + 7 + 3; 28 days: 30 + 8 + 7 + 3; stock 10 (the warehouse's is not).
    assert as_tuple(chain, VELOCITY_COLUMNS[:3]) == (28, 48, 10)


def test_promotion_candidates_by_hand(world: Path) -> None:
    candidates = rows_of(world / "lake", "gold.promotion_candidates")
    columns = [
        "suggested_markdown_pct",
        "max_markdown_pct",
        "markdown_price",
        "excess_units",
        "excess_value",
        "velocity_trend",
        "rank_in_store_category",
        "reason",
    ]
    got = {(int(r.store_id), r.sku): as_tuple(r, columns) for _, r in candidates.iterrows()}
    assert got == {
        # cover 373.3 > 120: 30 %; margin room 1 − 5 / (0.85 × 10) = 0.4118 → up to 40 %.
        # 60 days at 3 units / 28 days keep ⌈6.43⌉ = 7 of the 40: 33 beyond, × 5.00 = 165.00.
        # 0 sold in 7 days against a weekly pace of 3 / 4 = 0.75: slowing. First in Grocery.
        (1, "G2"): (
            "0.3000", "0.4118", "7.00", 33, "165.00", "slowing", 1,
            "cover 373.3 days > 60.0; 33 units (165.00 at cost) beyond it; margin room 41.2 %; "
            "slowing (0 sold in 7 days, 3 in 28)",
        ),
        # never sold: the top tier, 30 %, but 1 − 3.20 / (0.85 × 4) = 0.0588 allows 5 %;
        # all 50 units are excess, × 3.20 = 160.00 < 165.00: second in store 1's Grocery.
        (1, "G3"): (
            "0.0500", "0.0588", "3.80", 50, "160.00", "no sales", 2,
            "no sales in 28 days; 50 units (160.00 at cost) in stock; margin room 5.9 %",
        ),
        # cover 112.0: over 90, not 120 → 20 %; keep ⌈6 × 60 / 28⌉ = 13 of 24: 11 × 5 = 55.00.
        (2, "G2"): (
            "0.2000", "0.4118", "8.00", 11, "55.00", "slowing", 1,
            "cover 112.0 days > 60.0; 11 units (55.00 at cost) beyond it; margin room 41.2 %; "
            "slowing (0 sold in 7 days, 6 in 28)",
        ),
    }  # fmt: skip
    # Not there: fast movers (G1, T1), T2 (1 − 18 / 17 < 0: no room), H1 (Home is in the
    # running campaign C2), nothing at the warehouse; C3 (G2) ended on 03-20.


def test_candidates_are_capped_per_store_and_category_in_rank_order(
    spark: Any, local_settings: Settings
) -> None:
    from jobs.contracts.campaigns import CAMPAIGN_SCHEMA
    from jobs.promotions.transforms import promotion_candidates

    # Store 1, Grocery: A never sold, 10 units at 2.00 = 20.00 of excess; B sold 28 in 28
    # days with 100 on hand (cover 100 days): keep ⌈28 × 60 / 28⌉ = 60, 40 × 1.00 = 40.00;
    # C: cover 70, keep 60 of 70, 10 × 1.00 = 10.00. Ranks: B, A, C. Store 1, Home: D alone.
    velocity = spark.createDataFrame(
        [
            ("STORE", 1, "N", "A", "Grocery", 10, 0, 0, None, False),
            ("STORE", 1, "N", "B", "Grocery", 100, 7, 28, Decimal("100.0"), False),
            ("STORE", 1, "N", "C", "Grocery", 70, 14, 28, Decimal("70.0"), False),
            ("STORE", 1, "N", "D", "Home", 70, 7, 28, Decimal("70.0"), False),
        ],
        "level string, store_id int, region string, sku string, category string, on_hand long, "
        "units_7d long, units_28d long, stock_cover_days decimal(10,1), fast_mover boolean",
    )
    products = spark.createDataFrame(
        [(sku, Decimal(cost), Decimal("10.00")) for sku, cost in
         (("A", "2.00"), ("B", "1.00"), ("C", "1.00"), ("D", "1.00"))],
        "sku string, unit_cost decimal(12,2), list_price decimal(12,2)",
    )  # fmt: skip
    no_campaigns = spark.createDataFrame([], CAMPAIGN_SCHEMA)

    def kept(cap: int) -> list[tuple[str, int, str, str]]:
        conf = local_settings.promotions.model_copy(update={"candidates_per_store_category": cap})
        rows = promotion_candidates(velocity, products, no_campaigns, DAY, conf).collect()
        return sorted(
            (r.sku, r.rank_in_store_category, str(r.excess_value), r.velocity_trend) for r in rows
        )

    # Trends: B 7 in 7 days = its weekly pace (steady); C 14 > 7 × 1.25 (rising).
    assert kept(1) == [("B", 1, "40.00", "steady"), ("D", 1, "10.00", "steady")]
    assert kept(3) == [
        ("A", 2, "20.00", "no sales"),
        ("B", 1, "40.00", "steady"),
        ("C", 3, "10.00", "rising"),
        ("D", 1, "10.00", "steady"),
    ]


def test_the_report_lists_the_largest_candidates_first(world: Path) -> None:
    report = rows_of(world / "lake", "gold.daily_sales_report", report_date=DAY)
    shown = report[(report.section == "promotion_candidates") & (report.metric == "excess_value")]
    assert [
        (item, str(value)) for item, value in zip(shown.sort_values("position").item,
                                                  shown.sort_values("position").value, strict=True)
    ] == [
        ("1 Lille Centre: G2 Olive oil (Grocery), slowing", "165.0000"),
        ("1 Lille Centre: G3 Rice (Grocery), no sales", "160.0000"),
        ("2 Arras: G2 Olive oil (Grocery), slowing", "55.0000"),
    ]  # fmt: skip


PERFORMANCE_COLUMNS = [
    "period_start",
    "redemptions",
    "promo_units",
    "revenue",
    "discount_cost",
    "campaign_units",
    "baseline_method",
    "baseline_units",
    "incremental_units",
    "unit_margin",
    "incremental_margin",
    "roi",
    "budget_used_pct",
]


def test_campaign_baselines_incrementality_and_roi_by_hand(world: Path) -> None:
    performance = rows_of(world / "lake", "gold.campaign_performance", sale_date=DAY)
    got = {
        (r.campaign_id, r.row_type): as_tuple(r, PERFORMANCE_COLUMNS)
        for _, r in performance.iterrows()
    }
    assert got == {
        # C1 on 03-28: promo line A (4 units, 18.00, discount 2.00); campaign stores 1-3 sold
        # 4 + 2 = 6; control store 4 sold 1, × 3 campaign stores / 1 control = 3.00 expected;
        # +3.00 units × margin (5.00 − 3.00) = 6.00; ROI (6.00 − 2.00) / 2.00 = 2; 2 / 100.
        ("C1", "DAY"): (
            DAY, 1, 4, "18.00", "2.00", 6, "CONTROL_STORES",
            "3.00", "3.00", "2.00", "6.00", "2.0000", "0.0200",
        ),
        # C1 over 03-26..03-28: A and C (5 units, 22.50, 2.50); campaign stores 0 (a return)
        # + 9 (store 2: 8, C: 1) + 6 = 15; control 2 + 1 = 3 → 9.00; +6.00 × 2.00 = 12.00;
        # ROI (12.00 − 2.50) / 2.50 = 3.8.
        ("C1", "FINAL"): (
            date(2024, 3, 26), 2, 5, "22.50", "2.50", 15, "CONTROL_STORES",
            "9.00", "6.00", "2.00", "12.00", "3.8000", "0.0250",
        ),
        # C2 (10 days, no control): pre-period 03-17..03-26 sold 5 + 5 = 10 → 1.00 a day;
        # 03-28 sold 3 + 1 = 4 → +3.00 × (10.00 − 2.00) = 24.00; ROI (24.00 − 1.50) / 1.50.
        ("C2", "DAY"): (
            DAY, 1, 3, "28.50", "1.50", 4, "PRE_PERIOD",
            "1.00", "3.00", "8.00", "24.00", "15.0000", "0.0300",
        ),
    }  # fmt: skip


def test_report_figures_equal_pandas_on_the_sales_lines(world: Path) -> None:
    lake = world / "lake"
    report = rows_of(lake, "gold.daily_sales_report", report_date=DAY)
    lines = table(lake, "silver.sales_lines")
    stores = pd.read_csv(world / "landing" / "reference" / "stores.csv")
    lines = lines.merge(stores[["store_id", "region"]], on="store_id")

    def figure(section: str, item: str, metric: str) -> tuple[Decimal, Decimal | None]:
        row = report[
            (report.section == section) & (report.item == item) & (report.metric == metric)
        ]
        assert len(row) == 1, (section, item, metric)
        week = row.last_week.iloc[0]
        return row.value.iloc[0], None if pd.isna(week) else week

    def net(df: pd.DataFrame) -> Decimal:
        return sum((Decimal(str(v)) for v in df.net_amount), Decimal(0))

    today, week_ago = lines[lines.sale_date == DAY], lines[lines.sale_date == WEEK_AGO]
    assert figure("totals", "All channels", "net_sales") == (net(today), net(week_ago))
    for region in ("North", "South"):
        this_region = figure("region", region, "net_sales")
        assert this_region[0] == net(today[today.region == region])
    by_store = today.groupby("store_id").net_amount.sum().sort_values(ascending=False)
    top = report[(report.section == "top_stores") & (report.metric == "net_sales")]
    assert [int(item.split()[0]) for item in top.sort_values("position").item] == list(
        by_store.index
    )
    rules = report[report.section == "quarantine_rules"]
    assert dict(zip(rules.item, rules.value.map(int), strict=True)) == {
        "unknown_sku": 2,
        "bad_type": 1,
    }
    missing = report[report.section == "missing_store_files"]
    assert list(missing.item) == ["2 Arras"]
    campaigns = report[(report.section == "campaigns") & (report.metric == "roi")]
    assert sorted(zip(campaigns.item, campaigns.value.map(str), strict=True)) == [
        ("C1 Pasta week", "2.0000"),
        ("C1 Pasta week (final result)", "3.8000"),
        ("C2 Home days", "15.0000"),
    ]


def test_a_rerun_gives_the_same_tables(world: Path, local_settings: Settings) -> None:
    from jobs.promotions import run as run_promotions
    from jobs.promotions.tables import ALL_TABLES

    lake = world / "lake"
    before = {spec.name: snapshot(lake, spec.name) for spec in ALL_TABLES}
    run_promotions(context_for(local_settings, world / "landing", lake, DAY))
    for spec in ALL_TABLES:
        pd.testing.assert_frame_equal(snapshot(lake, spec.name), before[spec.name], obj=spec.name)


CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
# As root on a closed network: no sandbox, and none of Chromium's background connections.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1200,900",
)


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Headless Debian Chromium driven through chromium-driver (WebDriver)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    assert CHROMIUM.exists() and CHROMEDRIVER.exists(), (
        "Debian's chromium and chromium-driver are missing: `make setup` installs them"
    )
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={tmp_path_factory.mktemp('chromium')}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    yield driver
    driver.quit()


def shown(metric: str, value: Decimal) -> str:
    """How the page should print a figure: ratios in %, money and unit deltas with 2
    decimals, counts whole (worked out here, not with the report's formatter)."""
    if pd.isna(value):
        return "–"
    if metric in ("sell_through", "roi", "suggested_markdown_pct"):
        return f"{(value * 100).quantize(Decimal('0.1'), rounding=ROUND_HALF_UP):,} %"
    if metric in ("net_sales", "revenue", "discount_cost", "incremental_units", "excess_value"):
        return f"{value:,.2f}"
    return f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


def test_the_page_shows_the_gold_figures_in_a_real_browser(world: Path, browser: Any) -> None:
    from selenium.webdriver.common.by import By

    lake = world / "lake"
    page = lake / "reports" / "daily" / f"date={DAY}" / "index.html"
    browser.get(page.as_uri())
    heading = browser.find_element(By.TAG_NAME, "h1").text
    assert heading == "RetailMax daily sales report – Thursday 28 March 2024"

    def cell(section: str, item: str, metric: str) -> str:
        selector = f'[data-section="{section}"][data-metric="{metric}"]'
        found = [
            element
            for element in browser.find_elements(By.CSS_SELECTOR, selector)
            if element.get_attribute("data-item") == item
        ]
        assert len(found) == 1, (section, item, metric)
        return str(found[0].text)

    report = rows_of(lake, "gold.daily_sales_report", report_date=DAY)
    assert len(report) > 40
    for _, row in report.iterrows():
        item = row["item"]
        assert cell(row.section, item, row.metric) == shown(row.metric, row.value)
        if row.metric == "net_sales" and not pd.isna(row.last_week):
            assert cell(row.section, item, "net_sales_last_week") == shown(
                "net_sales", row.last_week
            )
    # The South's 66.50 + 5.00 against the North's 60.00 on the region chart.
    bars = browser.find_elements(By.CSS_SELECTOR, "#chart-region rect.bar.value")
    widths = {bar.get_attribute("data-item"): bar.rect["width"] for bar in bars}
    assert set(widths) == {"North", "South"}
    assert widths["North"] / widths["South"] == pytest.approx(60.00 / 71.50, rel=1e-3)
    text = browser.find_element(By.TAG_NAME, "body").text
    assert "Every open store sent its file." not in text  # store 2's file is missing

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(1200, int(height) + 300)
    ARTIFACTS.mkdir(exist_ok=True)
    screenshot = ARTIFACTS / f"daily_report_{DAY}.png"
    assert browser.save_screenshot(str(screenshot))
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_campaign_ending_before_it_starts_is_refused_in_one_line(
    spark: Any, tmp_path: Path
) -> None:
    from jobs.errors import RetailMaxError
    from jobs.promotions.extract import extract_campaigns

    (tmp_path / "reference").mkdir()
    broken = {**CAMPAIGNS[0], "start_date": "2024-03-29"}
    (tmp_path / "reference" / "campaigns.jsonl").write_text(json.dumps(broken) + "\n")
    with pytest.raises(RetailMaxError) as error:
        extract_campaigns(spark, str(tmp_path))
    assert str(error.value) == (
        "campaigns.jsonl: campaign C1 ends (2024-03-28) before it starts (2024-03-29)"
    )
    assert extract_campaigns(spark, str(tmp_path / "nowhere")).isEmpty()  # no file: none


def test_a_date_without_gold_sales_exits_3_before_writing(
    spark: Any, local_settings: Settings, tmp_path: Path
) -> None:
    from jobs.errors import ExitCode, MissingInputError
    from jobs.promotions import run as run_promotions

    with pytest.raises(MissingInputError) as error:
        run_promotions(context_for(local_settings, tmp_path / "landing", tmp_path / "lake", DAY))
    assert str(error.value) == (
        "gold.daily_sales_summary has no rows for 2024-03-28: run sales and sales-gold first"
    )
    assert error.value.exit_code == ExitCode.MISSING_INPUT
    assert not (tmp_path / "lake" / "gold").exists()


def test_a_velocity_day_missing_from_the_daily_sku_table_exits_3_before_writing(
    spark: Any, world: Path, local_settings: Settings, tmp_path: Path
) -> None:
    """Store sales on 03-05 in gold.daily_store_sales but not in gold.daily_store_sku_sales (a
    lake from before sales-gold wrote it): the velocity would count 03-05 as a day without
    sales, so the run stops in one line naming the date."""
    from jobs.errors import ExitCode, MissingInputError
    from jobs.promotions import run as run_promotions

    lake = tmp_path / "lake"
    write_table(spark, GOLD_DAILY_SALES_SUMMARY, lake, [{"sale_date": DAY, "channel": "STORE"}])
    write_table(
        spark,
        GOLD_DAILY_STORE_SALES,
        lake,
        [{"sale_date": day, "store_id": 1} for day in (sale_date(5), DAY)],
    )
    write_table(
        spark,
        GOLD_DAILY_STORE_SKU_SALES,
        lake,
        [
            {"sale_date": DAY, "store_id": 1, "sku": "G1", "channel": "STORE"},
            {"sale_date": sale_date(5), "store_id": 0, "sku": "G1", "channel": "ONLINE"},
        ],
    )
    with pytest.raises(MissingInputError) as error:
        run_promotions(context_for(local_settings, world / "landing", lake, DAY))
    assert str(error.value) == (
        "gold.daily_store_sku_sales has no store rows for 2024-03-05 "
        "(gold.daily_store_sales has): run sales-gold for those dates"
    )
    assert error.value.exit_code == ExitCode.MISSING_INPUT
    assert not (lake / "gold" / "product_velocity").exists()
