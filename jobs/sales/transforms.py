"""Pure transforms of the sales job: DataFrame in, DataFrame out; no I/O, no session, no clock."""

from __future__ import annotations

from datetime import date

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.contracts import pos as contract
from jobs.contracts.read import RAW_LINE, REPLACEMENT_CHARACTER, rule_names, text, typed_value
from jobs.contracts.types import AMOUNT, PRICE
from jobs.orders import latest_order_states
from jobs.sales.tables import CHANNEL_ONLINE, CHANNEL_STORE, ONLINE_STORE_ID, RAW_COLUMNS

ORDER_TIMESTAMPS = ("order_ts", "updated_ts", "shipped_ts")
LINE_KEY = ("sale_date", "store_id", "transaction_id", "line_number")


def _file_name() -> Column:
    """The base name of source_file: re-sends are ordered by it."""
    return F.element_at(F.split(F.col("source_file"), "/"), -1)


def with_typed_values(raw_df: DataFrame) -> DataFrame:
    """Adds the parsed value of each typed field (`*_value`, null when absent or unparsable)."""
    return raw_df.select(
        "*",
        typed_value("line_number", T.IntegerType()).alias("line_number_value"),
        typed_value("pos_store_id", T.IntegerType()).alias("store_id_value"),
        typed_value("quantity", T.IntegerType()).alias("quantity_value"),
        typed_value("unit_price", PRICE).alias("unit_price_value"),
        typed_value("discount_amount", PRICE).alias("discount_value"),
        typed_value("transaction_ts", T.TimestampType()).alias("transaction_ts_value"),
    )


def _broken_rules(known_store: Column, known_sku: Column) -> list[tuple[str, Column]]:
    """Each contract rule and when a (well-formed) line breaks it."""
    quantity = F.col("quantity_value")
    price = F.col("unit_price_value")
    discount = F.when(text("discount_amount").isNull(), F.lit(0).cast(PRICE)).otherwise(
        F.col("discount_value")
    )
    parsed = {
        "line_number": F.col("line_number_value"),
        "pos_store_id": F.col("store_id_value"),
        "quantity": quantity,
        "unit_price": price,
        "discount_amount": F.col("discount_value"),
        "transaction_ts": F.col("transaction_ts_value"),
    }
    bad_type = F.lit(False)
    for name, value in parsed.items():
        bad_type = bad_type | (text(name).isNotNull() & value.isNull())
    bad_type = bad_type | (F.col("line_number_value") < 1)
    # Bytes that are not UTF-8 read as U+FFFD: the line's text is not what was sent.
    for name in RAW_COLUMNS:
        bad_type = bad_type | F.coalesce(F.col(name).contains(REPLACEMENT_CHARACTER), F.lit(False))
    store = F.col("store_id_value")
    return [
        (
            contract.RULE_MISSING_REQUIRED,
            F.greatest(*[text(name).isNull() for name in contract.REQUIRED_COLUMNS]),
        ),
        (contract.RULE_BAD_TYPE, bad_type),
        (contract.RULE_ZERO_QUANTITY, quantity == 0),
        (contract.RULE_NEGATIVE_AMOUNT, (price < 0) | (F.col("discount_value") < 0)),
        (
            contract.RULE_DISCOUNT_EXCEEDS_AMOUNT,
            ((quantity > 0) & (discount > quantity * price)) | ((quantity < 0) & (discount > 0)),
        ),
        (
            contract.RULE_STORE_MISMATCH,
            # An empty store_id does not equal the folder's either.
            text("pos_store_id").isNull()
            | (store.isNotNull() & ((store != F.col("store_id")) | ~known_store)),
        ),
        (contract.RULE_UNKNOWN_SKU, text("sku").isNotNull() & ~known_sku),
        (
            contract.RULE_DATE_MISMATCH,
            F.col("transaction_ts_value").isNotNull()
            & (F.substring(text("transaction_ts"), 1, 10) != F.col("sale_date").cast("string")),
        ),
        (
            contract.RULE_BAD_PAYMENT_METHOD,
            text("payment_method").isNotNull()
            & ~text("payment_method").isin(*contract.PAYMENT_METHODS),
        ),
    ]


