"""Pure transforms of the customers job: DataFrame in, DataFrame out; no I/O, no clock.

Source rows are checked against the contract's rules (a row that breaks one goes to
quarantine with the rule's names), standardised (an unreadable value becomes null plus a
quality flag, the row is kept) and deduplicated (one version per record, the latest).
"""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame, Window
from pyspark.sql import functions as F

from jobs.contracts.read import RAW_LINE, REPLACEMENT_CHARACTER, TS_PATTERN, rule_names
from jobs.customers import standardise as S
from jobs.customers.tables import CUSTOMER_360, TRACKED_ATTRIBUTES

RULE_MISSING_ID = "missing_id"
RULE_BAD_UPDATED_AT = "bad_updated_at"
RULE_UNKNOWN_CHANNEL = "unknown_channel"
RULE_UNKNOWN_ACTION = "unknown_action"
RULE_BAD_EVENT_TS = "bad_event_ts"
RULE_NO_VALID_CONTACT = "no_valid_contact"
RULE_MALFORMED_ROW = "malformed_row"
RULE_BAD_TYPE = "bad_type"
FLAG_HOME_STORE = "home_store_invalid"
ID_COLUMNS = {"crm": "crm_id", "loyalty": "loyalty_id", "consents": "event_id"}
RFM_DAYS = 365
SCORE_BUCKETS = 5


def _text(name: str) -> Column:
    """A raw field, trimmed; blank reads as null."""
    trimmed = F.trim(F.col(name))
    return F.when(trimmed != "", trimmed)


def _timestamp(name: str) -> Column:
    """ISO-8601 with offset (the contract) as a UTC timestamp; null when unreadable."""
    return F.when(_text(name).rlike(TS_PATTERN), F.try_to_timestamp(_text(name)))


def _rules(*checks: tuple[str, Column]) -> Column:
    return rule_names(checks)


def _read_rules(raw_df: DataFrame, rules: Column) -> Column:
    """`malformed_row` alone when the line does not split into the contract's columns (its
    fields mean nothing); else `bad_type` when a field holds bytes that are not UTF-8 (read as
    U+FFFD), before the other rules."""
    fields = [name for name in raw_df.columns if name != RAW_LINE]
    not_utf8 = F.greatest(
        *[F.coalesce(F.col(name).contains(REPLACEMENT_CHARACTER), F.lit(False)) for name in fields]
    )
    checked = F.concat(_rules((RULE_BAD_TYPE, not_utf8)), rules)
    if RAW_LINE not in raw_df.columns:
        return checked
    return F.when(F.col(RAW_LINE).isNotNull(), F.array(F.lit(RULE_MALFORMED_ROW))).otherwise(
        checked
    )


def check_records(raw_df: DataFrame, source: str) -> DataFrame:
    """The raw columns plus source_id, updated_at_value and `rules` (empty when valid)."""
    return raw_df.select(
        "*",
        _text(ID_COLUMNS[source]).alias("source_id"),
        _timestamp("updated_at").alias("updated_at_value"),
    ).withColumn(
        "rules",
        _read_rules(
            raw_df,
            _rules(
                (RULE_MISSING_ID, F.col("source_id").isNull()),
                (RULE_BAD_UPDATED_AT, F.col("updated_at_value").isNull()),
            ),
        ),
    )


def check_consents(raw_df: DataFrame) -> DataFrame:
    """Consent events with channel_value, is_opted_in, event_ts_value, contact and `rules`."""
    channel = F.upper(_text("channel"))
    action = F.upper(_text("action"))
    contact = F.when(channel == "EMAIL", S.email(F.col("email"))).when(
        channel == "SMS", S.phone(F.col("phone"))
    )
    checked = raw_df.select(
        "*",
        _text("event_id").alias("source_id"),
        channel.alias("channel_value"),
        (action == "OPT_IN").alias("is_opted_in"),
        _timestamp("event_ts").alias("event_ts_value"),
        contact.alias("contact"),
    )
    return checked.withColumn(
        "rules",
        _read_rules(
            raw_df,
            _rules(
                (RULE_MISSING_ID, F.col("source_id").isNull()),
                (RULE_UNKNOWN_CHANNEL, ~F.coalesce(channel.isin("EMAIL", "SMS"), F.lit(False))),
                (RULE_UNKNOWN_ACTION, ~F.coalesce(action.isin("OPT_IN", "OPT_OUT"), F.lit(False))),
                (RULE_BAD_EVENT_TS, F.col("event_ts_value").isNull()),
                (RULE_NO_VALID_CONTACT, channel.isin("EMAIL", "SMS") & F.col("contact").isNull()),
            ),
        ),
    )


