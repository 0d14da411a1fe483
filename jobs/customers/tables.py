"""The tables of the customers job: schemas (with column comments), layout and keys.

Raw PII (names, emails, phones, postcodes, birth dates) lives in silver and quarantine only;
gold carries salted hashes. The PII tables keep every identifying column (PII, source ids,
customer keys, hashes) out of Delta's file statistics (`delta.dataSkippingStatsColumns`), so
an erased value does not linger as a min/max in the transaction log once its data files are
vacuumed.
"""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.lake import TableSpec, column

ATTRIBUTE_COLUMNS = [
    column("first_name", T.StringType(), "trimmed, each word capitalised"),
    column("last_name", T.StringType(), "trimmed, each word capitalised"),
    column("email", T.StringType(), "trimmed, lower-cased, valid address; null if invalid"),
    column("phone", T.StringType(), "E.164 (+33… by default); null if invalid"),
    column("postcode", T.StringType(), "five digits; null if invalid"),
    column("city", T.StringType(), "as the CRM has it (CRM only)"),
    column("birth_date", T.DateType(), "null if impossible or implausible"),
    column("home_store_id", T.IntegerType(), "the member's store (loyalty only)"),
]
TRACKED_ATTRIBUTES = tuple(field.name for field in ATTRIBUTE_COLUMNS)


def _stats_on(*columns: str) -> tuple[tuple[str, str], ...]:
    return (("delta.dataSkippingStatsColumns", ",".join(columns)),)


CUSTOMER_RECORDS = TableSpec(
    "silver.customer_records",
    T.StructType(
        [
            column("record_id", T.StringType(), "`crm:<crm_id>` or `loyalty:<loyalty_id>`"),
            column("source", T.StringType(), "crm or loyalty"),
            column("source_id", T.StringType(), "the id in its source system"),
            column("customer_key", T.StringType(), "the customer this record resolved to"),
            *ATTRIBUTE_COLUMNS,
            column(
                "loyalty_card",
                T.StringType(),
                "loyalty: its own card; CRM: the card CRM recorded (identity link)",
            ),
            column("quality_flags", T.ArrayType(T.StringType()), "values that could not be read"),
            column("updated_at", T.TimestampType(), "when the source last changed it (UTC)"),
            column("export_date", T.DateType(), "the export that brought this version"),
        ]
    ),
    (),
    "Latest standardised version of every CRM and loyalty record with its customer_key "
    "(the identity map). Key: record_id.",
    # No identifier in the statistics: record_id holds the CRM id or the loyalty card, and
    # customer_key is a hash of one (an unsalted hash of a small id space is reversible).
    _stats_on("source", "updated_at", "export_date"),
)

CUSTOMERS = TableSpec(
    "silver.customers",
    T.StructType(
        [
            column("customer_key", T.StringType(), "stable customer id (CUS-…)"),
            *ATTRIBUTE_COLUMNS,
            column("attributes_hash", T.StringType(), "SHA-256 of the tracked attributes"),
            column("valid_from", T.DateType(), "export date from which this version holds"),
            column(
                "valid_to", T.DateType(), "export date it stopped holding (excl.); null if current"
            ),
            column("is_current", T.BooleanType(), "true for the one current version"),
        ]
    ),
    # Closed versions sit in is_current=false and are only ever appended to: the daily MERGE
    # rewrites files of the current versions, however long the history grows.
    ("is_current",),
    "Customers as SCD type 2: one row per version of the surviving attributes. "
    "Key: customer_key, valid_from; one is_current row per customer_key.",
    _stats_on("valid_from", "valid_to"),
)

CONSENTS = TableSpec(
    "silver.customer_consents",
    T.StructType(
        [
            column("channel", T.StringType(), "EMAIL or SMS"),
            column("contact", T.StringType(), "the standardised email (EMAIL) or phone (SMS)"),
            column("is_opted_in", T.BooleanType(), "the latest event was OPT_IN"),
            column("event_ts", T.TimestampType(), "when the latest event happened (UTC)"),
            column("event_id", T.StringType(), "the latest event"),
            column("source", T.StringType(), "WEBSITE, STORE, NEWSLETTER …"),
            column("export_date", T.DateType(), "the export that brought the latest event"),
        ]
    ),
    (),
    "Marketing consent per channel and contact: the latest opt-in or opt-out wins. "
    "Key: channel, contact.",
    _stats_on("channel", "event_ts", "export_date"),
)

QUARANTINE_CUSTOMER_RECORDS = TableSpec(
    "quarantine.customer_records",
    T.StructType(
        [
            column("export_date", T.DateType(), "the export the row came from"),
            column("source", T.StringType(), "crm, loyalty or consents"),
            column("rules", T.ArrayType(T.StringType()), "every rule the row breaks"),
            column("source_id", T.StringType(), "crm_id, loyalty_id or event_id as received"),
            column("email", T.StringType(), "email as received (for erasure requests)"),
            column("phone", T.StringType(), "phone as received (for erasure requests)"),
            column("record", T.StringType(), "the whole row as received, JSON"),
        ]
    ),
    ("export_date",),
    "Customer source rows that break a contract rule, kept as received with the rule names.",
    _stats_on("source"),
)

CUSTOMER_360 = TableSpec(
    "gold.customer_360",
    T.StructType(
        [
            column("customer_key", T.StringType(), "stable customer id"),
            column("as_of_date", T.DateType(), "the run date the figures are computed for"),
            column("email_hash", T.StringType(), "SHA-256 of salt + email; no raw PII in gold"),
            column("phone_hash", T.StringType(), "SHA-256 of salt + phone"),
            column("postcode_area", T.StringType(), "first two digits of the postcode"),
            column("birth_year", T.IntegerType(), "year of birth"),
            column("home_store_id", T.IntegerType(), "the loyalty member's store"),
            column("preferred_store_id", T.IntegerType(), "store with most visits in 365 days"),
            column("loyalty_cards", T.IntegerType(), "loyalty cards linked to the customer"),
            column("recency_days", T.IntegerType(), "days since the last purchase; null if none"),
            column("frequency", T.LongType(), "transactions in the last 365 days"),
            column("monetary", T.DecimalType(14, 2), "net amount in the last 365 days"),
            column("r_score", T.IntegerType(), "1-5, 5 = most recent (quintiles of buyers)"),
            column("f_score", T.IntegerType(), "1-5, 5 = most frequent"),
            column("m_score", T.IntegerType(), "1-5, 5 = highest spend"),
            column(
                "segment", T.StringType(), "champions, loyal, at_risk, lost, regular, new, prospect"
            ),
            column("is_email_opted_in", T.BooleanType(), "latest EMAIL consent; null if none"),
            column("is_sms_opted_in", T.BooleanType(), "latest SMS consent; null if none"),
        ]
    ),
    (),
    "One row per current customer for BI: RFM through the loyalty cards, segment, preferred "
    "store, consents; email and phone pseudonymised. Key: customer_key.",
    _stats_on("as_of_date", "segment"),
)

ERASURES = TableSpec(
    "ops.customer_erasures",
    T.StructType(
        [
            column("request_id", T.StringType(), "the erasure request's id (no PII)"),
            column("erased_at", T.TimestampType(), "when the erasure was committed (UTC)"),
            column("customers", T.IntegerType(), "customer keys erased"),
            column("table_name", T.StringType(), "a table the person was removed from"),
            column("rows", T.LongType(), "rows deleted or anonymised in it"),
        ]
    ),
    (),
    "Audit of right-to-erasure requests: what was removed where, never the person's values.",
)