def with_rule_violations(
    lines_df: DataFrame, stores_df: DataFrame, products_df: DataFrame
) -> DataFrame:
    """Adds `rules`: every contract rule the line breaks (empty when the line is valid)."""
    known_stores = stores_df.select(
        F.col("store_id").alias("known_store_id"), F.lit(True).alias("is_known_store")
    )
    known_skus = products_df.select(
        F.col("sku").alias("known_sku"), F.lit(True).alias("is_known_sku")
    )
    joined_df = (
        lines_df.transform(with_typed_values)
        .join(F.broadcast(known_stores), F.col("store_id_value") == F.col("known_store_id"), "left")
        .join(F.broadcast(known_skus), text("sku") == F.col("known_sku"), "left")
    )
    checks = _broken_rules(
        F.coalesce(F.col("is_known_store"), F.lit(False)),
        F.coalesce(F.col("is_known_sku"), F.lit(False)),
    )
    rules = rule_names(checks)
    malformed = F.array(F.lit(contract.RULE_MALFORMED_ROW))
    return joined_df.withColumn(
        "rules", F.when(F.col("raw_line").isNotNull(), malformed).otherwise(rules)
    ).drop("known_store_id", "is_known_store", "known_sku", "is_known_sku")


def filter_quarantined(checked_df: DataFrame) -> DataFrame:
    """The lines that break at least one rule."""
    return checked_df.where(F.size("rules") > 0)


def filter_valid(checked_df: DataFrame) -> DataFrame:
    """The lines that break no rule."""
    return checked_df.where(F.size("rules") == 0)


def dedupe_lines(valid_df: DataFrame) -> DataFrame:
    """One line per key: identical copies count once; else the latest file name's version wins.

    Adds `versions` (distinct contents of the key) and `lines_of_key` (its valid lines), from
    which duplicates (lines_of_key - versions) and superseded lines (versions - 1) are counted.
    All windows share one partitioning (the key), so data clustered by store-day is not moved.
    """
    content_hash = F.xxhash64(*[F.coalesce(F.col(name), F.lit("\u0000")) for name in RAW_COLUMNS])
    per_key = Window.partitionBy(*LINE_KEY)
    newest_first = per_key.orderBy(_file_name().desc(), F.col("content_hash").asc())
    return (
        valid_df.withColumn("content_hash", content_hash)
        .withColumn("version_rank", F.row_number().over(newest_first))
        .withColumn("versions", F.size(F.collect_set("content_hash").over(per_key)))
        .withColumn("lines_of_key", F.count(F.lit(1)).over(per_key))
        .where(F.col("version_rank") == 1)
        .drop("version_rank", "content_hash")
    )


def with_net_amount(lines_df: DataFrame) -> DataFrame:
    """Adds net_amount = quantity × unit_price − discount_amount, as an exact decimal(18,2)."""
    return lines_df.withColumn(
        "net_amount",
        (F.col("quantity") * F.col("unit_price") - F.col("discount_amount")).cast(AMOUNT),
    )


def to_store_sales_lines(deduped_df: DataFrame) -> DataFrame:
    """Typed silver lines of the POS channel."""
    return deduped_df.select(
        "sale_date",
        "store_id",
        F.lit(CHANNEL_STORE).alias("channel"),
        "transaction_id",
        F.col("line_number").cast("int").alias("line_number"),
        text("register_id").alias("register_id"),
        F.col("transaction_ts_value").alias("transaction_ts"),
        "sku",
        F.col("quantity_value").alias("quantity"),
        F.col("unit_price_value").alias("unit_price"),
        F.coalesce(F.col("discount_value"), F.lit(0).cast(PRICE)).alias("discount_amount"),
        text("promo_code").alias("promo_code"),
        text("loyalty_id").alias("loyalty_id"),
        "payment_method",
        F.lit(None).cast("string").alias("fulfilment_location_id"),
        "source_file",
    ).transform(with_net_amount)


def store_day_figures(checked_df: DataFrame, deduped_df: DataFrame) -> DataFrame:
    """Per store-day: input, valid distinct, quarantined, duplicates and superseded lines."""
    inputs_df = checked_df.groupBy("sale_date", "store_id").agg(
        F.count(F.lit(1)).alias("input_lines"),
        F.sum(F.when(F.size("rules") > 0, 1).otherwise(0)).alias("quarantined"),
    )
    valid_df = deduped_df.groupBy("sale_date", "store_id").agg(
        F.count(F.lit(1)).alias("valid_distinct"),
        F.sum(F.col("lines_of_key") - F.col("versions")).alias("duplicates"),
        F.sum(F.col("versions") - 1).alias("superseded"),
    )
    return (
        inputs_df.join(valid_df, ["sale_date", "store_id"], "left")
        .fillna(0, ["valid_distinct", "duplicates", "superseded"])
        .select(
            "sale_date",
            "store_id",
            "input_lines",
            "valid_distinct",
            "quarantined",
            "duplicates",
            "superseded",
        )
    )