def filter_quarantined(
    checked_df: DataFrame, source: str, raw_columns: list[str], export_date: date
) -> DataFrame:
    """The rows that break a rule, as received, in the quarantine table's shape."""
    return checked_df.where(F.size("rules") > 0).select(
        F.lit(export_date).alias("export_date"),
        F.lit(source).alias("source"),
        "rules",
        F.col(raw_columns[0]).alias("source_id"),
        F.col("email"),
        F.col("phone"),
        F.to_json(F.struct(*raw_columns)).alias("record"),
    )


def drop_stale_records(records_df: DataFrame, known_df: DataFrame) -> DataFrame:
    """The batch's records without those the lake already knows in a later version: a re-sent
    record older than the stored one feeds neither identity, survivorship nor SCD2 (the latest
    record of a source id wins, data-contracts)."""
    newer_df = known_df.select(
        "record_id", F.col("updated_at").alias("known_updated_at")
    ).withColumnRenamed("record_id", "known_record_id")
    return records_df.join(
        newer_df,
        (F.col("record_id") == F.col("known_record_id"))
        & (F.col("known_updated_at") > F.col("updated_at")),
        "left_anti",
    )


def latest_per_key(df: DataFrame, keys: list[str], order: list[Column]) -> DataFrame:
    """One row per key: the first by `order` (callers end it with a full-row tie-breaker)."""
    window = Window.partitionBy(*keys).orderBy(*order)
    return df.withColumn("_rank", F.row_number().over(window)).where("_rank = 1").drop("_rank")


def standardise_records(checked_df: DataFrame, source: str, export_date: date) -> DataFrame:
    """Valid rows -> one standardised version per record (the latest updated_at wins)."""
    valid = checked_df.where(F.size("rules") == 0)
    city = F.col("city") if source == "crm" else F.lit(None).cast("string")
    store_text = _text("home_store_id") if source == "loyalty" else F.lit(None).cast("string")
    home_store = F.when(store_text.rlike(r"^[0-9]{1,9}$"), store_text.cast("int"))
    card = F.col("source_id") if source == "loyalty" else F.upper(_text("loyalty_card_id"))
    values = {
        "first_name": S.name(F.col("first_name")),
        "last_name": S.name(F.col("last_name")),
        "email": S.email(F.col("email")),
        "phone": S.phone(F.col("phone")),
        "postcode": S.postcode(F.col("postcode")),
        "city": S.city(city),
        "birth_date": S.birth_date(F.col("birth_date"), export_date),
        "home_store_id": home_store,
    }
    flags = S.quality_flags(
        S.flag(F.col("email"), values["email"], S.FLAG_EMAIL),
        S.flag(F.col("phone"), values["phone"], S.FLAG_PHONE),
        S.flag(F.col("postcode"), values["postcode"], S.FLAG_POSTCODE),
        S.flag(F.col("birth_date"), values["birth_date"], S.FLAG_BIRTH_DATE),
        S.flag(store_text, home_store, FLAG_HOME_STORE),
    )
    standardised = valid.select(
        F.concat(F.lit(f"{source}:"), F.col("source_id")).alias("record_id"),
        F.lit(source).alias("source"),
        "source_id",
        *[value.alias(name) for name, value in values.items()],
        card.alias("loyalty_card"),
        flags.alias("quality_flags"),
        F.col("updated_at_value").alias("updated_at"),
        F.lit(export_date).alias("export_date"),
    )
    # The same record twice in an export: the latest version; equal times, the larger row.
    return latest_per_key(
        standardised,
        ["record_id"],
        [F.col("updated_at").desc(), F.to_json(F.struct("*")).desc()],
    )


def dedupe_consents(checked_df: DataFrame, export_date: date) -> DataFrame:
    """Valid events -> the latest per channel and contact (then the larger event id)."""
    valid = checked_df.where(F.size("rules") == 0).select(
        F.col("channel_value").alias("channel"),
        "contact",
        "is_opted_in",
        F.col("event_ts_value").alias("event_ts"),
        F.col("source_id").alias("event_id"),
        F.upper(_text("source")).alias("source"),
        F.lit(export_date).alias("export_date"),
    )
    return latest_per_key(
        valid, ["channel", "contact"], [F.col("event_ts").desc(), F.col("event_id").desc()]
    )


def attributes_hash() -> Column:
    """SHA-256 of the tracked attributes (null-safe: JSON keeps nulls apart from values)."""
    return F.sha2(
        F.to_json(
            F.struct(*[F.col(name) for name in TRACKED_ATTRIBUTES]), {"ignoreNullFields": "false"}
        ),
        256,
    )


