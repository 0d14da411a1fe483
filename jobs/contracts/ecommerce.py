"""E-commerce orders: JSON lines, one order state per line, several items per order."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.contracts.types import PRICE

ORDER_STATUSES = ("PLACED", "SHIPPED", "CANCELLED")
ORDER_CHANNELS = ("WEB", "APP")

ORDER_ITEM_SCHEMA = T.StructType(
    [
        T.StructField("line_number", T.IntegerType(), False),
        T.StructField("sku", T.StringType(), False),
        T.StructField("quantity", T.IntegerType(), False),
        T.StructField("unit_price", PRICE, False),
        T.StructField("discount_amount", PRICE, True),
        T.StructField("promo_code", T.StringType(), True),
    ]
)

ORDER_SCHEMA = T.StructType(
    [
        T.StructField("order_id", T.StringType(), False),
        T.StructField("order_ts", T.TimestampType(), False),
        T.StructField("updated_ts", T.TimestampType(), False),
        T.StructField("status", T.StringType(), False),
        T.StructField("channel", T.StringType(), False),
        T.StructField("customer_email", T.StringType(), True),
        T.StructField("loyalty_id", T.StringType(), True),
        T.StructField("fulfilment_location_id", T.StringType(), False),
        T.StructField("shipped_ts", T.TimestampType(), True),
        T.StructField("delivery_postcode", T.StringType(), True),
        T.StructField("payment_method", T.StringType(), False),
        T.StructField("items", T.ArrayType(ORDER_ITEM_SCHEMA, False), False),
    ]
)