def rule_counts(quarantined_df: DataFrame) -> DataFrame:
    """Per store-day and rule: how many quarantined lines break it."""
    return (
        quarantined_df.select("sale_date", "store_id", F.explode("rules").alias("metric"))
        .groupBy("sale_date", "store_id", "metric")
        .agg(F.count(F.lit(1)).alias("value"))
    )


# The reconciliation figures of ops.dq_results; its other metrics are missing_store_file and
# the quarantine rules' names.
RECONCILIATION_METRICS = (
    "input_lines",
    "valid_distinct",
    "quarantined",
    "duplicates",
    "superseded",
)


def figures_to_metrics(figures_df: DataFrame) -> DataFrame:
    """The reconciliation figures as (sale_date, store_id, metric, value) rows."""
    names = RECONCILIATION_METRICS
    stacked = F.explode(
        F.array(
            *[
                F.struct(F.lit(name).alias("metric"), F.col(name).cast("long").alias("value"))
                for name in names
            ]
        )
    )
    return figures_df.select("sale_date", "store_id", stacked.alias("m")).select(
        "sale_date", "store_id", "m.metric", "m.value"
    )


def missing_store_metrics(
    expected_df: DataFrame, figures_df: DataFrame, run_date: date
) -> DataFrame:
    """A `missing_store_file` row for each expected store (open on the date) that sent no line."""
    return (
        expected_df.where(F.col("opened_on").isNull() | (F.col("opened_on") <= F.lit(run_date)))
        .select("store_id")
        .join(figures_df.select("store_id"), "store_id", "left_anti")
        .select(
            F.lit(run_date).alias("sale_date"),
            "store_id",
            F.lit(contract.MISSING_STORE_FILE).alias("metric"),
            F.lit(1).cast("long").alias("value"),
        )
    )


def with_order_rules(orders_df: DataFrame) -> DataFrame:
    """Adds `rules` to the web shop's order records: `malformed_row` when a line is not a JSON
    object, `bad_type` when a value does not parse as the contract's type (Spark keeps the
    record's text in raw_line) or a timestamp lacks its offset; empty when the record is valid."""
    if RAW_LINE not in orders_df.columns:  # frames built in code rather than read from files
        orders_df = orders_df.withColumn(RAW_LINE, F.lit(None).cast("string"))
    not_json = F.col(RAW_LINE).isNotNull() & F.col("order_id").isNull()
    bad_timestamp = F.lit(False)
    for name in (name for name in ORDER_TIMESTAMPS if name in orders_df.columns):
        bad_timestamp = bad_timestamp | (
            text(name).isNotNull() & typed_value(name, T.TimestampType()).isNull()
        )
    bad_type = F.col(RAW_LINE).isNotNull() | bad_timestamp
    return orders_df.withColumn(
        "rules",
        F.when(not_json, F.array(F.lit(contract.RULE_MALFORMED_ROW)))
        .when(bad_type, F.array(F.lit(contract.RULE_BAD_TYPE)))
        .otherwise(F.array().cast("array<string>")),
    )


def to_online_quarantine(checked_orders_df: DataFrame, run_date: date) -> DataFrame:
    """The order records that break a rule, as rows of quarantine.sales_lines (store_id 0, the
    record's JSON text in raw_line)."""
    return checked_orders_df.where(F.size("rules") > 0).select(
        F.lit(run_date).alias("sale_date"),
        F.lit(ONLINE_STORE_ID).alias("store_id"),
        "rules",
        *[
            F.col("order_id").alias(name) if name == "transaction_id" else F.lit(None).alias(name)
            for name in RAW_COLUMNS
        ],
        F.coalesce(
            F.col(RAW_LINE), F.to_json(F.struct("order_id", "order_ts", "updated_ts"))
        ).alias("raw_line"),
        "source_file",
        F.lit(None).cast("timestamp").alias("source_modified_at"),
    )