def pseudonym(value: Column, salt: str) -> Column:
    """SHA-256 of salt + value, hex; null stays null."""
    return F.when(value.isNotNull(), F.sha2(F.concat(F.lit(salt), value), 256))


def rfm_first_day(as_of: date) -> date:
    """The first sale date the RFM figures count: RFM_DAYS days up to as_of."""
    return as_of - timedelta(days=RFM_DAYS - 1)


def _score(value: Column, ascending: bool) -> Column:
    """1..5 by quintile among buyers: ceil(cume_dist × 5); equal values share a score."""
    order = value.asc() if ascending else value.desc()
    window = Window.partitionBy(F.col("frequency") > 0).orderBy(order)
    return F.when(
        F.col("frequency") > 0, F.ceil(F.cume_dist().over(window) * SCORE_BUCKETS).cast("int")
    )


def segment() -> Column:
    """From the scores: champions, loyal, at_risk, lost, regular; prospect without purchase."""
    r, f = F.col("r_score"), F.col("f_score")
    return (
        F.when(F.col("frequency") == 0, "prospect")
        .when((r >= 4) & (f >= 4), "champions")
        .when(f >= 4, "loyal")
        .when((r <= 2) & (f >= 3), "at_risk")
        .when(r == 1, "lost")
        .otherwise("regular")
    )


def to_customer_360(
    customers_df: DataFrame,
    cards_df: DataFrame,
    sales_df: DataFrame,
    consents_df: DataFrame,
    as_of: date,
    salt: str,
) -> DataFrame:
    """One row per current customer (gold.customer_360's columns).

    `cards_df`: customer_key, loyalty_card; `sales_df`: silver.sales_lines; RFM over the
    365 days up to `as_of`, through the customer's loyalty cards.
    """
    cards = cards_df.select("customer_key", "loyalty_card").distinct()
    lines = sales_df.where(
        F.col("sale_date").between(F.lit(rfm_first_day(as_of)), F.lit(as_of))
    ).join(cards, F.col("loyalty_id") == F.col("loyalty_card"))
    transaction = F.struct("sale_date", "store_id", "channel", "transaction_id")
    rfm = lines.groupBy("customer_key").agg(
        F.datediff(F.lit(as_of), F.max("sale_date")).alias("recency_days"),
        F.count_distinct(transaction).alias("frequency"),
        F.sum("net_amount").alias("monetary"),
    )
    visits = (
        lines.where(F.col("channel") == "STORE")
        .groupBy("customer_key", "store_id")
        .agg(F.count_distinct(transaction).alias("visits"))
        .groupBy("customer_key")
        .agg(F.min_by("store_id", F.struct(-F.col("visits"), F.col("store_id"))).alias("preferred"))
    )
    card_counts = cards.groupBy("customer_key").agg(F.count("*").alias("loyalty_cards"))
    email_consents = consents_df.where(F.col("channel") == "EMAIL").select(
        F.col("contact").alias("email"), F.col("is_opted_in").alias("is_email_opted_in")
    )
    sms_consents = consents_df.where(F.col("channel") == "SMS").select(
        F.col("contact").alias("phone"), F.col("is_opted_in").alias("is_sms_opted_in")
    )
    joined = (
        customers_df.where("is_current")
        .join(rfm, "customer_key", "left")
        .join(visits, "customer_key", "left")
        .join(card_counts, "customer_key", "left")
        .join(email_consents, "email", "left")
        .join(sms_consents, "phone", "left")
        .withColumn("frequency", F.coalesce("frequency", F.lit(0)))
        .withColumn("r_score", _score(F.col("recency_days"), ascending=False))
        .withColumn("f_score", _score(F.col("frequency"), ascending=True))
        .withColumn("m_score", _score(F.col("monetary"), ascending=True))
    )
    return joined.select(
        "customer_key",
        F.lit(as_of).alias("as_of_date"),
        pseudonym(F.col("email"), salt).alias("email_hash"),
        pseudonym(F.col("phone"), salt).alias("phone_hash"),
        F.substring("postcode", 1, 2).alias("postcode_area"),
        F.year("birth_date").alias("birth_year"),
        "home_store_id",
        F.col("preferred").alias("preferred_store_id"),
        F.coalesce("loyalty_cards", F.lit(0)).alias("loyalty_cards"),
        "recency_days",
        "frequency",
        F.coalesce("monetary", F.lit(0)).alias("monetary"),
        "r_score",
        "f_score",
        "m_score",
        segment().alias("segment"),
        "is_email_opted_in",
        "is_sms_opted_in",
    ).select(*[F.col(f.name).cast(f.dataType) for f in CUSTOMER_360.schema])
