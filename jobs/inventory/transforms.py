"""Pure inventory transforms: every source becomes ledger rows; levels come from the ledger.

A movement is a signed change of on-hand, except CYCLE_COUNT and OPENING, which set it
(`is_absolute`). The balance of a (location, sku) is its latest absolute value plus every change
after that instant; a change at the very instant of a count is part of the count. Being a
function of the set of movements, not of their arrival order, it gives the same result
whatever order the files come in, and applying a batch twice changes nothing.
"""

from __future__ import annotations

from datetime import date, datetime

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts.read import RAW_LINE, has_bad_type, text, typed_value
from jobs.contracts.warehouse import MOVEMENT_SCHEMA, MOVEMENT_TYPES, OPENING_STOCK_SCHEMA
from jobs.inventory.tables import STOCK_MOVEMENTS
from jobs.orders import latest_order_states

# What a batch computes per key; updated_at only records when one of these changed.
LEVEL_COLUMNS = (
    "location_id",
    "sku",
    "on_hand",
    "last_movement_ts",
    "count_on_hand",
    "last_count_ts",
)

LEDGER_NAMES = [field.name for field in STOCK_MOVEMENTS.schema.fields]
# Carried beside the ledger's columns until the rules are checked: the rules broken when the
# source line was read, and its text (kept in quarantine.stock_movements).
READ_COLUMNS = ("read_rules", "raw_record")
ABSOLUTE_TYPES = ("CYCLE_COUNT", "OPENING")
RULE_UNKNOWN_LOCATION = "unknown_location"
RULE_UNKNOWN_SKU = "unknown_sku"
RULE_MALFORMED_ROW = "malformed_row"
RULE_MISSING_REQUIRED = "missing_required"
RULE_BAD_TYPE = "bad_type"
RULE_UNKNOWN_MOVEMENT_TYPE = "unknown_movement_type"


def _ledger(df: DataFrame) -> DataFrame:
    """The ledger's columns, in order, with movement_date derived from movement_ts (or the
    folder's date when the timestamp did not parse), then read_rules and raw_record."""
    movement_date = F.to_date("movement_ts")
    if "movement_date" in df.columns:
        movement_date = F.coalesce(movement_date, F.col("movement_date"))
    return (
        with_read_columns(df)
        .withColumn("movement_date", movement_date)
        .select(
            *[F.col(field.name).cast(field.dataType) for field in STOCK_MOVEMENTS.schema.fields],
            *READ_COLUMNS,
        )
    )


def with_read_columns(df: DataFrame) -> DataFrame:
    """Adds read_rules (empty) and raw_record (null) where absent: ledger rows that were not
    read from a landing file (silver.sales_lines, orders, rows made in code)."""
    for name, default in (
        ("read_rules", F.array().cast("array<string>")),
        ("raw_record", F.lit(None).cast("string")),
    ):
        if name not in df.columns:
            df = df.withColumn(name, default)
    return df


def _read_rules(text_df_schema: T.StructType, required: tuple[str, ...]) -> Column:
    """The rules a line read as text breaks: malformed_row, missing_required, bad_type."""
    return F.when(F.col(RAW_LINE).isNotNull(), F.array(F.lit(RULE_MALFORMED_ROW))).otherwise(
        F.array_compact(
            F.array(
                F.when(
                    F.greatest(*[text(name).isNull() for name in required]),
                    F.lit(RULE_MISSING_REQUIRED),
                ),
                F.when(has_bad_type(text_df_schema), F.lit(RULE_BAD_TYPE)),
            )
        )
    )


def _raw_record(schema: T.StructType) -> Column:
    """The line as received: its text when malformed, else its fields as a JSON object."""
    return F.coalesce(F.col(RAW_LINE), F.to_json(F.struct(*schema.fieldNames())))


def wms_to_ledger(movements_df: DataFrame, folder_date: date) -> DataFrame:
    """Warehouse-system movements (read as text): receipts, transfers, adjustments, counts.

    A line that does not parse keeps its rules in read_rules: it is quarantined, not applied.
    """
    required = tuple(f.name for f in MOVEMENT_SCHEMA if not f.nullable)
    movement_type = text("movement_type")
    read_rules = F.array_compact(
        F.concat(
            _read_rules(MOVEMENT_SCHEMA, required),
            F.array(
                F.when(
                    F.col(RAW_LINE).isNull()
                    & movement_type.isNotNull()
                    & ~movement_type.isin(*MOVEMENT_TYPES),
                    F.lit(RULE_UNKNOWN_MOVEMENT_TYPE),
                )
            ),
        )
    )
    line_id = F.sha2(F.concat_ws("|", "source_file", _raw_record(MOVEMENT_SCHEMA)), 256)
    return _ledger(
        movements_df.select(
            F.concat(F.lit("WMS-"), F.coalesce(text("movement_id"), line_id)).alias("movement_key"),
            F.lit("WMS").alias("source"),
            movement_type.alias("movement_type"),
            typed_value("movement_ts", T.TimestampType()).alias("movement_ts"),
            text("location_id").alias("location_id"),
            text("sku").alias("sku"),
            typed_value("quantity", T.IntegerType()).alias("quantity"),
            movement_type.isin(*ABSOLUTE_TYPES).alias("is_absolute"),
            F.coalesce(text("transfer_id"), text("reference")).alias("reference"),
            F.lit(folder_date).alias("movement_date"),
            read_rules.alias("read_rules"),
            _raw_record(MOVEMENT_SCHEMA).alias("raw_record"),
        )
    )


