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
            column(
                "raw_record",
                T.StringType(),
                "a landing line as received (its text when malformed, else its fields as JSON); "
                "null for movements from the lake",
            ),
        ]
    ),
    ("movement_date",),
    "Movements that cannot be applied (a line that does not parse, an unknown SKU or "
    "location), with the rules they break.",
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
    # A file holds one location's every SKU, so no column's min/max can skip one: the file
    # statistics keep the row count only, and each batch's rewrite of its locations' files
    # does not collect them (the levels MERGE 20.4 -> 17.6 s at 500 stores, performance.md).
    (("delta.dataSkippingNumIndexedCols", "0"),),
)

ECOMMERCE_AVAILABILITY = TableSpec(
    "gold.ecommerce_availability",
    T.StructType(
        [
            column("sku", T.StringType(), "product (every product of products.csv)"),
            column(
                "available_to_sell",
                T.LongType(),
                "what the web site may sell: the sum below, never below 0",
            ),
            column("as_of", T.TimestampType(), "the end of the batch the figures hold for"),
            column(
                "warehouse_on_hand",
                T.LongType(),
                "on hand in the warehouses that serve e-commerce (negative kept)",
            ),
            column("safety_stock", T.LongType(), "units held back (conf, by category)"),
            column("reserved_units", T.LongType(), "units of open (PLACED) online orders"),
        ]
    ),
    (),
    "What the e-commerce site may sell per SKU, replaced by each batch. Key: sku.",
)

REPLENISHMENT_ALERTS = TableSpec(
    "gold.replenishment_alerts",
    T.StructType(
        [
            column("alert_date", T.DateType(), "the daily run that raised it (partition)"),
            column("location_id", T.StringType(), "STORE-<store_id> or WH-nn"),
            column("sku", T.StringType(), "product"),
            column("on_hand", T.LongType(), "current on hand, negative kept as is"),
            column("avg_daily_units", T.DoubleType(), "units sold per day over velocity_days"),
            column("reorder_point", T.LongType(), "ceil(velocity x (lead time + safety days))"),
            column("order_up_to", T.LongType(), "reorder point + ceil(velocity x review days)"),
            column(
                "suggested_order_qty",
                T.LongType(),
                "order_up_to - max(on_hand, 0): a negative balance is not a debt to reorder",
            ),
            column("reason", T.StringType(), "negative_stock or below_reorder_point"),
        ]
    ),
    ("alert_date",),
    "Locations and SKUs to reorder, or whose stock is negative. Key: alert_date, location_id, sku.",
)

STOCK_RECONCILIATION = TableSpec(
    "ops.stock_reconciliation",
    T.StructType(
        [
            column("reconciliation_date", T.DateType(), "the daily run that found it (partition)"),
            column("location_id", T.StringType(), "STORE-<store_id> or WH-nn"),
            column("sku", T.StringType(), "product"),
            column("state_on_hand", T.LongType(), "silver.stock_levels before the correction"),
            column("ledger_on_hand", T.LongType(), "a full replay of silver.stock_movements"),
            column("difference", T.LongType(), "state - ledger"),
        ]
    ),
    ("reconciliation_date",),
    "Differences between stock levels and a full ledger replay, corrected by the daily run. "
    "Key: reconciliation_date, location_id, sku.",
)
