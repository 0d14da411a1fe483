"""Job `customers-erase`: the right to erasure (GDPR art. 17) for one person.

`retailmax run customers-erase --request FILE`, FILE a JSON (or YAML) object:

    {"request_id": "DSR-2024-0042", "email": "jean.martin@gmail.com",
     "phone": "06 12 34 56 78", "loyalty_id": "L000000042", "crm_id": "C00000042"}

`request_id` and at least one identifier (email, phone, loyalty_id, crm_id, customer_key).
The identifiers are standardised like the sources, the customers they name are found in
silver.customer_records, and everything those customers' records link (every email, phone
and loyalty card, current and past versions) is removed:

- silver.customer_records, silver.customers (every version), gold.customer_360: the rows;
- silver.customer_consents: the rows of those emails and phones;
- quarantine.customer_records: rows with those ids, emails or phones;
- silver.sales_lines, quarantine.sales_lines, bronze.pos_lines: the sales stay (they are the
  store's records), the loyalty card is blanked out of them.

Then every table that changed is purged of deletion vectors and vacuumed with
`customers.erasure_vacuum_retention_hours`, so no earlier version (time travel) can read the
values. ops.customer_erasures records what was removed where, without the values. Run it when
no job writes these tables (a short retention would delete a running writer's new files).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yaml
from pyspark.sql import Column, DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.context import RunContext
from jobs.customers import extract
from jobs.customers import standardise as S
from jobs.customers.tables import (
    CONSENTS,
    CUSTOMER_360,
    CUSTOMER_RECORDS,
    CUSTOMERS,
    ERASURES,
    QUARANTINE_CUSTOMER_RECORDS,
)
from jobs.errors import BadArgumentError
from jobs.files import read_bytes
from jobs.lake import TableSpec, ensure_table, read_table, session_conf
from jobs.sales.tables import BRONZE_POS_LINES, QUARANTINE_SALES_LINES, SILVER_SALES_LINES
from jobs.spark import get_spark

log = logging.getLogger(__name__)
IDENTIFIERS = ("email", "phone", "loyalty_id", "crm_id", "customer_key")
RETENTION_CHECK = "spark.databricks.delta.retentionDurationCheck.enabled"
ERASED = "<erased>"


@dataclass(frozen=True)
class ErasureRequest:
    """Who is to be erased: the request's id and the identifiers it gives."""

    request_id: str
    email: str | None = None
    phone: str | None = None
    loyalty_id: str | None = None
    crm_id: str | None = None
    customer_key: str | None = None


def read_request(path: str | None) -> ErasureRequest:
    """The request file, checked; a one-line error naming what is wrong."""
    if not path:
        raise BadArgumentError("customers-erase needs --request FILE (a JSON erasure request)")
    try:
        data = yaml.safe_load(read_bytes(path).decode())  # JSON is YAML too; local or s3a://
    except OSError as exc:
        reason = exc.strerror or str(exc).splitlines()[0]
        raise BadArgumentError(f"erasure request {path}: {reason}") from None
    except yaml.YAMLError as exc:
        raise BadArgumentError(
            f"erasure request {path} is not JSON or YAML: {exc}".splitlines()[0]
        ) from None
    if not isinstance(data, dict):
        raise BadArgumentError(f"erasure request {path} is not an object of fields")
    unknown = sorted(set(data) - {"request_id", *IDENTIFIERS})
    if unknown:
        raise BadArgumentError(
            f"erasure request {path}: unknown field {unknown} (known: request_id, "
            f"{', '.join(IDENTIFIERS)})"
        )
    values = {k: str(v).strip() for k, v in data.items() if v is not None and str(v).strip()}
    if "request_id" not in values:
        raise BadArgumentError(f"erasure request {path} has no request_id")
    if not set(values) & set(IDENTIFIERS):
        raise BadArgumentError(
            f"erasure request {path} names nobody: give at least one of {', '.join(IDENTIFIERS)}"
        )
    return ErasureRequest(**values)


@dataclass(frozen=True)
class Person:
    """Everything that identifies the person across the tables."""

    customer_keys: frozenset[str]
    emails: frozenset[str]
    phones: frozenset[str]
    cards: frozenset[str]
    source_ids: frozenset[str]


