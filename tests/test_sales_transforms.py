"""Unit tests of the sales transforms on tiny hand-made frames; expected values by hand."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest
from chispa import assert_df_equality
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.errors import DataQualityGateError
from jobs.quality import StoreDayFigures, check_gate
from jobs.sales import transforms
from jobs.sales.tables import RAW_COLUMNS

D = date(2024, 3, 4)
RAW_SCHEMA = T.StructType(
    [
        T.StructField("case", T.StringType()),
        T.StructField("sale_date", T.DateType()),
        T.StructField("store_id", T.IntegerType()),
        *[T.StructField(name, T.StringType()) for name in RAW_COLUMNS],
        T.StructField("raw_line", T.StringType()),
        T.StructField("source_file", T.StringType()),
        T.StructField("source_modified_at", T.TimestampType()),
    ]
)
GOOD = {
    "transaction_id": "T1",
    "line_number": "1",
    "pos_store_id": "1",
    "register_id": "R01",
    "transaction_ts": "2024-03-04T10:00:00+01:00",
    "sku": "SKU1",
    "quantity": "2",
    "unit_price": "5.00",
    "discount_amount": None,
    "promo_code": None,
    "loyalty_id": None,
    "payment_method": "CARD",
}


def raw_rows(
    spark: SparkSession,
    cases: dict[str, dict[str, str | None]],
    file: str = "/l/pos/sale_date=2024-03-04/store_id=1/pos_R01_001.csv",
) -> DataFrame:
    rows = []
    for case, changes in cases.items():
        values = {**GOOD, **changes}
        raw_line = values.pop("raw_line", None)
        rows.append((case, D, 1, *[values[c] for c in RAW_COLUMNS], raw_line, file, None))
    return spark.createDataFrame(rows, RAW_SCHEMA)


@pytest.fixture(scope="module")
def references(spark: SparkSession) -> tuple[DataFrame, DataFrame]:
    stores_df = spark.createDataFrame([(1, None), (2, None)], "store_id int, opened_on date")
    products_df = spark.createDataFrame([("SKU1",), ("SKU2",)], "sku string")
    return stores_df, products_df


CASES: dict[str, tuple[dict[str, str | None], list[str]]] = {
    "valid sale": ({}, []),
    "valid return, no discount": ({"quantity": "-1", "discount_amount": "0.00"}, []),
    "discount equal to the amount": ({"discount_amount": "10.00"}, []),
    "local date kept though UTC is the day before": (
        {"transaction_ts": "2024-03-04T00:30:00+01:00"},
        [],
    ),
    "quoted empty string is null": ({"promo_code": ""}, []),
    "null row": ({c: None for c in RAW_COLUMNS}, ["missing_required", "store_mismatch"]),
    "empty sku": ({"sku": ""}, ["missing_required"]),
    "decimal comma": ({"unit_price": "5,00"}, ["bad_type"]),
    "three decimals": ({"unit_price": "5.001"}, ["bad_type"]),
    "fractional quantity": ({"quantity": "1.5"}, ["bad_type"]),
    "line number zero": ({"line_number": "0"}, ["bad_type"]),
    "timestamp without offset": ({"transaction_ts": "2024-03-04T10:00:00"}, ["bad_type"]),
    "impossible date": ({"transaction_ts": "2024-02-30T10:00:00+01:00"}, ["bad_type"]),
    "zero quantity": ({"quantity": "0"}, ["zero_quantity"]),
    # Literally, a 0 discount is more than 2 x -0.01 on a sale: both rules (DATA-CONTRACT.md).
    "negative price": ({"unit_price": "-0.01"}, ["negative_amount", "discount_exceeds_amount"]),
    "negative discount": ({"discount_amount": "-1.00"}, ["negative_amount"]),
    "discount one cent over": ({"discount_amount": "10.01"}, ["discount_exceeds_amount"]),
    "discounted return": (
        {"quantity": "-1", "discount_amount": "0.01"},
        ["discount_exceeds_amount"],
    ),
    "other store's id": ({"pos_store_id": "2"}, ["store_mismatch"]),
    "store not in stores.csv": ({"pos_store_id": "99"}, ["store_mismatch"]),
    "unknown sku": ({"sku": "SKU9"}, ["unknown_sku"]),
    "sold the day before": ({"transaction_ts": "2024-03-03T23:59:59+01:00"}, ["date_mismatch"]),
    "lower-case payment": ({"payment_method": "card"}, ["bad_payment_method"]),
    "two rules": (
        {"sku": "SKU9", "payment_method": "CHEQUE"},
        ["unknown_sku", "bad_payment_method"],
    ),
    "malformed": ({"raw_line": "T1,1,1,R01", "payment_method": None}, ["malformed_row"]),
}


def test_each_contract_rule_on_its_edge_rows(spark: SparkSession, references) -> None:
    stores_df, products_df = references
    raw_df = raw_rows(spark, {case: changes for case, (changes, _) in CASES.items()})
    actual_df = raw_df.transform(transforms.with_rule_violations, stores_df, products_df).select(
        "case", "rules"
    )
    expected_df = spark.createDataFrame(
        [(case, rules) for case, (_, rules) in CASES.items()], "case string, rules array<string>"
    )
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_valid_and_quarantined_split_every_line(spark: SparkSession, references) -> None:
    stores_df, products_df = references
    raw_df = raw_rows(spark, {case: changes for case, (changes, _) in CASES.items()})
    checked_df = raw_df.transform(transforms.with_rule_violations, stores_df, products_df)
    valid = transforms.filter_valid(checked_df).count()
    quarantined = transforms.filter_quarantined(checked_df).count()
    assert (valid, quarantined) == (5, len(CASES) - 5)


def test_duplicates_count_once_and_the_last_file_wins(spark: SparkSession, references) -> None:
    stores_df, products_df = references
    f1 = "/l/pos/sale_date=2024-03-04/store_id=1/pos_R01_001.csv"
    f2 = "/l/pos/sale_date=2024-03-04/store_id=1/pos_R01_002.csv"
    raw_df = (
        raw_rows(spark, {"A": {"transaction_id": "A"}}, f1)
        .unionByName(raw_rows(spark, {"A again": {"transaction_id": "A"}}, f2))
        .unionByName(raw_rows(spark, {"B old": {"transaction_id": "B"}}, f1))
        .unionByName(raw_rows(spark, {"B new": {"transaction_id": "B", "quantity": "3"}}, f2))
        .unionByName(raw_rows(spark, {"C1": {"transaction_id": "C"}}, f1))
        .unionByName(raw_rows(spark, {"C1 again": {"transaction_id": "C"}}, f1))
        .unionByName(raw_rows(spark, {"C new": {"transaction_id": "C", "quantity": "4"}}, f2))
        .unionByName(raw_rows(spark, {"bad": {"transaction_id": "D", "quantity": "0"}}, f1))
    )
    checked_df = raw_df.transform(transforms.with_rule_violations, stores_df, products_df)
    deduped_df = transforms.filter_valid(checked_df).transform(transforms.dedupe_lines)
    winners = {
        row.transaction_id: (row.quantity, row.source_file.rsplit("/", 1)[-1])
        for row in deduped_df.collect()
    }
    assert winners == {
        "A": ("2", "pos_R01_002.csv"),
        "B": ("3", "pos_R01_002.csv"),
        "C": ("4", "pos_R01_002.csv"),
    }
    figures = transforms.store_day_figures(checked_df, deduped_df).collect()
    # 8 input lines: 3 keys kept, 1 quarantined; A: 1 duplicate; B: 1 superseded;
    # C: 1 duplicate (C1 twice) and 1 superseded (C1 by C new).
    assert [
        (r.input_lines, r.valid_distinct, r.quarantined, r.duplicates, r.superseded)
        for r in figures
    ] == [(8, 3, 1, 2, 2)]


def test_net_amount_is_exact(spark: SparkSession) -> None:
    schema = "quantity int, unit_price decimal(12,2), discount_amount decimal(12,2)"
    lines_df = spark.createDataFrame(
        [
            (3, Decimal("0.10"), Decimal("0.00")),
            (-2, Decimal("19.99"), Decimal("0.00")),
            (1, Decimal("9999999999.99"), Decimal("0.01")),
            (None, None, None),
        ],
        schema,
    )
    expected = [Decimal("0.30"), Decimal("-39.98"), Decimal("9999999999.98"), None]
    actual = [row.net_amount for row in lines_df.transform(transforms.with_net_amount).collect()]
    assert actual == expected


SILVER_SCHEMA = (
    "sale_date date, store_id int, channel string, transaction_id string, quantity int, "
    "unit_price decimal(12,2), discount_amount decimal(12,2)"
)


def test_daily_store_sales_follow_the_contract(spark: SparkSession) -> None:
    lines_df = spark.createDataFrame(
        [
            (D, 1, "STORE", "T1", 2, Decimal("5.00"), Decimal("1.00")),
            (D, 1, "STORE", "T1", 1, Decimal("3.50"), Decimal("0.00")),
            (D, 1, "STORE", "T2", -1, Decimal("3.50"), Decimal("0.00")),
            (D, 2, "STORE", "T9", -3, Decimal("2.00"), Decimal("0.00")),  # a return only
            (D, 0, "ONLINE", "W1", 5, Decimal("1.00"), Decimal("0.00")),  # not a store
        ],
        SILVER_SCHEMA,
    )
    amount = T.DecimalType(18, 2)
    expected_df = spark.createDataFrame(
        [
            # gross 2*5 + 3.50 = 13.50; discounts 1.00; returns 3.50; net 9.00
            (D, 1, 2, 3, 3, 1, Decimal("13.50"), Decimal("1.00"), Decimal("3.50"), Decimal("9.00")),
            (D, 2, 1, 1, 0, 3, Decimal("0.00"), Decimal("0.00"), Decimal("6.00"), Decimal("-6.00")),
        ],
        T.StructType(
            [
                T.StructField("sale_date", T.DateType()),
                T.StructField("store_id", T.IntegerType()),
                T.StructField("transactions", T.LongType()),
                T.StructField("lines", T.LongType()),
                T.StructField("units_sold", T.LongType()),
                T.StructField("units_returned", T.LongType()),
                T.StructField("gross_sales", amount),
                T.StructField("discounts", amount),
                T.StructField("returns_value", amount),
                T.StructField("net_sales", amount),
            ]
        ),
    )
    actual_df = transforms.daily_store_sales(lines_df)
    assert_df_equality(actual_df, expected_df, ignore_row_order=True, ignore_nullable=True)


def test_online_lines_take_the_latest_state_of_orders_placed_that_day(
    spark: SparkSession,
) -> None:
    item = (
        "struct<line_number:int,sku:string,quantity:int,unit_price:decimal(12,2),"
        "discount_amount:decimal(12,2),promo_code:string>"
    )
    schema = (
        f"order_id string, order_ts string, updated_ts string, status string, "
        f"loyalty_id string, payment_method string, fulfilment_location_id string, "
        f"items array<{item}>, source_file string"
    )
    one = [(1, "SKU1", 2, Decimal("4.00"), None, None)]
    orders_df = spark.createDataFrame(
        [
            (
                "W1",
                "2024-03-04T23:30:00+01:00",
                "2024-03-04T23:30:00+01:00",
                "PLACED",
                None,
                "CARD",
                "WH-01",
                one,
                "f1",
            ),
            (
                "W1",
                "2024-03-04T23:30:00+01:00",
                "2024-03-05T09:00:00+01:00",
                "SHIPPED",
                None,
                "CARD",
                "WH-01",
                one,
                "f2",
            ),
            (
                "W2",
                "2024-03-04T10:00:00+01:00",
                "2024-03-04T10:30:00+01:00",
                "CANCELLED",
                None,
                "CARD",
                "WH-01",
                one,
                "f1",
            ),
            (
                "W3",
                "2024-03-03T10:00:00+01:00",
                "2024-03-04T10:30:00+01:00",
                "SHIPPED",
                None,
                "CARD",
                "WH-01",
                one,
                "f1",
            ),
        ],
        schema,
    )
    lines = transforms.to_online_sales_lines(orders_df, D).collect()
    assert [
        (r.transaction_id, r.channel, r.store_id, r.quantity, r.net_amount, r.source_file)
        for r in lines
    ] == [("W1", "ONLINE", 0, 2, Decimal("8.00"), "f2")]
    assert lines[0].transaction_ts == datetime(2024, 3, 4, 22, 30)  # UTC


def test_missing_store_file_only_for_stores_open_that_day(spark: SparkSession) -> None:
    expected_df = spark.createDataFrame(
        [(1, date(2020, 1, 1)), (2, date(2020, 1, 1)), (3, date(2024, 3, 5)), (4, None)],
        "store_id int, opened_on date",
    )
    figures_df = spark.createDataFrame([(D, 1)], "sale_date date, store_id int")
    missing = transforms.missing_store_metrics(expected_df, figures_df, D).orderBy("store_id")
    assert [(r.store_id, r.metric, r.value) for r in missing.collect()] == [
        (2, "missing_store_file", 1),
        (4, "missing_store_file", 1),
    ]


def test_rule_counts_count_each_rule_of_a_line(spark: SparkSession) -> None:
    quarantined_df = spark.createDataFrame(
        [(D, 1, ["unknown_sku", "bad_payment_method"]), (D, 1, ["unknown_sku"])],
        "sale_date date, store_id int, rules array<string>",
    )
    counts = {r.metric: r.value for r in transforms.rule_counts(quarantined_df).collect()}
    assert counts == {"unknown_sku": 2, "bad_payment_method": 1}


def test_gate_passes_at_the_threshold_and_names_what_breaks_it() -> None:
    at_limit = [StoreDayFigures(1, 100, 2)]
    check_gate(D, at_limit, [], max_reject_rate=0.02, max_missing_store_files=0)
    figures = [StoreDayFigures(12, 200, 9), StoreDayFigures(3, 100, 1), StoreDayFigures(7, 50, 5)]
    with pytest.raises(DataQualityGateError) as caught:
        check_gate(D, figures, [4, 5, 6], max_reject_rate=0.02, max_missing_store_files=2)
    assert str(caught.value) == (
        "data-quality gate failed for 2024-03-04: reject_rate above 2.0% for 2 stores: "
        "store 7 10.0% (5/50), store 12 4.5% (9/200); "
        "missing_store_file for 3 stores (max 2): stores 4-6"
    )


def test_an_empty_store_id_does_not_equal_the_folders(spark: SparkSession, references) -> None:
    stores_df, products_df = references
    raw_df = raw_rows(spark, {"no store id": {"pos_store_id": None}})
    checked = raw_df.transform(transforms.with_rule_violations, stores_df, products_df).first()
    assert checked is not None and checked.rules == ["store_mismatch"]


def test_store_sales_lines_are_typed_with_zero_for_an_empty_discount(
    spark: SparkSession, references
) -> None:
    stores_df, products_df = references
    raw_df = raw_rows(
        spark,
        {
            "sale": {"discount_amount": None, "promo_code": ""},
            "promo": {"transaction_id": "T2", "discount_amount": "1.50", "promo_code": "RMX1"},
        },
    )
    checked_df = raw_df.transform(transforms.with_rule_violations, stores_df, products_df)
    lines_df = (
        transforms.filter_valid(checked_df)
        .transform(transforms.dedupe_lines)
        .transform(transforms.to_store_sales_lines)
    )
    rows = {r.transaction_id: r for r in lines_df.collect()}
    assert rows["T1"].discount_amount == Decimal("0.00") and rows["T1"].promo_code is None
    assert rows["T1"].net_amount == Decimal("10.00")
    assert rows["T2"].net_amount == Decimal("8.50") and rows["T2"].promo_code == "RMX1"
    assert rows["T1"].transaction_ts == datetime(2024, 3, 4, 9, 0)  # 10:00+01:00 in UTC
    assert (rows["T1"].channel, rows["T1"].store_id, rows["T1"].line_number) == ("STORE", 1, 1)


def test_figures_become_one_metric_row_each(spark: SparkSession) -> None:
    figures_df = spark.createDataFrame(
        [(D, 1, 10, 6, 2, 1, 1)],
        "sale_date date, store_id int, input_lines long, valid_distinct long, "
        "quarantined long, duplicates long, superseded long",
    )
    metrics = {r.metric: r.value for r in transforms.figures_to_metrics(figures_df).collect()}
    assert metrics == {
        "input_lines": 10,
        "valid_distinct": 6,
        "quarantined": 2,
        "duplicates": 1,
        "superseded": 1,
    }


def test_summary_groups_by_region_format_category_with_online_apart(
    spark: SparkSession,
) -> None:
    lines_df = spark.createDataFrame(
        [
            (D, 1, "STORE", "T1", "SKU1", 2, Decimal("5.00"), Decimal("0.00")),
            (D, 2, "STORE", "T2", "SKU1", 1, Decimal("5.00"), Decimal("1.00")),
            (D, 2, "STORE", "T2", "SKU2", 1, Decimal("3.00"), Decimal("0.00")),
            (D, 0, "ONLINE", "W1", "SKU1", 1, Decimal("5.00"), Decimal("0.00")),
        ],
        "sale_date date, store_id int, channel string, transaction_id string, sku string, "
        "quantity int, unit_price decimal(12,2), discount_amount decimal(12,2)",
    )
    stores_df = spark.createDataFrame(
        [(1, "Bretagne", "SUPER"), (2, "Bretagne", "SUPER")],
        "store_id int, region string, format string",
    )
    products_df = spark.createDataFrame(
        [("SKU1", "Fresh"), ("SKU2", "Grocery")], "sku string, category string"
    )
    rows = {
        (r.channel, r.region, r.format, r.category): (r.stores, r.lines, r.net_sales)
        for r in transforms.daily_sales_summary(lines_df, stores_df, products_df).collect()
    }
    assert rows == {
        ("STORE", "Bretagne", "SUPER", "Fresh"): (2, 2, Decimal("14.00")),
        ("STORE", "Bretagne", "SUPER", "Grocery"): (1, 1, Decimal("3.00")),
        ("ONLINE", "Online", "ONLINE", "Fresh"): (0, 1, Decimal("5.00")),
    }
