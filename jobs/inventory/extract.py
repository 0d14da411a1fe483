"""The only inventory functions that read: landing files, reference data, silver.sales_lines,
and the inventory's own tables (ledger, levels, the availability's as-of)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import reduce

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import MOVEMENT_SCHEMA, OPENING_STOCK_SCHEMA, ORDER_SCHEMA, WAREHOUSES_SCHEMA
from jobs.contracts.read import (
    RAW_LINE,
    read_csv_text,
    read_json_text,
    read_reference_csv,
    text_schema,
)
from jobs.inventory.tables import ECOMMERCE_AVAILABILITY, STOCK_LEVELS, STOCK_MOVEMENTS
from jobs.lake import list_folder, read_table
from jobs.sales.extract import extract_products, extract_stores
from jobs.sales.tables import SILVER_SALES_LINES


def _folder(landing_root: str, *parts: str) -> str:
    return "/".join([landing_root.rstrip("/"), *parts])


def _csv_text(spark: SparkSession, folder: str, schema: T.StructType) -> DataFrame:
    """The folder's CSV files as text (see jobs.contracts.read); empty when it is absent."""
    if not list_folder(spark, folder):
        return spark.createDataFrame([], text_schema(schema)).withColumn(
            "source_file", F.lit(None).cast("string")
        )
    return read_csv_text(spark, folder, schema)


def extract_wms_movements(spark: SparkSession, landing_root: str, run_date: date) -> DataFrame:
    """warehouse/movements/movement_date=D/*.csv as text; empty when the folder is absent."""
    folder = _folder(landing_root, "warehouse", "movements", f"movement_date={run_date}")
    return _csv_text(spark, folder, MOVEMENT_SCHEMA)


def extract_opening_stock(spark: SparkSession, landing_root: str, run_date: date) -> DataFrame:
    """warehouse/opening_stock/snapshot_date=D/opening_stock.csv as text; empty when none."""
    folder = _folder(landing_root, "warehouse", "opening_stock", f"snapshot_date={run_date}")
    return _csv_text(spark, folder, OPENING_STOCK_SCHEMA)


def extract_orders(spark: SparkSession, landing_root: str, run_date: date) -> DataFrame:
    """The web shop's order states exported on D (shipments and reservations come from them).

    A record that does not parse is left out here: the sales job quarantines it
    (quarantine.sales_lines, store_id 0) from the same export.
    """
    folder = _folder(landing_root, "ecommerce", "orders", f"export_date={run_date}")
    if not list_folder(spark, folder):
        return spark.createDataFrame([], ORDER_SCHEMA).withColumn(
            "source_file", F.lit(None).cast("string")
        )
    return (
        read_json_text(spark, folder, ORDER_SCHEMA)
        .where(F.col(RAW_LINE).isNull())
        .select(*ORDER_SCHEMA.fieldNames(), "source_file")
    )


def extract_recent_orders(
    spark: SparkSession, landing_root: str, run_date: date, days: int
) -> DataFrame:
    """The order states of the exports of the `days` dates up to run_date (reservations)."""
    frames = [
        extract_orders(spark, landing_root, run_date - timedelta(days=back)) for back in range(days)
    ]
    return reduce(DataFrame.unionByName, frames)


def extract_store_sales(spark: SparkSession, lake_root: str, run_date: date) -> DataFrame:
    """The date's store lines of silver.sales_lines (empty before the sales job has run)."""
    return read_table(spark, SILVER_SALES_LINES, lake_root).where(
        (F.col("sale_date") == F.lit(run_date)) & (F.col("channel") == "STORE")
    )


def extract_locations(spark: SparkSession, landing_root: str) -> DataFrame:
    """Every location id: `STORE-<store_id>` of stores.csv and the warehouses."""
    stores_df = extract_stores(spark, landing_root).select(
        F.concat(F.lit("STORE-"), F.col("store_id").cast("string")).alias("location_id")
    )
    warehouses_df = extract_warehouses(spark, landing_root).select("location_id")
    return stores_df.unionByName(warehouses_df)


def extract_warehouses(spark: SparkSession, landing_root: str) -> DataFrame:
    """warehouses.csv: location_id, ..., serves_ecommerce."""
    return read_reference_csv(spark, landing_root, "reference/warehouses.csv", WAREHOUSES_SCHEMA)


def extract_skus(spark: SparkSession, landing_root: str) -> DataFrame:
    """The SKUs of products.csv, with their category (safety stock may depend on it)."""
    return extract_products(spark, landing_root).select("sku", "category")


def extract_products_for_sale(spark: SparkSession, landing_root: str) -> DataFrame:
    """Active products (an inactive SKU is not offered, whatever its stock)."""
    products_df = extract_products(spark, landing_root)
    return products_df.where(F.coalesce(F.col("active"), F.lit(True))).select("sku", "category")


def extract_levels(
    spark: SparkSession, lake_root: str, locations: Sequence[str] | None = None
) -> DataFrame:
    """silver.stock_levels, of `locations` only when given (its partition column)."""
    levels_df = read_table(spark, STOCK_LEVELS, lake_root)
    return levels_df if locations is None else levels_df.where(F.col("location_id").isin(locations))


def extract_ledger(
    spark: SparkSession,
    lake_root: str,
    since: date | None = None,
    locations: Sequence[str] | None = None,
) -> DataFrame:
    """silver.stock_movements, from `since` (its partition column) and of `locations`."""
    ledger_df = read_table(spark, STOCK_MOVEMENTS, lake_root)
    if since is not None:
        ledger_df = ledger_df.where(F.col("movement_date") >= F.lit(since))
    if locations is not None:
        ledger_df = ledger_df.where(F.col("location_id").isin(locations))
    return ledger_df


def extract_current_as_of(spark: SparkSession, lake_root: str) -> datetime | None:
    """The as_of of the availability in the table, None before the first batch."""
    row = read_table(spark, ECOMMERCE_AVAILABILITY, lake_root).agg(F.max("as_of")).first()
    return row[0] if row else None
