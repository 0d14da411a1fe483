"""Marketing campaigns: promo codes, what they cover, when, how much, and their control stores."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.contracts.types import AMOUNT

CAMPAIGN_SCOPES = ("SKU", "CATEGORY")

CAMPAIGN_SCHEMA = T.StructType(
    [
        T.StructField("campaign_id", T.StringType(), False),
        T.StructField("campaign_name", T.StringType(), True),
        T.StructField("promo_code", T.StringType(), False),
        T.StructField("start_date", T.DateType(), False),
        T.StructField("end_date", T.DateType(), False),
        T.StructField("discount_pct", T.DecimalType(5, 2), False),
        T.StructField("scope", T.StringType(), False),
        T.StructField("skus", T.ArrayType(T.StringType(), False), True),
        T.StructField("categories", T.ArrayType(T.StringType(), False), True),
        T.StructField("budget", AMOUNT, True),
        T.StructField("control_store_ids", T.ArrayType(T.IntegerType(), False), True),
    ]
)