def pos_to_ledger(sales_lines_df: DataFrame) -> DataFrame:
    """Store sales (stock out) and returns (stock back in) from silver.sales_lines."""
    store_lines_df = sales_lines_df.where(F.col("channel") == "STORE")
    return _ledger(
        store_lines_df.select(
            F.concat_ws(
                "-",
                F.lit("POS"),
                "store_id",
                F.col("sale_date").cast("string"),
                "transaction_id",
                F.col("line_number").cast("string"),
            ).alias("movement_key"),
            F.lit("POS").alias("source"),
            F.when(F.col("quantity") < 0, "RETURN").otherwise("SALE").alias("movement_type"),
            F.col("transaction_ts").alias("movement_ts"),
            F.concat(F.lit("STORE-"), F.col("store_id").cast("string")).alias("location_id"),
            "sku",
            (-F.col("quantity")).alias("quantity"),
            F.lit(False).alias("is_absolute"),
            F.col("transaction_id").alias("reference"),
        )
    )


def shipments_to_ledger(orders_df: DataFrame) -> DataFrame:
    """Online orders in their latest state; SHIPPED ones leave their warehouse at shipped_ts."""
    shipped_df = (
        orders_df.transform(latest_order_states)
        .where(F.col("status") == "SHIPPED")
        .select(
            "order_id", "shipped_ts", "fulfilment_location_id", F.explode("items").alias("item")
        )
    )
    return _ledger(
        shipped_df.select(
            F.concat_ws(
                "-", F.lit("SHIP"), "order_id", F.col("item.line_number").cast("string")
            ).alias("movement_key"),
            F.lit("ONLINE").alias("source"),
            F.lit("SHIPMENT").alias("movement_type"),
            F.col("shipped_ts").alias("movement_ts"),
            F.col("fulfilment_location_id").alias("location_id"),
            F.col("item.sku").alias("sku"),
            (-F.col("item.quantity")).alias("quantity"),
            F.lit(False).alias("is_absolute"),
            F.col("order_id").alias("reference"),
        )
    )


def opening_to_ledger(opening_df: DataFrame, snapshot_date: date) -> DataFrame:
    """A stock snapshot (read as text): absolute balances at snapshot_ts. A line that does not
    parse keeps its rules in read_rules."""
    required = tuple(f.name for f in OPENING_STOCK_SCHEMA if not f.nullable)
    line_id = F.sha2(F.concat_ws("|", "source_file", _raw_record(OPENING_STOCK_SCHEMA)), 256)
    return _ledger(
        opening_df.select(
            F.concat_ws(
                "-",
                F.lit("OPEN"),
                F.lit(snapshot_date.isoformat()),
                F.coalesce(text("location_id"), line_id),
                text("sku"),
            ).alias("movement_key"),
            F.lit("OPENING").alias("source"),
            F.lit("OPENING").alias("movement_type"),
            typed_value("snapshot_ts", T.TimestampType()).alias("movement_ts"),
            text("location_id").alias("location_id"),
            text("sku").alias("sku"),
            typed_value("on_hand", T.IntegerType()).alias("quantity"),
            F.lit(True).alias("is_absolute"),
            F.lit(None).cast(T.StringType()).alias("reference"),
            F.lit(snapshot_date).alias("movement_date"),
            _read_rules(OPENING_STOCK_SCHEMA, required).alias("read_rules"),
            _raw_record(OPENING_STOCK_SCHEMA).alias("raw_record"),
        )
    )


def in_window(ts: Column, since: datetime | None, until: datetime | None) -> Column:
    """since <= ts < until (UTC); no bound when None. A null ts is in no window."""
    condition: Column = ts.isNotNull()
    if since is not None:
        condition = condition & (ts >= F.lit(since))
    if until is not None:
        condition = condition & (ts < F.lit(until))
    return condition


def filter_window(
    ledger_df: DataFrame, since: datetime | None, until: datetime | None
) -> DataFrame:
    """Movements with since <= movement_ts < until (UTC); no bound when None."""
    if since is None and until is None:
        return ledger_df
    return ledger_df.where(in_window(F.col("movement_ts"), since, until))


def wms_lines_in_window(
    movements_df: DataFrame, since: datetime | None, until: datetime | None
) -> DataFrame:
    """The WMS lines (read as text) whose movement_ts parses into the window, before
    wms_to_ledger: filter_window after it gives the same rows, but Spark leaves a filter on a
    derived column above the projection that derives it, so every line of the date's files
    would get its movement_key, read_rules and raw_record first (an intraday batch late in
    the day reads all of the day's files). No bound keeps every line, unparsable ones too:
    the daily run quarantines them."""
    if since is None and until is None:
        return movements_df
    return movements_df.where(
        in_window(typed_value("movement_ts", T.TimestampType()), since, until)
    )


