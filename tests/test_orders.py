"""The one "latest state of an order" transform: the latest instant wins, ties are broken the
same way on every run (later export file, then the status further along)."""

from __future__ import annotations

from datetime import datetime

from chispa import assert_df_equality
from pyspark.sql import SparkSession

from jobs.orders import latest_order_states

SCHEMA = "order_id string, updated_ts timestamp, status string, source_file string"
DAY4 = "ecommerce/orders/export_date=2024-03-04/orders.jsonl"
DAY5 = "ecommerce/orders/export_date=2024-03-05/orders.jsonl"


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_the_latest_instant_wins_and_ties_go_to_the_later_file_then_the_later_status(
    spark: SparkSession,
) -> None:
    rows = [
        # W1: the later instant wins, whatever its status.
        ("W1", ts("2024-03-04 10:00:00"), "SHIPPED", DAY4),
        ("W1", ts("2024-03-04 09:30:00"), "CANCELLED", DAY4),
        # W2: same instant in two exports: the later export's record wins, status aside.
        ("W2", ts("2024-03-04 12:00:00"), "PLACED", DAY5),
        ("W2", ts("2024-03-04 12:00:00"), "SHIPPED", DAY4),
        # W3: same instant, same file: the status further along wins.
        ("W3", ts("2024-03-04 08:00:00"), "PLACED", DAY4),
        ("W3", ts("2024-03-04 08:00:00"), "SHIPPED", DAY4),
    ]
    expected = spark.createDataFrame(
        [
            ("W1", ts("2024-03-04 10:00:00"), "SHIPPED", DAY4),
            ("W2", ts("2024-03-04 12:00:00"), "PLACED", DAY5),
            ("W3", ts("2024-03-04 08:00:00"), "SHIPPED", DAY4),
        ],
        SCHEMA,
    )
    # The same winners whatever the input's order and partitioning.
    for ordered in (rows, rows[::-1]):
        orders_df = spark.createDataFrame(ordered, SCHEMA).repartition(3)
        assert_df_equality(
            latest_order_states(orders_df), expected, ignore_row_order=True, ignore_nullable=True
        )
