"""The only functions of the sales job that read the landing zone."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts.ecommerce import ORDER_SCHEMA
from jobs.contracts.pos import POS_LINE_SCHEMA
from jobs.contracts.read import (
    CSV_OPTIONS,
    RAW_LINE,
    read_json_text,
    read_reference_csv,
    without_cr,
)
from jobs.contracts.reference import PRODUCTS_SCHEMA, STORES_SCHEMA
from jobs.contracts.types import string_schema
from jobs.lake import list_folder
from jobs.sales.tables import RAW_COLUMNS

STORE_FOLDER_PREFIX = "store_id="
CORRUPT_COLUMN = RAW_LINE


def pos_day_folder(landing_root: str, run_date: date) -> str:
    """`<landing>/pos/sale_date=YYYY-MM-DD`."""
    return f"{landing_root.rstrip('/')}/pos/sale_date={run_date.isoformat()}"


def extract_store_folders(spark: SparkSession, landing_root: str, run_date: date) -> list[int]:
    """Store ids that have a folder for the date (whatever stores.csv says)."""
    names = list_folder(spark, pos_day_folder(landing_root, run_date))
    return sorted(
        int(name.removeprefix(STORE_FOLDER_PREFIX))
        for name in names
        if name.startswith(STORE_FOLDER_PREFIX) and name.removeprefix(STORE_FOLDER_PREFIX).isdigit()
    )


def store_id_of_file(run_date: date) -> Column:
    """The store id in a POS file's path, `.../sale_date=D/store_id=N/...` (the folder it was
    read from). String functions, not a regex: it is evaluated for every line."""
    after = F.substring_index(
        F.col("_metadata.file_path"), f"sale_date={run_date.isoformat()}/{STORE_FOLDER_PREFIX}", -1
    )
    return F.substring_index(after, "/", 1).try_cast("int")


def extract_pos_lines(
    spark: SparkSession, landing_root: str, run_date: date, stores: list[int]
) -> DataFrame:
    """Every line of the stores' files for the date, as strings, with folder ids and lineage.

    A line that does not split into the 12 columns keeps its text in `raw_line`.
    """
    raw_schema = T.StructType(
        [*string_schema(POS_LINE_SCHEMA), T.StructField(CORRUPT_COLUMN, T.StringType())]
    )
    folder = pos_day_folder(landing_root, run_date)
    paths = [f"{folder}/{STORE_FOLDER_PREFIX}{store}" for store in stores]
    if not paths:
        return (
            spark.createDataFrame([], raw_schema)
            .select(
                F.lit(run_date).alias("sale_date"),
                F.lit(None).cast("int").alias("store_id"),
                *[F.lit(None).cast("string").alias(name) for name in RAW_COLUMNS],
                F.lit(None).cast("string").alias("raw_line"),
                F.lit(None).cast("string").alias("source_file"),
                F.lit(None).cast("timestamp").alias("source_modified_at"),
            )
            .limit(0)
        )
    lines_df = (
        spark.read.schema(raw_schema)
        .options(**CSV_OPTIONS)  # RFC 4180: doubled quotes, quoted line breaks, CRLF, BOM
        .option("columnNameOfCorruptRecord", CORRUPT_COLUMN)
        .option("recursiveFileLookup", "true")
        .csv(paths)
    )
    return lines_df.select(
        F.lit(run_date).alias("sale_date"),
        store_id_of_file(run_date).alias("store_id"),
        *[
            without_cr(source).alias(name)
            for name, source in zip(RAW_COLUMNS, POS_LINE_SCHEMA.fieldNames(), strict=True)
        ],
        F.col(CORRUPT_COLUMN).alias("raw_line"),
        F.col("_metadata.file_path").alias("source_file"),
        F.col("_metadata.file_modification_time").alias("source_modified_at"),
    )


def _reference(
    spark: SparkSession, landing_root: str, name: str, schema: T.StructType
) -> DataFrame:
    """A reference snapshot, typed: a value that does not parse stops the run with one line
    naming the file, the line and the column."""
    return read_reference_csv(spark, landing_root, f"reference/{name}", schema)


def extract_stores(spark: SparkSession, landing_root: str) -> DataFrame:
    """reference/stores.csv."""
    return _reference(spark, landing_root, "stores.csv", STORES_SCHEMA)


def extract_products(spark: SparkSession, landing_root: str) -> DataFrame:
    """reference/products.csv."""
    return _reference(spark, landing_root, "products.csv", PRODUCTS_SCHEMA)


def extract_online_orders(spark: SparkSession, landing_root: str, run_date: date) -> DataFrame:
    """The web shop's export of the date; timestamps kept as text (their local date matters).

    A record that does not parse as the contract keeps its text in `raw_line` (see
    transforms.with_order_rules) instead of failing the read.
    """
    schema = T.StructType(
        [
            T.StructField(f.name, T.StringType(), f.nullable)
            if isinstance(f.dataType, T.TimestampType)
            else f
            for f in ORDER_SCHEMA
        ]
    )
    folder = f"{landing_root.rstrip('/')}/ecommerce/orders/export_date={run_date.isoformat()}"
    if not list_folder(spark, folder):
        return (
            spark.createDataFrame([], schema)
            .withColumn(RAW_LINE, F.lit(None).cast("string"))
            .withColumn("source_file", F.lit(None).cast("string"))
        )
    return read_json_text(spark, folder, schema)
