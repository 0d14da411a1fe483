"""Ledger rows written by hand, and the levels they give, for the inventory tests."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.context import RunContext
from jobs.inventory import apply_batch
from jobs.inventory.tables import STOCK_MOVEMENTS
from tests.tables import table

DAY = date(2024, 3, 4)
NAMES = [field.name for field in STOCK_MOVEMENTS.schema.fields]


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, 4, hour, minute)


def move(key: str, kind: str, when: datetime, location: str, sku: str, quantity: int) -> tuple:
    absolute = kind in ("CYCLE_COUNT", "OPENING")
    source = {"SALE": "POS", "RETURN": "POS", "OPENING": "OPENING", "SHIPMENT": "ONLINE"}.get(
        kind, "WMS"
    )
    return (key, source, kind, when, location, sku, quantity, absolute, None, when.date())


def apply(spark: SparkSession, context: RunContext, rows: list[tuple]) -> dict:
    batch_df = spark.createDataFrame(rows, STOCK_MOVEMENTS.schema)
    return apply_batch(spark, context, batch_df)


def levels(lake: Path) -> dict[tuple[str, str], int]:
    df = table(lake, "silver.stock_levels")
    return {(r.location_id, r.sku): int(r.on_hand) for r in df.itertuples()}
