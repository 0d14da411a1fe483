"""The tables of the sales job: schemas (with column comments), layout and keys."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.contracts.pos import POS_COLUMNS
from jobs.contracts.types import AMOUNT, PRICE
from jobs.lake import TableSpec, column

STORE_DAY = ("sale_date", "store_id")
CHANNEL_STORE = "STORE"
CHANNEL_ONLINE = "ONLINE"
# Online orders have no store: their lines sit in the partition store_id = 0, "the web shop".
ONLINE_STORE_ID = 0

# The POS fields as received; the file's store_id is `pos_store_id` beside the folder's store_id.
RAW_COLUMNS = tuple("pos_store_id" if name == "store_id" else name for name in POS_COLUMNS)
_RAW_COLUMNS = [
    column(name, T.StringType(), f"`{source}` exactly as received (string)")
    for name, source in zip(RAW_COLUMNS, POS_COLUMNS, strict=True)
]
# Raw text is read by store-day (partition pruning), never filtered by value: statistics on
# the partition columns only save collecting min/max of a dozen strings for every file.
RAW_TABLE_PROPERTIES = (("delta.dataSkippingNumIndexedCols", "2"),)
_LINEAGE = [
    column("source_file", T.StringType(), "the landing file the line came from (full path)"),
    column("source_modified_at", T.TimestampType(), "when the landing file was written (UTC)"),
]

BRONZE_POS_LINES = TableSpec(
    "bronze.pos_lines",
    T.StructType(
        [
            column("sale_date", T.DateType(), "business date, from the folder sale_date=…"),
            column("store_id", T.IntegerType(), "store, from the folder store_id=…"),
            *_RAW_COLUMNS,
            column(
                "raw_line",
                T.StringType(),
                "the CSV text when the line did not split into 12 columns, else null",
            ),
            *_LINEAGE,
            column("ingested_at", T.TimestampType(), "when the run that loaded it started (UTC)"),
        ]
    ),
    STORE_DAY,
    "POS lines as received, all strings, for lineage and replay; one partition per store-day.",
    RAW_TABLE_PROPERTIES,
)

SILVER_SALES_LINES = TableSpec(
    "silver.sales_lines",
    T.StructType(
        [
            column("sale_date", T.DateType(), "business date (local date of the sale)"),
            column("store_id", T.IntegerType(), "store; 0 for the web shop (channel ONLINE)"),
            column("channel", T.StringType(), "STORE (POS) or ONLINE (e-commerce order)"),
            column("transaction_id", T.StringType(), "POS transaction or online order id"),
            column("line_number", T.IntegerType(), "line within the transaction or order"),
            column("register_id", T.StringType(), "POS register; null online"),
            column("transaction_ts", T.TimestampType(), "when the sale happened (UTC instant)"),
            column("sku", T.StringType(), "product"),
            column("quantity", T.IntegerType(), "units; negative for a return"),
            column("unit_price", PRICE, "price per unit"),
            column("discount_amount", PRICE, "discount on the line (0 when none)"),
            column("net_amount", AMOUNT, "quantity × unit_price − discount_amount"),
            column("promo_code", T.StringType(), "campaign code, if any"),
            column("loyalty_id", T.StringType(), "loyalty card, if any"),
            column("payment_method", T.StringType(), "CASH, CARD, MOBILE, VOUCHER or OTHER"),
            column("fulfilment_location_id", T.StringType(), "warehouse shipping an online order"),
            column("source_file", T.StringType(), "the landing file of the winning version"),
        ]
    ),
    STORE_DAY,
    "Valid, deduplicated sales lines of stores and the web shop. Key: sale_date, store_id, "
    "channel, transaction_id, line_number.",
    # The loyalty card is personal data: kept out of the statistics, so that a card blanked by
    # an erasure does not linger as a min/max in the transaction log.
    (("delta.dataSkippingStatsColumns", "channel,transaction_id,sku,transaction_ts"),),
)

QUARANTINE_SALES_LINES = TableSpec(
    "quarantine.sales_lines",
    T.StructType(
        [
            column("sale_date", T.DateType(), "business date, from the folder"),
            column("store_id", T.IntegerType(), "store, from the folder"),
            column("rules", T.ArrayType(T.StringType()), "every contract rule the line breaks"),
            *_RAW_COLUMNS,
            column("raw_line", T.StringType(), "the CSV text of a malformed line"),
            *_LINEAGE,
        ]
    ),
    STORE_DAY,
    "POS lines rejected by the contract's rules, with all their rule names and source file.",
    RAW_TABLE_PROPERTIES,
)

DQ_RESULTS = TableSpec(
    "ops.dq_results",
    T.StructType(
        [
            column("sale_date", T.DateType(), "business date"),
            column("store_id", T.IntegerType(), "store"),
            column("job", T.StringType(), "the job that measured it"),
            column(
                "metric",
                T.StringType(),
                "input_lines, valid_distinct, quarantined, duplicates, "
                "superseded, missing_store_file, or a quarantine rule name",
            ),
            column("value", T.LongType(), "the count"),
        ]
    ),
    STORE_DAY,
    "Data-quality figures per store-day: reconciliation, lines per rule, missing store files.",
)

_FIGURES = [
    column("transactions", T.LongType(), "distinct transaction_id"),
    column("lines", T.LongType(), "count of valid distinct lines"),
    column("units_sold", T.LongType(), "sum of quantity where quantity > 0"),
    column("units_returned", T.LongType(), "sum of −quantity where quantity < 0"),
    column("gross_sales", AMOUNT, "sum of quantity × unit_price where quantity > 0"),
    column("discounts", AMOUNT, "sum of discount_amount"),
    column("returns_value", AMOUNT, "sum of −quantity × unit_price where quantity < 0"),
    column("net_sales", AMOUNT, "gross_sales − discounts − returns_value"),
]

GOLD_DAILY_STORE_SALES = TableSpec(
    "gold.daily_store_sales",
    T.StructType(
        [
            column("sale_date", T.DateType(), "business date"),
            column("store_id", T.IntegerType(), "store"),
            *_FIGURES,
        ]
    ),
    ("sale_date",),
    "One row per store-day with at least one valid POS line (DATA-CONTRACT.md).",
)

GOLD_DAILY_SALES_SUMMARY = TableSpec(
    "gold.daily_sales_summary",
    T.StructType(
        [
            column("sale_date", T.DateType(), "business date"),
            column("channel", T.StringType(), "STORE or ONLINE"),
            column("region", T.StringType(), "store region; 'Online' for the web shop"),
            column("format", T.StringType(), "HYPER, SUPER, PROXI; 'ONLINE' for the web shop"),
            column("category", T.StringType(), "product category"),
            column("stores", T.LongType(), "stores with sales in the group (0 online)"),
            *_FIGURES,
        ]
    ),
    ("sale_date",),
    "Daily sales by channel, region, format and category: online beside store sales.",
)

GOLD_DAILY_STORE_SKU_SALES = TableSpec(
    "gold.daily_store_sku_sales",
    T.StructType(
        [
            column("sale_date", T.DateType(), "business date"),
            column("store_id", T.IntegerType(), "store; 0 for the web shop"),
            column("sku", T.StringType(), "product"),
            column("channel", T.StringType(), "STORE or ONLINE (store_id 0)"),
            *[field for field in _FIGURES if field.name != "transactions"],
        ]
    ),
    ("sale_date",),
    "One row per store, SKU and date with at least one valid sales line: the daily grain "
    "the 28-day velocity sums instead of re-reading the lines.",
)

ALL_TABLES = (
    BRONZE_POS_LINES,
    SILVER_SALES_LINES,
    QUARANTINE_SALES_LINES,
    DQ_RESULTS,
    GOLD_DAILY_STORE_SALES,
    GOLD_DAILY_SALES_SUMMARY,
    GOLD_DAILY_STORE_SKU_SALES,
)
