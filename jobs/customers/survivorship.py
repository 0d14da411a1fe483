"""Survivorship: one value per customer and attribute from the records resolved to it.

Per attribute (conf `customers.survivorship`), the sources in order of trust; among the
records of the most trusted source that has a non-null value, the most recently updated one
wins (then the smallest record id, so the answer never depends on row order). A source not
listed for an attribute never provides it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F


def _rank(sources: Sequence[str]) -> Column:
    rank: Column = F.lit(None)
    for position, source in reversed(list(enumerate(sources))):
        rank = F.when(F.col("source") == source, F.lit(position)).otherwise(rank)
    return rank


def survive(records_df: DataFrame, survivorship: Mapping[str, Sequence[str]]) -> DataFrame:
    """One row per customer_key with each attribute of `survivorship`.

    `records_df`: customer_key, record_id, source, updated_at (timestamp) and the attributes,
    standardised (null when unknown or invalid).
    """
    aggregates = []
    for attribute, sources in survivorship.items():
        rank = _rank(sources)
        order = F.when(
            F.col(attribute).isNotNull() & rank.isNotNull(),
            F.struct(rank, -F.unix_micros("updated_at"), F.col("record_id")),
        )
        aggregates.append(F.min_by(F.col(attribute), order).alias(attribute))
    return records_df.groupBy("customer_key").agg(*aggregates)
