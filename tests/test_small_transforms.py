"""Inventory and promotions transforms on tiny frames (chispa), expected values by hand."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from jobs.inventory.outputs import open_reservations
from jobs.inventory.transforms import reconciliation_differences, stock_levels
from jobs.promotions.transforms import store_stock, store_units, with_excess_stock

LEDGER = "location_id string, sku string, movement_ts timestamp, quantity long, is_absolute boolean"
COUNTS = (
    "location_id string, sku string, on_hand long, last_movement_ts timestamp, "
    "count_on_hand long, last_count_ts timestamp"
)


def at(hour: int) -> datetime:
    return datetime(2024, 3, 4, hour)


def test_stock_levels_start_from_the_latest_count_and_add_what_came_after(
    spark: SparkSession,
) -> None:
    ledger = spark.createDataFrame(
        [
            ("STORE-1", "A", at(7), 5, False),  # before the count: already in it
            ("STORE-1", "A", at(8), 10, True),  # the count
            ("STORE-1", "A", at(9), -2, False),
            ("WH-1", "B", at(6), 3, False),  # no count: from 0
            ("WH-1", "B", at(10), 4, False),
        ],
        LEDGER,
    )
    no_counts = spark.createDataFrame([], COUNTS)
    expected = spark.createDataFrame(
        [
            ("STORE-1", "A", 8, at(9), 10, at(8)),
            ("WH-1", "B", 7, at(10), None, None),
        ],
        COUNTS,
    )
    assert_df_equality(
        stock_levels(ledger, no_counts),
        expected,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_a_reconciliation_difference_is_state_minus_ledger(spark: SparkSession) -> None:
    ledger = spark.createDataFrame(
        [("STORE-1", "A", 5), ("STORE-2", "B", 3)], "location_id string, sku string, on_hand long"
    )
    state = spark.createDataFrame(
        [("STORE-1", "A", 7)], "location_id string, sku string, on_hand long"
    )
    expected = spark.createDataFrame(
        [
            (date(2024, 3, 4), "STORE-1", "A", 7, 5, 2),
            (date(2024, 3, 4), "STORE-2", "B", None, 3, None),  # no state row at all
        ],
        "reconciliation_date date, location_id string, sku string, state_on_hand long, "
        "ledger_on_hand long, difference long",
    )
    assert_df_equality(
        reconciliation_differences(ledger, state, date(2024, 3, 4)),
        expected,
        ignore_row_order=True,
        ignore_nullable=True,
    )


def test_open_reservations_are_the_placed_orders_as_of_the_batch_end(spark: SparkSession) -> None:
    schema = (
        "order_id string, updated_ts timestamp, status string, source_file string, "
        "items array<struct<sku: string, quantity: int>>"
    )
    orders = spark.createDataFrame(
        [
            ("W1", at(9), "PLACED", "f", [("A", 1)]),
            ("W1", at(10), "SHIPPED", "f", [("A", 1)]),  # shipped: no longer reserved
            ("W2", at(9), "PLACED", "f", [("A", 2), ("B", 1)]),
            ("W3", at(12), "PLACED", "f", [("B", 5)]),  # after the batch end
        ],
        schema,
    )
    expected = spark.createDataFrame([("A", 2), ("B", 1)], "sku string, reserved_units long")
    assert_df_equality(
        open_reservations(orders, at(11)), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_store_units_count_store_sales_in_the_7_and_28_day_windows(spark: SparkSession) -> None:
    daily = spark.createDataFrame(
        [
            (date(2024, 3, 27), "STORE", 1, "A", 2),  # both windows
            (date(2024, 3, 10), "STORE", 1, "A", 3),  # 28 days only
            (date(2024, 2, 20), "STORE", 1, "A", 9),  # outside both
            (date(2024, 3, 27), "STORE", 2, "A", 0),  # returns only: no units sold, no row
            (date(2024, 3, 27), "ONLINE", 0, "A", 4),  # not a store
        ],
        "sale_date date, channel string, store_id int, sku string, units_sold long",
    )
    expected = spark.createDataFrame(
        [(1, "A", 2, 5)], "store_id int, sku string, units_7d long, units_28d long"
    )
    assert_df_equality(
        store_units(daily, date(2024, 3, 28)), expected, ignore_row_order=True, ignore_nullable=True
    )


def test_store_stock_keeps_store_locations_with_their_number(spark: SparkSession) -> None:
    levels = spark.createDataFrame(
        [("STORE-12", "A", 4), ("WH-1", "A", 100)], "location_id string, sku string, on_hand long"
    )
    expected = spark.createDataFrame([(12, "A", 4)], "store_id int, sku string, on_hand long")
    assert_df_equality(store_stock(levels), expected, ignore_nullable=True)


def test_excess_stock_is_what_lies_beyond_the_cover_at_the_28_day_pace(
    spark: SparkSession,
) -> None:
    candidates = spark.createDataFrame(
        [("A", 28, 20, Decimal("2.50")), ("B", 0, 3, Decimal("1.00"))],
        "sku string, units_28d long, on_hand long, unit_cost decimal(12,2)",
    )
    # By hand, 14 days of cover: A keeps ceil(28 x 14 / 28) = 14 of 20, 6 x 2.50 = 15.00;
    # B sold nothing: all 3 are excess.
    result = with_excess_stock(candidates, 14.0).select("sku", "excess_units", "excess_value")
    assert [tuple(r) for r in result.orderBy("sku").collect()] == [
        ("A", 6, Decimal("15.00")),
        ("B", 3, Decimal("3.00")),
    ]