def dedupe_movements(ledger_df: DataFrame) -> DataFrame:
    """A re-sent movement (same key) counts once: the earliest version of it is kept."""
    first = Window.partitionBy("movement_key").orderBy("movement_ts", "quantity", "location_id")
    return (
        ledger_df.withColumn("copy", F.row_number().over(first))
        .where(F.col("copy") == 1)
        .drop("copy")
    )


def with_movement_violations(
    ledger_df: DataFrame, locations_df: DataFrame, skus_df: DataFrame
) -> DataFrame:
    """Adds `rules`: the names of the rules a movement breaks (empty when it is valid)."""
    ledger_df = with_read_columns(ledger_df)
    known_locations = locations_df.select("location_id", F.lit(True).alias("is_known_location"))
    known_skus = skus_df.select("sku", F.lit(True).alias("is_known_sku"))
    return (
        ledger_df.join(F.broadcast(known_locations), "location_id", "left")
        .join(F.broadcast(known_skus), "sku", "left")
        .withColumn(
            "rules",
            F.array_compact(
                F.concat(
                    F.col("read_rules"),
                    F.array(
                        F.when(
                            F.col("location_id").isNotNull() & F.col("is_known_location").isNull(),
                            F.lit(RULE_UNKNOWN_LOCATION),
                        ),
                        F.when(
                            F.col("sku").isNotNull() & F.col("is_known_sku").isNull(),
                            F.lit(RULE_UNKNOWN_SKU),
                        ),
                    ),
                )
            ),
        )
        .select(*LEDGER_NAMES, "rules", "raw_record")
    )


def stock_levels(ledger_df: DataFrame, counts_df: DataFrame) -> DataFrame:
    """Balances of the (location, sku) keys of ledger_df.

    counts_df (location_id, sku, count_on_hand, last_count_ts, last_movement_ts) is the state's
    latest count for those keys: a count older than the ledger rows read. ledger_df holds every
    movement of the keys since that count (or since the key's first movement).
    """
    state_counts_df = counts_df.select(
        "location_id",
        "sku",
        F.col("last_count_ts").alias("movement_ts"),
        F.col("count_on_hand").alias("quantity"),
        F.lit(True).alias("is_absolute"),
        F.lit(False).alias("in_ledger"),
    ).where(F.col("movement_ts").isNotNull())
    rows_df = ledger_df.select(
        "location_id",
        "sku",
        "movement_ts",
        F.col("quantity").cast("long"),
        "is_absolute",
        F.lit(True).alias("in_ledger"),
    ).unionByName(state_counts_df)
    # One shuffle by key: each row sees its key's latest absolute value (latest instant, then
    # the larger value), and one aggregation on the same partitioning sums what came after it.
    latest_first = F.struct(F.col("movement_ts"), F.col("quantity"))
    key = Window.partitionBy("location_id", "sku")
    after_base = F.col("base").isNull() | (F.col("movement_ts") > F.col("base.movement_ts"))
    per_key_df = (
        rows_df.withColumn("base", F.max(F.when(F.col("is_absolute"), latest_first)).over(key))
        .groupBy("location_id", "sku")
        .agg(
            F.max("base").alias("base"),
            F.sum(F.when(~F.col("is_absolute") & after_base, F.col("quantity"))).alias("change"),
            F.max(F.when(F.col("in_ledger"), F.col("movement_ts"))).alias("ledger_last_ts"),
            F.max("in_ledger").alias("in_ledger"),
        )
        .where(F.col("in_ledger"))  # the keys of ledger_df only
    )
    return per_key_df.join(
        counts_df.select("location_id", "sku", F.col("last_movement_ts").alias("state_last")),
        ["location_id", "sku"],
        "left",
    ).select(
        "location_id",
        "sku",
        (F.coalesce("base.quantity", F.lit(0)) + F.coalesce("change", F.lit(0)))
        .cast("long")
        .alias("on_hand"),
        F.greatest("ledger_last_ts", "state_last").alias("last_movement_ts"),
        F.col("base.quantity").cast("long").alias("count_on_hand"),
        F.col("base.movement_ts").alias("last_count_ts"),
    )


def levels_of_keys(levels_df: DataFrame, keys_df: DataFrame) -> DataFrame:
    """The stock levels of the (location_id, sku) keys in keys_df (where a replay starts)."""
    return levels_df.join(keys_df, ["location_id", "sku"], "left_semi").select(*LEVEL_COLUMNS)


def reconciliation_differences(
    ledger_levels_df: DataFrame, state_df: DataFrame, day: date
) -> DataFrame:
    """Rows of ops.stock_reconciliation: each key whose ledger balance differs from its state."""
    return (
        ledger_levels_df.alias("l")
        .join(state_df.alias("s"), ["location_id", "sku"], "left")
        .select(
            F.lit(day).alias("reconciliation_date"),
            "location_id",
            "sku",
            F.col("s.on_hand").alias("state_on_hand"),
            F.col("l.on_hand").alias("ledger_on_hand"),
            (F.col("s.on_hand") - F.col("l.on_hand")).alias("difference"),
        )
    )
