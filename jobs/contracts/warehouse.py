"""Warehouse stock movements and the opening stock snapshot."""

from __future__ import annotations

from pyspark.sql import types as T

MOVEMENT_TYPES = ("RECEIPT", "TRANSFER_OUT", "TRANSFER_IN", "ADJUSTMENT", "CYCLE_COUNT")

MOVEMENT_SCHEMA = T.StructType(
    [
        T.StructField("movement_id", T.StringType(), False),
        T.StructField("movement_type", T.StringType(), False),
        T.StructField("movement_ts", T.TimestampType(), False),
        T.StructField("location_id", T.StringType(), False),
        T.StructField("sku", T.StringType(), False),
        # Signed change for receipts, transfers and adjustments; the counted value for a count.
        T.StructField("quantity", T.IntegerType(), False),
        T.StructField("transfer_id", T.StringType(), True),
        T.StructField("reason_code", T.StringType(), True),
        T.StructField("reference", T.StringType(), True),
    ]
)

OPENING_STOCK_SCHEMA = T.StructType(
    [
        T.StructField("location_id", T.StringType(), False),
        T.StructField("sku", T.StringType(), False),
        T.StructField("on_hand", T.IntegerType(), False),
        T.StructField("snapshot_ts", T.TimestampType(), False),
    ]
)
