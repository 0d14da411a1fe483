"""Shared column types of the contracts."""

from __future__ import annotations

from pyspark.sql import types as T

# Exact decimals for money in source files; aggregated amounts use AMOUNT.
PRICE = T.DecimalType(12, 2)
AMOUNT = T.DecimalType(18, 2)


def string_schema(schema: T.StructType) -> T.StructType:
    """The same columns as `schema`, all strings: how raw files are read before validation."""
    return T.StructType([T.StructField(field.name, T.StringType(), True) for field in schema])