def find_person(spark: SparkSession, request: ErasureRequest, lake_root: str) -> Person:
    """The customers the request names, and every identifier their records hold or held."""
    given = spark.createDataFrame(
        [(request.email, request.phone)], "email string, phone string"
    ).select(S.email(F.col("email")).alias("email"), S.phone(F.col("phone")).alias("phone"))
    email, phone = given.first()  # type: ignore[misc]
    card = request.loyalty_id.upper() if request.loyalty_id else None
    records = extract.extract_records(spark, lake_root)
    named = F.lit(False)
    for column, value in (
        ("email", email),
        ("phone", phone),
        ("loyalty_card", card),
        ("record_id", f"loyalty:{request.loyalty_id}" if request.loyalty_id else None),
        ("record_id", f"crm:{request.crm_id}" if request.crm_id else None),
        ("customer_key", request.customer_key),
    ):
        if value is not None:
            named = named | (F.col(column) == value)
    keys = {row[0] for row in records.where(named).select("customer_key").distinct().collect()}
    if request.customer_key:
        keys.add(request.customer_key)
    key_list = sorted(keys)
    theirs_key = F.col("customer_key").isin(key_list)
    versions = extract.extract_customers(spark, lake_root).where(theirs_key)
    theirs = records.where(theirs_key)
    emails = _values(theirs, "email") | _values(versions, "email") | _given(email)
    phones = _values(theirs, "phone") | _values(versions, "phone") | _given(phone)
    cards = _values(theirs, "loyalty_card") | _given(card)
    ids = _values(theirs, "source_id") | _given(request.crm_id, request.loyalty_id)
    return Person(frozenset(keys), emails, phones, cards, ids)


def _values(df: Any, column: str) -> frozenset[str]:
    return frozenset(
        r[0] for r in df.select(column).where(F.col(column).isNotNull()).distinct().collect()
    )


def _given(*values: str | None) -> frozenset[str]:
    return frozenset(v for v in values if v)


def run(context: RunContext) -> dict[str, Any]:
    """Erases the person of `context.request` from every table, then vacuums those tables."""
    request = read_request(context.request)
    settings = context.settings
    lake = settings.lake_root
    spark = get_spark(settings, app_name=f"retailmax-customers-erase-{request.request_id}")
    person = find_person(spark, request, lake)
    log.info(
        "erasure %s: %d customer keys, %d emails, %d phones, %d loyalty cards",
        request.request_id,
        len(person.customer_keys),
        len(person.emails),
        len(person.phones),
        len(person.cards),
    )
    values_df = spark.createDataFrame(
        [
            (kind, value)
            for kind, values in (
                ("key", person.customer_keys),
                ("email", person.emails),
                ("phone", person.phones),
                ("card", person.cards),
                ("source_id", person.source_ids),
            )
            for value in sorted(values)
        ],
        "kind string, value string",
    )
    by_key = "s.kind = 'key' AND t.customer_key = s.value"
    deletes: list[tuple[TableSpec, str | Column]] = [
        (CUSTOMER_RECORDS, by_key),
        (CUSTOMERS, by_key),
        (CUSTOMER_360, by_key),
        (
            CONSENTS,
            "(s.kind = 'email' AND t.channel = 'EMAIL' AND t.contact = s.value) OR "
            "(s.kind = 'phone' AND t.channel = 'SMS' AND t.contact = s.value)",
        ),
        (
            QUARANTINE_CUSTOMER_RECORDS,
            (F.col("s.kind").isin("source_id", "card") & (F.col("t.source_id") == F.col("s.value")))
            | ((F.col("s.kind") == "email") & (S.email(F.col("t.email")) == F.col("s.value")))
            | ((F.col("s.kind") == "phone") & (S.phone(F.col("t.phone")) == F.col("s.value"))),
        ),
    ]
    removed: dict[str, int] = {}
    for spec, condition in deletes:
        removed[spec.name] = _delete(spark, spec, lake, values_df, condition)
    cards_df = values_df.where("kind = 'card'")
    for spec in (SILVER_SALES_LINES, QUARANTINE_SALES_LINES, BRONZE_POS_LINES):
        removed[spec.name] = _blank_cards(spark, spec, lake, cards_df)
    changed = [name for name, rows in removed.items() if rows]
    specs = {spec.name: spec for spec, _ in deletes} | {
        s.name: s for s in (SILVER_SALES_LINES, QUARANTINE_SALES_LINES, BRONZE_POS_LINES)
    }
    retention = settings.customers.erasure_vacuum_retention_hours
    for name in changed:
        _purge(spark, specs[name], lake, retention)
    _audit(spark, lake, request.request_id, len(person.customer_keys), removed)
    return {
        "request_id": request.request_id,
        "customers": len(person.customer_keys),
        **{name: rows for name, rows in removed.items()},
        "vacuumed": len(changed),
    }


