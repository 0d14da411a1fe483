"""Customer sources: CRM customers, loyalty members, marketing consents (raw, dirty formats)."""

from __future__ import annotations

from pyspark.sql import types as T

CONSENT_CHANNELS = ("EMAIL", "SMS")
CONSENT_ACTIONS = ("OPT_IN", "OPT_OUT")
LOYALTY_TIERS = ("BRONZE", "SILVER", "GOLD")

# Names, emails, phones, postcodes and birth dates arrive as typed by people: kept as strings,
# standardised by the customers job (an unparsable value becomes null plus a quality flag).
CRM_CUSTOMER_SCHEMA = T.StructType(
    [
        T.StructField("crm_id", T.StringType(), False),
        T.StructField("first_name", T.StringType(), True),
        T.StructField("last_name", T.StringType(), True),
        T.StructField("email", T.StringType(), True),
        T.StructField("phone", T.StringType(), True),
        T.StructField("postcode", T.StringType(), True),
        T.StructField("city", T.StringType(), True),
        T.StructField("birth_date", T.StringType(), True),
        T.StructField("loyalty_card_id", T.StringType(), True),
        T.StructField("created_at", T.TimestampType(), False),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)

LOYALTY_MEMBER_SCHEMA = T.StructType(
    [
        T.StructField("loyalty_id", T.StringType(), False),
        T.StructField("first_name", T.StringType(), True),
        T.StructField("last_name", T.StringType(), True),
        T.StructField("email", T.StringType(), True),
        T.StructField("phone", T.StringType(), True),
        T.StructField("postcode", T.StringType(), True),
        T.StructField("birth_date", T.StringType(), True),
        T.StructField("home_store_id", T.IntegerType(), True),
        T.StructField("tier", T.StringType(), True),
        T.StructField("enrolled_on", T.DateType(), False),
        T.StructField("updated_at", T.TimestampType(), False),
    ]
)

CONSENT_SCHEMA = T.StructType(
    [
        T.StructField("event_id", T.StringType(), False),
        T.StructField("email", T.StringType(), True),
        T.StructField("phone", T.StringType(), True),
        T.StructField("channel", T.StringType(), False),
        T.StructField("action", T.StringType(), False),
        T.StructField("event_ts", T.TimestampType(), False),
        T.StructField("source", T.StringType(), True),
    ]
)