def to_online_sales_lines(orders_df: DataFrame, run_date: date) -> DataFrame:
    """The lines of the orders placed on run_date (local date), latest state, not cancelled.
    Records that break a rule (see with_order_rules) are left out."""
    return (
        orders_df.transform(with_order_rules)
        .where(F.size("rules") == 0)
        .withColumn("updated_ts", F.try_to_timestamp("updated_ts"))
        .transform(latest_order_states)
        .where(
            (F.substring("order_ts", 1, 10) == F.lit(run_date.isoformat()))
            & (F.col("status") != "CANCELLED")
        )
        .select("*", F.explode("items").alias("item"))
        .select(
            F.lit(run_date).alias("sale_date"),
            F.lit(ONLINE_STORE_ID).alias("store_id"),
            F.lit(CHANNEL_ONLINE).alias("channel"),
            F.col("order_id").alias("transaction_id"),
            F.col("item.line_number").alias("line_number"),
            F.lit(None).cast("string").alias("register_id"),
            F.try_to_timestamp("order_ts").alias("transaction_ts"),
            F.col("item.sku").alias("sku"),
            F.col("item.quantity").alias("quantity"),
            F.col("item.unit_price").cast(PRICE).alias("unit_price"),
            F.coalesce(F.col("item.discount_amount"), F.lit(0))
            .cast(PRICE)
            .alias("discount_amount"),
            F.col("item.promo_code").alias("promo_code"),
            "loyalty_id",
            "payment_method",
            "fulfilment_location_id",
            "source_file",
        )
        .transform(with_net_amount)
    )


# The silver columns the gold tables are computed from (sales-gold reads only these).
GOLD_INPUT_COLUMNS = (
    "sale_date",
    "store_id",
    "channel",
    "sku",
    "transaction_id",
    "quantity",
    "unit_price",
    "discount_amount",
)


def _sales_figures(transactions: bool = True) -> list[Column]:
    quantity, price = F.col("quantity"), F.col("unit_price")
    zero = F.lit(0).cast(AMOUNT)
    gross = F.sum(F.when(quantity > 0, quantity * price)).cast(AMOUNT)
    returns = F.sum(F.when(quantity < 0, -quantity * price)).cast(AMOUNT)
    discounts = F.sum("discount_amount").cast(AMOUNT)
    return [
        *([F.countDistinct("transaction_id").alias("transactions")] if transactions else []),
        F.count(F.lit(1)).alias("lines"),
        F.coalesce(F.sum(F.when(quantity > 0, quantity)), F.lit(0))
        .cast("long")
        .alias("units_sold"),
        F.coalesce(F.sum(F.when(quantity < 0, -quantity)), F.lit(0))
        .cast("long")
        .alias("units_returned"),
        F.coalesce(gross, zero).alias("gross_sales"),
        F.coalesce(discounts, zero).alias("discounts"),
        F.coalesce(returns, zero).alias("returns_value"),
        (F.coalesce(gross, zero) - F.coalesce(discounts, zero) - F.coalesce(returns, zero))
        .cast(AMOUNT)
        .alias("net_sales"),
    ]


def daily_store_sales(sales_lines_df: DataFrame) -> DataFrame:
    """gold.daily_store_sales: the contract's figures per store-day of POS lines."""
    return (
        sales_lines_df.where(F.col("channel") == CHANNEL_STORE)
        .groupBy("sale_date", "store_id")
        .agg(*_sales_figures())
    )


def daily_store_sku_sales(sales_lines_df: DataFrame) -> DataFrame:
    """gold.daily_store_sku_sales: the figures (but transactions) per store, SKU and date, the
    web shop (store 0) included."""
    return sales_lines_df.groupBy("sale_date", "store_id", "sku", "channel").agg(
        *_sales_figures(transactions=False)
    )


def daily_sales_summary(
    sales_lines_df: DataFrame, stores_df: DataFrame, products_df: DataFrame
) -> DataFrame:
    """gold.daily_sales_summary: figures by channel, region, format and category."""
    online = F.col("channel") == CHANNEL_ONLINE
    return (
        sales_lines_df.join(
            F.broadcast(stores_df.select("store_id", "region", "format")), "store_id", "left"
        )
        .join(F.broadcast(products_df.select("sku", "category")), "sku", "left")
        .select(
            "*",
            F.when(online, F.lit("Online")).otherwise(F.col("region")).alias("region_label"),
            F.when(online, F.lit("ONLINE")).otherwise(F.col("format")).alias("format_label"),
            F.coalesce(F.col("category"), F.lit("Unknown")).alias("category_label"),
        )
        .groupBy(
            "sale_date",
            "channel",
            F.col("region_label").alias("region"),
            F.col("format_label").alias("format"),
            F.col("category_label").alias("category"),
        )
        .agg(
            F.countDistinct(F.when(~online, F.col("store_id"))).alias("stores"),
            *_sales_figures(),
        )
    )
