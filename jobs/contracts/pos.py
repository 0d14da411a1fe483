"""POS sales export (../shared/guides/DATA-CONTRACT.md): one line per sold or returned item."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.contracts.types import PRICE

POS_LINE_SCHEMA = T.StructType(
    [
        T.StructField("transaction_id", T.StringType(), False),
        T.StructField("line_number", T.IntegerType(), False),
        T.StructField("store_id", T.IntegerType(), False),
        T.StructField("register_id", T.StringType(), True),
        T.StructField("transaction_ts", T.TimestampType(), False),
        T.StructField("sku", T.StringType(), False),
        T.StructField("quantity", T.IntegerType(), False),
        T.StructField("unit_price", PRICE, False),
        T.StructField("discount_amount", PRICE, True),
        T.StructField("promo_code", T.StringType(), True),
        T.StructField("loyalty_id", T.StringType(), True),
        T.StructField("payment_method", T.StringType(), False),
    ]
)
POS_COLUMNS: tuple[str, ...] = tuple(POS_LINE_SCHEMA.fieldNames())

PAYMENT_METHODS = ("CASH", "CARD", "MOBILE", "VOUCHER", "OTHER")

# The quarantine rules of the contract, in the order the contract lists them.
RULE_MALFORMED_ROW = "malformed_row"
RULE_MISSING_REQUIRED = "missing_required"
RULE_BAD_TYPE = "bad_type"
RULE_ZERO_QUANTITY = "zero_quantity"
RULE_NEGATIVE_AMOUNT = "negative_amount"
RULE_DISCOUNT_EXCEEDS_AMOUNT = "discount_exceeds_amount"
RULE_STORE_MISMATCH = "store_mismatch"
RULE_UNKNOWN_SKU = "unknown_sku"
RULE_DATE_MISMATCH = "date_mismatch"
RULE_BAD_PAYMENT_METHOD = "bad_payment_method"
QUARANTINE_RULES = (
    RULE_MALFORMED_ROW,
    RULE_MISSING_REQUIRED,
    RULE_BAD_TYPE,
    RULE_ZERO_QUANTITY,
    RULE_NEGATIVE_AMOUNT,
    RULE_DISCOUNT_EXCEEDS_AMOUNT,
    RULE_STORE_MISMATCH,
    RULE_UNKNOWN_SKU,
    RULE_DATE_MISMATCH,
    RULE_BAD_PAYMENT_METHOD,
)
REQUIRED_COLUMNS = (
    "transaction_id",
    "line_number",
    "transaction_ts",
    "sku",
    "quantity",
    "unit_price",
    "payment_method",
)
# A store open on a date with no POS file: a data-quality figure, not a line.
MISSING_STORE_FILE = "missing_store_file"
