"""Reference snapshots: stores and products (DATA-CONTRACT.md), and warehouses (ours)."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.contracts.types import PRICE

STORE_FORMATS = ("HYPER", "SUPER", "PROXI")

STORES_SCHEMA = T.StructType(
    [
        T.StructField("store_id", T.IntegerType(), False),
        T.StructField("store_name", T.StringType(), True),
        T.StructField("region", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("format", T.StringType(), True),
        T.StructField("opened_on", T.DateType(), True),
    ]
)

PRODUCTS_SCHEMA = T.StructType(
    [
        T.StructField("sku", T.StringType(), False),
        T.StructField("product_name", T.StringType(), True),
        T.StructField("category", T.StringType(), True),
        T.StructField("subcategory", T.StringType(), True),
        T.StructField("brand", T.StringType(), True),
        T.StructField("unit_cost", PRICE, True),
        T.StructField("list_price", PRICE, True),
        T.StructField("active", T.BooleanType(), True),
    ]
)

# Warehouses are stock locations too; stores are locations "STORE-<store_id>".
WAREHOUSES_SCHEMA = T.StructType(
    [
        T.StructField("location_id", T.StringType(), False),
        T.StructField("warehouse_name", T.StringType(), True),
        T.StructField("region", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("serves_ecommerce", T.BooleanType(), True),
    ]
)
STORE_LOCATION_PREFIX = "STORE-"
WAREHOUSE_LOCATION_PREFIX = "WH-"
