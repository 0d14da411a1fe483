"""The only customers functions that read: the three exports of a date (as text) and the
lake tables the run builds on.

Every field is read as a string (the contract's names, in its order), so no value can fail
the read: each one is checked and standardised afterwards, and a row that breaks a rule is
quarantined with the rule's name instead of failing the file.
"""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts.customers import CONSENT_SCHEMA, CRM_CUSTOMER_SCHEMA, LOYALTY_MEMBER_SCHEMA
from jobs.contracts.read import read_csv_text, text_schema
from jobs.customers.tables import CONSENTS, CUSTOMER_RECORDS, CUSTOMERS
from jobs.lake import list_folder, read_table
from jobs.sales.tables import SILVER_SALES_LINES

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
    """The source's export of the date as text, plus raw_line; empty when the folder is
    absent."""
    schema = as_text(EXPORTS[source][1])
    folder = export_folder(landing_root, source, run_date)
    if not list_folder(spark, folder):
        return spark.createDataFrame([], text_schema(schema))
    # RFC 4180 text; the header must name the contract's columns; a row that does not split
    # into them keeps its text in raw_line and is quarantined as malformed_row.
    return read_csv_text(spark, folder, schema, check_header=True).drop("source_file")


def extract_records(spark: SparkSession, lake_root: str) -> DataFrame:
    """silver.customer_records: every record known so far (empty before the first run)."""
    return read_table(spark, CUSTOMER_RECORDS, lake_root)


def extract_customers(spark: SparkSession, lake_root: str) -> DataFrame:
    """silver.customers, every version."""
    return read_table(spark, CUSTOMERS, lake_root)


def extract_consents(spark: SparkSession, lake_root: str) -> DataFrame:
    """silver.customer_consents."""
    return read_table(spark, CONSENTS, lake_root)


def extract_card_sales(spark: SparkSession, lake_root: str, first: date, last: date) -> DataFrame:
    """The sales lines of first..last (inclusive) that carry a loyalty card."""
    return read_table(spark, SILVER_SALES_LINES, lake_root).where(
        F.col("sale_date").between(F.lit(first), F.lit(last)) & F.col("loyalty_id").isNotNull()
    )


def extract_latest_version_date(spark: SparkSession, lake_root: str) -> date | None:
    """The newest date silver.customers holds (a version's start or end); None when empty."""
    row = (
        extract_customers(spark, lake_root)
        .select(F.greatest(F.max("valid_from"), F.max("valid_to")).alias("latest"))
        .first()
    )
    return row.latest if row else None
