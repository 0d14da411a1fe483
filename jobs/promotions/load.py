"""The only promotions function that writes: each gold table's date, replaced."""

from __future__ import annotations

import logging
from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.lake import TableSpec, ensure_table, read_table, replace_where, sql_literal

log = logging.getLogger(__name__)


def load_date(
    spark: SparkSession, df: DataFrame, spec: TableSpec, lake_root: str, day: date
) -> DataFrame:
    """Replaces the date's partition of spec with df (a re-run gives the same rows); returns
    the date's rows as written, for the transforms that build on them."""
    column = spec.partition_by[0]
    ensure_table(spark, spec, lake_root)
    replace_where(df, spec, lake_root, f"{column} = {sql_literal(day.isoformat())}")
    log.info("wrote %s for %s", spec.name, day)
    return read_table(spark, spec, lake_root).where(F.col(column) == F.lit(day))
