"""Job `customers`: CRM, loyalty and marketing consents -> one customer base with history.

`retailmax run customers --date D` reads the three exports of D (CRM and loyalty: full on
the first day, changed records after; consents: the day's events), then:

1. quarantines the rows that break a rule (`quarantine.customer_records`, rule names);
2. standardises the rest (`standardise`: null + quality flag for an unreadable value);
3. resolves identities across sources and runs (`identity`): `silver.customer_records`;
4. picks each attribute's surviving value (`survivorship`, conf `customers.survivorship`) and
   merges the result into `silver.customers`, SCD type 2, in one MERGE;
5. keeps the latest consent per channel and contact (`silver.customer_consents`);
6. rebuilds `gold.customer_360` (RFM through the loyalty cards, segment, preferred store;
   email and phone as salted hashes, the salt from the secret `RETAILMAX_PII_SALT`).

Dates run in order: a date older than what silver.customers already holds is refused.
`retailmax run customers-erase --request FILE` (`jobs.customers.erase`) removes a person.
"""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Any

from pyspark import StorageLevel
from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from jobs.context import RunContext
from jobs.customers import extract, identity, load, survivorship, transforms
from jobs.customers.tables import CUSTOMERS, TRACKED_ATTRIBUTES
from jobs.errors import BadArgumentError, ConfigError
from jobs.spark import get_spark

log = logging.getLogger(__name__)
SALT_VARIABLE = "RETAILMAX_PII_SALT"
MIN_SALT_LENGTH = 16


def pii_salt() -> str:
    """The pseudonymisation salt, from the environment (a Kubernetes Secret in production)."""
    salt = os.environ.get(SALT_VARIABLE, "")
    if len(salt) < MIN_SALT_LENGTH:
        state = "is not set" if not salt else f"has {len(salt)} characters"
        raise ConfigError(
            f"{SALT_VARIABLE} {state}: gold.customer_360 hashes emails and phones with a secret "
            f"salt of at least {MIN_SALT_LENGTH} characters (locally an environment variable, "
            "on Kubernetes the Secret retailmax-pii-salt); it never comes from conf or git"
        )
    return salt


def run(context: RunContext) -> dict[str, Any]:
    """The whole customers run for one export date."""
    salt = pii_salt()  # before any write: a run without its secret changes nothing
    settings, export_date = context.settings, context.run_date
    spark = get_spark(settings, app_name=f"retailmax-customers-{export_date}")
    landing, lake = settings.landing_root, settings.lake_root
    _refuse_going_back(spark, lake, export_date)

    records_df, quarantine_frames, counts = _checked_sources(spark, landing, export_date)
    consents_raw = extract.extract_export(spark, landing, "consents", export_date)
    consents_checked = transforms.check_consents(consents_raw).persist(StorageLevel.MEMORY_AND_DISK)
    quarantine_frames.append(
        transforms.filter_quarantined(
            consents_checked, "consents", consents_raw.columns, export_date
        )
    )
    quarantine_df = quarantine_frames[0]
    for frame in quarantine_frames[1:]:
        quarantine_df = quarantine_df.unionByName(frame)
    load.load_quarantine(spark, quarantine_df, lake, export_date)

    known_df = extract.extract_records(spark, lake)
    batch_df = records_df
    records_df = transforms.drop_stale_records(batch_df, known_df).persist(
        StorageLevel.MEMORY_AND_DISK
    )
    counts["stale_records"] = batch_df.count() - records_df.count()
    keys_df = identity.assign_keys(records_df, known_df)
    image_df = (
        known_df.drop("customer_key")
        .join(records_df.select("record_id"), "record_id", "left_anti")
        .unionByName(records_df)
        .join(keys_df, "record_id")
        .localCheckpoint()
    )
    load.load_records(spark, image_df, lake)

    survived_df = survivorship.survive(image_df, settings.customers.survivorship)
    customers_df = (
        _with_all_attributes(survived_df)
        .withColumn("attributes_hash", transforms.attributes_hash())
        .localCheckpoint()
    )
    load.load_customers(spark, customers_df, lake, export_date)

    latest_consents_df = transforms.dedupe_consents(consents_checked, export_date).localCheckpoint()
    load.load_consents(spark, latest_consents_df, lake)

    gold_df = transforms.to_customer_360(
        extract.extract_customers(spark, lake),
        extract.extract_records(spark, lake).where(F.col("loyalty_card").isNotNull()),
        extract.extract_card_sales(spark, lake, transforms.rfm_first_day(export_date), export_date),
        extract.extract_consents(spark, lake),
        export_date,
        salt,
    )
    load.load_customer_360(spark, gold_df, lake)

    consent_rows = consents_checked.count()
    consents_quarantined = consents_checked.where(F.size("rules") > 0).count()
    consents_checked.unpersist()
    counts.update(
        consent_events=consent_rows,
        consents_quarantined=consents_quarantined,
        consents_superseded=consent_rows - consents_quarantined - latest_consents_df.count(),
        customers=customers_df.count(),
    )
    records_df.unpersist()
    batch_df.unpersist()
    return counts


def _refuse_going_back(spark: SparkSession, lake_root: str, export_date: date) -> None:
    latest = extract.extract_latest_version_date(spark, lake_root)
    if latest is not None and latest > export_date:
        raise BadArgumentError(
            f"silver.customers already holds the export of {latest}: customers runs dates in "
            f"order, {export_date} would rewrite later history (restore the customer tables to "
            f"a version before {latest} to replay from there)"
        )


def _checked_sources(
    spark: SparkSession, landing_root: str, export_date: date
) -> tuple[DataFrame, list[DataFrame], dict[str, Any]]:
    """CRM and loyalty: standardised records (persisted), their quarantine, their counts."""
    records: DataFrame | None = None
    quarantine = []
    counts: dict[str, Any] = {}
    for source in ("crm", "loyalty"):
        raw_df = extract.extract_export(spark, landing_root, source, export_date)
        checked_df = transforms.check_records(raw_df, source).persist(StorageLevel.MEMORY_AND_DISK)
        quarantine.append(
            transforms.filter_quarantined(checked_df, source, raw_df.columns, export_date)
        )
        standard_df = transforms.standardise_records(checked_df, source, export_date)
        records = standard_df if records is None else records.unionByName(standard_df)
        rows = checked_df.count()
        rejected = checked_df.where(F.size("rules") > 0).count()
        counts[f"{source}_rows"] = rows
        counts[f"{source}_quarantined"] = rejected
        counts[f"{source}_duplicates"] = rows - rejected - standard_df.count()
    assert records is not None
    records = records.persist(StorageLevel.MEMORY_AND_DISK)
    counts["records_flagged"] = records.where(F.size("quality_flags") > 0).count()
    return records, quarantine, counts


def _with_all_attributes(customers_df: DataFrame) -> DataFrame:
    """Attributes no source provides (not in survivorship) are null, never absent."""
    for name in TRACKED_ATTRIBUTES:
        if name not in customers_df.columns:
            field = next(f for f in CUSTOMERS.schema if f.name == name)
            customers_df = customers_df.withColumn(name, F.lit(None).cast(field.dataType))
    return customers_df