def _last_metric(spark: SparkSession, path: str, names: Sequence[str]) -> int:
    from delta.tables import DeltaTable

    last = DeltaTable.forPath(spark, path).history(1).first()
    metrics = (last.operationMetrics if last else None) or {}
    return sum(int(metrics.get(name, 0)) for name in names)


def _delete(
    spark: SparkSession,
    spec: TableSpec,
    lake_root: str,
    values_df: DataFrame,
    condition: str | Column,
) -> int:
    """Deletes the rows matching one of the person's values; how many.

    A MERGE with the values as its source, not a DELETE with them in its predicate: Delta
    writes a DELETE's predicate into the transaction log, where the values would outlive
    the vacuum; a MERGE's log names the condition only.
    """
    from delta.tables import DeltaTable

    path = spec.path(lake_root)
    if not DeltaTable.isDeltaTable(spark, path):
        return 0
    target = DeltaTable.forPath(spark, path).alias("t")
    target.merge(values_df.alias("s"), condition).whenMatchedDelete().execute()
    return _last_metric(spark, path, ["numTargetRowsDeleted"])


def _blank_cards(spark: SparkSession, spec: TableSpec, lake_root: str, cards_df: DataFrame) -> int:
    """Sales rows keep their figures; the card (and a raw CSV line quoting it) is blanked."""
    from delta.tables import DeltaTable

    path = spec.path(lake_root)
    if not DeltaTable.isDeltaTable(spark, path):
        return 0
    condition = "t.loyalty_id = s.value"
    updates: dict[str, str | Column] = {"loyalty_id": "CAST(NULL AS STRING)"}
    if "raw_line" in {f.name for f in spec.schema}:
        fields = "split(t.raw_line, ',')"
        condition += f" OR array_contains({fields}, s.value)"
        updates["raw_line"] = (
            f"array_join(transform({fields}, x -> IF(x = s.value, '{ERASED}', x)), ',')"
        )
    target = DeltaTable.forPath(spark, path).alias("t")
    target.merge(cards_df.alias("s"), condition).whenMatchedUpdate(set=updates).execute()
    return _last_metric(spark, path, ["numTargetRowsUpdated"])


def _purge(spark: SparkSession, spec: TableSpec, lake_root: str, retention_hours: float) -> None:
    """Rewrites files with deletion vectors, then VACUUM: older versions lose their files."""
    from delta.tables import DeltaTable

    path = spec.path(lake_root)
    spark.sql(f"REORG TABLE delta.`{path}` APPLY (PURGE)")
    with session_conf(spark, RETENTION_CHECK, "false"):  # not the usual 7 days' wait
        DeltaTable.forPath(spark, path).vacuum(retention_hours)
    log.info("vacuumed %s (retain %s hours)", spec.name, retention_hours)


def _audit(
    spark: SparkSession, lake_root: str, request_id: str, customers: int, removed: dict[str, int]
) -> None:
    """Appends what was removed where; a re-run that removes nothing adds nothing."""
    path = ensure_table(spark, ERASURES, lake_root)
    seen = read_table(spark, ERASURES, lake_root).where(F.col("request_id") == request_id)
    if not any(removed.values()) and seen.limit(1).count():
        return
    erased_at = datetime.now(UTC).replace(tzinfo=None)
    rows = [(request_id, erased_at, customers, name, rows) for name, rows in removed.items()]
    spark.createDataFrame(rows, ERASURES.schema).write.format("delta").mode("append").save(path)
