"""The only customers functions that read landing files: the three exports of a date, as text.

Every field is read as a string (the contract's names, in its order), so no value can fail
the read: each one is checked and standardised afterwards, and a row that breaks a rule is
quarantined with the rule's name instead of failing the file.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import types as T

from jobs.contracts.customers import CONSENT_SCHEMA, CRM_CUSTOMER_SCHEMA, LOYALTY_MEMBER_SCHEMA
from jobs.lake import list_folder

EXPORTS = {
    "crm": ("crm/customers", CRM_CUSTOMER_SCHEMA),
    "loyalty": ("loyalty/members", LOYALTY_MEMBER_SCHEMA),
    "consents": ("marketing/consents", CONSENT_SCHEMA),
}


def as_text(schema: T.StructType) -> T.StructType:
    """The contract's columns, all nullable strings."""
    return T.StructType([T.StructField(f.name, T.StringType(), True) for f in schema])


def export_folder(landing_root: str, source: str, run_date: date) -> str:
    """`<landing>/<source folder>/export_date=D`."""
    return f"{landing_root.rstrip('/')}/{EXPORTS[source][0]}/export_date={run_date.isoformat()}"


def extract_export(
    spark: SparkSession, landing_root: str, source: str, run_date: date
) -> DataFrame:
    """The source's export of the date as text; empty when the folder is absent."""
    schema = as_text(EXPORTS[source][1])
    folder = export_folder(landing_root, source, run_date)
    if not list_folder(spark, folder):
        return spark.createDataFrame([], schema)
    return (
        spark.read.schema(schema)
        .option("header", "true")
        .option("enforceSchema", "false")  # the header must name the contract's columns
        .option("mode", "PERMISSIVE")  # a short row reads as nulls, then breaks a rule
        .csv(folder)
    )
