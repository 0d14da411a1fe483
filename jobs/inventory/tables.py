"""The inventory tables: the movement ledger, its quarantine, and stock per location and SKU."""

from __future__ import annotations

from pyspark.sql import types as T

from jobs.lake import TableSpec, column

LEDGER_COLUMNS = [
    column("movement_key", T.StringType(), "unique key: source prefix + the source's own id"),
    column("source", T.StringType(), "POS, ONLINE, WMS or OPENING"),
    column(
        "movement_type",
        T.StringType(),
        "SALE, RETURN, SHIPMENT, RECEIPT, TRANSFER_OUT, TRANSFER_IN, ADJUSTMENT, "
        "CYCLE_COUNT or OPENING",
    ),
    column("movement_ts", T.TimestampType(), "when it happened (UTC instant)"),
    column("location_id", T.StringType(), "STORE-<store_id> or WH-nn"),
    column("sku", T.StringType(), "product"),
    column(
        "quantity",
        T.IntegerType(),
        "signed change; for CYCLE_COUNT and OPENING the counted on-hand",
    ),
    column("is_absolute", T.BooleanType(), "true when quantity sets the balance (count, opening)"),
    column("reference", T.StringType(), "transaction, order, transfer or purchase order"),
    column("movement_date", T.DateType(), "UTC date of movement_ts (partition)"),
]

STOCK_MOVEMENTS = TableSpec(
    "silver.stock_movements",
    T.StructType(LEDGER_COLUMNS),
    ("movement_date",),
    "Stock ledger: every movement once, whatever its source. Key: movement_key.",
)

QUARANTINE_STOCK_MOVEMENTS = TableSpec(
    "quarantine.stock_movements",
    T.StructType(
        [
            *LEDGER_COLUMNS,
            column("rules", T.ArrayType(T.StringType()), "the rules the movement breaks"),
        ]
    ),
    ("movement_date",),
    "Movements that cannot be applied (unknown SKU or location), with the rules they break.",
)

STOCK_LEVELS = TableSpec(
    "silver.stock_levels",
    T.StructType(
        [
            column("location_id", T.StringType(), "STORE-<store_id> or WH-nn (partition)"),
            column("sku", T.StringType(), "product"),
            column("on_hand", T.LongType(), "units; negative is a data signal, never clamped"),
            column("last_movement_ts", T.TimestampType(), "the latest movement applied"),
            column("count_on_hand", T.LongType(), "the latest count or opening value"),
            column("last_count_ts", T.TimestampType(), "when that count was taken"),
            column("updated_at", T.TimestampType(), "the run that last changed the row"),
        ]
    ),
    ("location_id",),
    "Stock per location and SKU, maintained by a MERGE of each batch. Key: location_id, sku.",
)
