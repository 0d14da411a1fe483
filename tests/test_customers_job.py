"""The customers job (issue #5) end to end on hand-made exports with collisions and chains:
quarantine and reconciliation, survivorship, SCD2 transitions, stable keys across runs,
idempotence, gold.customer_360 (RFM, pseudonyms) and the right to erasure.

Every expected value is worked out by hand in the comments (keys with hashlib from the rule);
the tables are read back with deltalake, not Spark.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from jobs.context import RunContext
from jobs.errors import BadArgumentError, ConfigError
from jobs.sales.tables import SILVER_SALES_LINES
from jobs.settings import Settings
from tests.conftest import settings_for
from tests.tables import snapshot, table

DAY1, DAY2 = date(2024, 3, 4), date(2024, 3, 5)
SALT = "test-salt-0123456789"
CRM_HEADER = (
    "crm_id,first_name,last_name,email,phone,postcode,city,birth_date,loyalty_card_id,"
    "created_at,updated_at"
)
LOYALTY_HEADER = (
    "loyalty_id,first_name,last_name,email,phone,postcode,birth_date,home_store_id,tier,"
    "enrolled_on,updated_at"
)
CONSENT_HEADER = "event_id,email,phone,channel,action,event_ts,source"
CREATED = "2020-01-01T00:00:00+01:00"


def ts(day: date, hour: int) -> str:
    return f"{day.isoformat()}T{hour:02d}:00:00+01:00"


# Day 1. Jean: C1 = L1 (email and card). Marie: C2 = L2 (phone). Zoé: L3 alone.
# A chain: C5 -email- L4 -phone- C6. C3 (no id) and C4 (bad updated_at) are quarantined;
# C5 is sent twice, the 12:00 version wins.
CRM_DAY1 = [
    [
        "C1",
        "  jean ",
        "MARTIN",
        "Jean.Martin@Gmail.com ",
        "06 12 34 56 78",
        "75011",
        "paris",
        "1985-02-14",
        "l1",
        CREATED,
        ts(DAY1, 10),
    ],
    [
        "C2",
        "marie",
        "curie",
        "marie at curie.fr",
        "0699999999",
        "1000",
        "Lyon",
        "31/02/1985",
        "",
        CREATED,
        ts(DAY1, 10),
    ],
    ["", "Nobody", "Noid", "noid@x.fr", "", "75001", "Paris", "", "", CREATED, ts(DAY1, 10)],
    [
        "C4",
        "Paul",
        "Bad",
        "paul@x.fr",
        "0611111111",
        "75002",
        "Paris",
        "",
        "",
        CREATED,
        "yesterday",
    ],
    ["C5", "Chain", "One", "chain@x.fr", "", "69001", "Lyon", "", "", CREATED, ts(DAY1, 10)],
    ["C5", "Chain", "One", "chain@x.fr", "", "69002", "Lyon", "", "", CREATED, ts(DAY1, 12)],
    [
        "C6",
        "Chain",
        "Two",
        "other@x.fr",
        "0655555555",
        "69003",
        "Lyon",
        "",
        "",
        CREATED,
        ts(DAY1, 10),
    ],
]
LOYALTY_DAY1 = [
    [
        "L1",
        "JEAN",
        "martin",
        "jean.martin@gmail.com",
        "+33 6 12 34 56 78",
        "75011",
        "14/02/1985",
        "3",
        "GOLD",
        "2019-05-01",
        ts(DAY1, 9),
    ],
    [
        "L2",
        "Marie",
        "Curie",
        "",
        "06 99 99 99 99",
        "01000",
        "14/07/1990",
        "2",
        "SILVER",
        "2019-05-01",
        ts(DAY1, 9),
    ],
    [
        "L3",
        "zoé",
        "DUPONT",
        "zoe@x.fr",
        "0677777777",
        "13001",
        "1970-01-01",
        "abc",
        "BRONZE",
        "2019-05-01",
        ts(DAY1, 9),
    ],
    [
        "L4",
        "Chain",
        "Link",
        "chain@x.fr",
        "06.55.55.55.55",
        "69001",
        "",
        "1",
        "BRONZE",
        "2019-05-01",
        ts(DAY1, 9),
    ],
]
CONSENTS_DAY1 = [
    ["E1", "jean.martin@gmail.com", "", "EMAIL", "OPT_IN", ts(DAY1, 9), "WEBSITE"],
    ["E2", "JEAN.MARTIN@GMAIL.COM", "", "EMAIL", "OPT_OUT", ts(DAY1, 15), "STORE"],
    ["E3", "", "06 99 99 99 99", "SMS", "OPT_IN", ts(DAY1, 11), "STORE"],
    ["E4", "zoe@x.fr", "", "FAX", "OPT_IN", ts(DAY1, 11), "STORE"],
    ["E5", "nope", "", "EMAIL", "OPT_IN", ts(DAY1, 11), "WEBSITE"],
    ["E6", "jean.martin@gmail.com", "", "EMAIL", "OPT_IN", "soon", "WEBSITE"],
]
# Day 2. C1 moves (postcode): a new version for Jean. L2 is re-sent unchanged: nothing.
# C7 is Zoé's email in CRM, with a city: Zoé keeps her key, gets a new version.
# L6 holds Marie's phone and the chain's email: Marie and the chain become one customer.
CRM_DAY2 = [
    [
        "C1",
        "Jean",
        "Martin",
        "jean.martin@gmail.com",
        "0612345678",
        "69003",
        "Lyon",
        "1985-02-14",
        "L1",
        CREATED,
        ts(DAY2, 10),
    ],
    ["C7", "Zoé", "Dupont", "ZOE@x.fr", "", "", "Marseille", "", "", CREATED, ts(DAY2, 10)],
]
LOYALTY_DAY2 = [
    LOYALTY_DAY1[1],
    [
        "L6",
        "Marie",
        "Curie",
        "chain@x.fr",
        "0699999999",
        "",
        "",
        "",
        "BRONZE",
        "2024-03-05",
        ts(DAY2, 9),
    ],
]
CONSENTS_DAY2 = [["E7", "jean.martin@gmail.com", "", "EMAIL", "OPT_IN", ts(DAY2, 8), "WEBSITE"]]


CUSTOMER_TABLES = (
    "silver.customer_records", "silver.customers", "silver.customer_consents",
    "gold.customer_360", "quarantine.customer_records",
)  # fmt: skip


def key(smallest_record_id: str) -> str:
    return "CUS-" + hashlib.sha256(smallest_record_id.encode()).hexdigest()[:16]


JEAN, MARIE, ZOE, CHAIN = key("crm:C1"), key("crm:C2"), key("loyalty:L3"), key("crm:C5")


def write_csv(path: Path, header: str, rows: list[list[str]]) -> None:
    path.mkdir(parents=True, exist_ok=True)
    with (path / "export.csv").open("w", newline="") as handle:
        handle.write(header + "\n")
        csv.writer(handle).writerows(rows)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("customers_landing")
    for day, crm, loyalty, consents in (
        (DAY1, CRM_DAY1, LOYALTY_DAY1, CONSENTS_DAY1),
        (DAY2, CRM_DAY2, LOYALTY_DAY2, CONSENTS_DAY2),
    ):
        stamp = f"export_date={day.isoformat()}"
        write_csv(root / "crm/customers" / stamp, CRM_HEADER, crm)
        write_csv(root / "loyalty/members" / stamp, LOYALTY_HEADER, loyalty)
        write_csv(root / "marketing/consents" / stamp, CONSENT_HEADER, consents)
    return root


def sale(day: date, store: int, transaction: str, line: int, amount: str, card: str | None):
    return (day, store, "STORE", transaction, line, "R1", None, "SKU-A", 1, Decimal(amount),
            Decimal("0"), Decimal(amount), None, card, "CARD", None, "pos.csv")  # fmt: skip


# Jean (L1): 1 Mar store 1 (10.00), 3 Mar store 2 (20.00), 4 Mar store 2 (2.50 + 2.50).
# Zoé (L3): 1 Feb store 1 (100.00). Marie (L2): only 1 Jan 2023, outside 365 days. Anonymous.
SALES = [
    sale(date(2024, 3, 1), 1, "T1", 1, "10.00", "L1"),
    sale(date(2024, 3, 3), 2, "T2", 1, "20.00", "L1"),
    sale(date(2024, 3, 4), 2, "T3", 1, "2.50", "L1"),
    sale(date(2024, 3, 4), 2, "T3", 2, "2.50", "L1"),
    sale(date(2024, 2, 1), 1, "T9", 1, "100.00", "L3"),
    sale(date(2023, 1, 1), 1, "T0", 1, "50.00", "L2"),
    sale(date(2024, 3, 4), 1, "T4", 1, "7.00", None),
]


def run_customers(spark: Any, settings: Settings, day: date) -> dict[str, Any]:
    from jobs.customers import run

    os.environ["RETAILMAX_PII_SALT"] = SALT
    try:
        return run(RunContext(settings, day))
    finally:
        os.environ.pop("RETAILMAX_PII_SALT", None)


@pytest.fixture(scope="module")
def day1(
    spark: Any, local_settings: Settings, landing: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, dict[str, Any]]:
    """A lake after the day-1 run (silver.sales_lines written by hand first)."""
    from jobs.lake import ensure_table

    lake = tmp_path_factory.mktemp("customers_day1") / "lake"
    ensure_table(spark, SILVER_SALES_LINES, str(lake))
    spark.createDataFrame(SALES, SILVER_SALES_LINES.schema).write.format("delta").mode(
        "append"
    ).save(SILVER_SALES_LINES.path(str(lake)))
    figures = run_customers(spark, settings_for(local_settings, landing, lake), DAY1)
    return lake, figures


def copy_lake(source: Path, tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    target = tmp_path_factory.mktemp(name) / "lake"
    shutil.copytree(source, target)
    return target


@pytest.fixture(scope="module")
def day2(
    spark: Any,
    local_settings: Settings,
    landing: Path,
    day1: tuple[Path, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    lake = copy_lake(day1[0], tmp_path_factory, "customers_day2")
    run_customers(spark, settings_for(local_settings, landing, lake), DAY2)
    return lake


def rows(lake: Path, name: str, sort: list[str]) -> list[dict[str, Any]]:
    df = table(lake, name).sort_values(sort).reset_index(drop=True)
    return [{k: _plain(v) for k, v in r.items()} for r in df.to_dict("records")]


def _plain(value: Any) -> Any:
    """NaN/NaT/None as None; arrays as lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    return None if pd.isna(value) else value


def current(lake: Path) -> dict[str, dict[str, Any]]:
    return {r["customer_key"]: r for r in rows(lake, "silver.customers", ["customer_key"])
            if r["is_current"]}  # fmt: skip


def record_keys(lake: Path) -> dict[str, str]:
    return {
        r["record_id"]: r["customer_key"]
        for r in rows(lake, "silver.customer_records", ["record_id"])
    }


def consents_of(lake: Path) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (r["channel"], r["contact"]): r
        for r in rows(lake, "silver.customer_consents", ["channel", "contact"])
    }


def test_every_source_row_is_a_record_a_duplicate_or_quarantined(
    day1: tuple[Path, dict[str, Any]],
) -> None:
    lake, figures = day1
    # CRM: 7 rows = 4 records (C1, C2, C5, C6) + 1 duplicate (C5) + 2 quarantined (no id, C4).
    assert (figures["crm_rows"], figures["crm_quarantined"], figures["crm_duplicates"]) == (7, 2, 1)
    assert (figures["loyalty_rows"], figures["loyalty_quarantined"]) == (4, 0)
    # Consents: 6 = 3 quarantined (FAX, "nope", "soon") + E1 superseded by E2 + E2 + E3.
    assert (figures["consent_events"], figures["consents_quarantined"]) == (6, 3)
    assert figures["consents_superseded"] == 1
    records = table(lake, "silver.customer_records")
    assert sorted(records.record_id) == [
        "crm:C1", "crm:C2", "crm:C5", "crm:C6",
        "loyalty:L1", "loyalty:L2", "loyalty:L3", "loyalty:L4",
    ]  # fmt: skip
    quarantine = rows(lake, "quarantine.customer_records", ["source", "source_id"])
    assert [(r["source"], r["source_id"], list(r["rules"])) for r in quarantine] == [
        ("consents", "E4", ["unknown_channel"]),
        ("consents", "E5", ["no_valid_contact"]),
        ("consents", "E6", ["bad_event_ts"]),
        ("crm", "C4", ["bad_updated_at"]),
        ("crm", None, ["missing_id"]),  # pandas sorts a missing id last
    ]
    c4 = next(r for r in quarantine if r["source_id"] == "C4")
    assert json.loads(c4["record"])["updated_at"] == "yesterday"  # kept as received


def test_bad_values_are_flagged_not_lost(day1: tuple[Path, dict[str, Any]]) -> None:
    lake, _ = day1
    records = {r["record_id"]: r for r in rows(lake, "silver.customer_records", ["record_id"])}
    c2 = records["crm:C2"]
    assert (c2["email"], c2["birth_date"], c2["postcode"]) == (None, None, "01000")
    assert list(c2["quality_flags"]) == ["email_invalid", "birth_date_invalid"]
    l3 = records["loyalty:L3"]
    assert (l3["home_store_id"], list(l3["quality_flags"])) == (None, ["home_store_invalid"])
    c5 = records["crm:C5"]
    assert c5["postcode"] == "69002"  # the 12:00 version of the duplicate


def test_transitive_links_and_survivorship(day1: tuple[Path, dict[str, Any]]) -> None:
    lake, _ = day1
    keys = record_keys(lake)
    assert keys == {
        "crm:C1": JEAN, "loyalty:L1": JEAN,
        "crm:C2": MARIE, "loyalty:L2": MARIE,
        "loyalty:L3": ZOE,
        "crm:C5": CHAIN, "loyalty:L4": CHAIN, "crm:C6": CHAIN,
    }  # fmt: skip
    customers = current(lake)
    assert set(customers) == {JEAN, MARIE, ZOE, CHAIN}
    jean = customers[JEAN]
    # Names, email, postcode, birth date: CRM first; phone: loyalty first; home store: loyalty.
    assert (jean["first_name"], jean["last_name"], jean["email"]) == (
        "Jean", "Martin", "jean.martin@gmail.com",
    )  # fmt: skip
    assert (jean["phone"], jean["postcode"], jean["city"], jean["home_store_id"]) == (
        "+33612345678", "75011", "Paris", 3,
    )  # fmt: skip
    assert jean["birth_date"] == date(1985, 2, 14)
    marie = customers[MARIE]
    # CRM's email and birth date are invalid (null): the loyalty values survive where it has one.
    assert (marie["email"], marie["birth_date"], marie["phone"]) == (
        None, date(1990, 7, 14), "+33699999999",
    )  # fmt: skip
    chain = customers[CHAIN]
    # first_name: CRM, the latest of C5 (12:00) and C6 (10:00) -> C5's; postcode too.
    assert (chain["last_name"], chain["postcode"], chain["email"]) == ("One", "69002", "chain@x.fr")
    assert chain["phone"] == "+33655555555"  # loyalty L4 first for phones
    assert all(r["valid_from"] == DAY1 and r["valid_to"] is None for r in customers.values())


def test_scd2_transitions_and_stable_keys(day2: Path) -> None:
    versions = rows(day2, "silver.customers", ["customer_key", "valid_from"])
    by_key: dict[str, list[dict[str, Any]]] = {}
    for version in versions:
        by_key.setdefault(version["customer_key"], []).append(version)
    # Jean moved: the day-1 version is closed on day 2, a current one starts.
    jean = [(v["postcode"], v["valid_from"], v["valid_to"], v["is_current"]) for v in by_key[JEAN]]
    assert jean == [("75011", DAY1, DAY2, False), ("69003", DAY2, None, True)]
    # Zoé: C7 (crm:C7 < loyalty:L3) joins her, yet her key stays; CRM brings the city.
    assert [(v["city"], v["valid_to"], v["is_current"]) for v in by_key[ZOE]] == [
        (None, DAY2, False),
        ("Marseille", None, True),
    ]
    records = record_keys(day2)
    assert records["crm:C7"] == ZOE
    # L6 links Marie and the chain: one customer under the smaller known key.
    kept, retired = sorted([MARIE, CHAIN])
    merged = ("crm:C2", "loyalty:L2", "crm:C5", "loyalty:L4", "crm:C6", "loyalty:L6")
    assert {records[r] for r in merged} == {kept}
    assert [(v["valid_to"], v["is_current"]) for v in by_key[retired]] == [(DAY2, False)]
    assert by_key[kept][-1]["is_current"] and by_key[kept][-1]["valid_from"] == DAY2
    assert len(current(day2)) == 3  # Jean, Zoé, Marie-and-the-chain


def test_an_unchanged_customer_gets_no_new_version(day2: Path) -> None:
    # L2 was re-sent unchanged on day 2; Marie's versions change only through the L6 merge,
    # and Jean's other attributes did not produce any extra version.
    versions = table(day2, "silver.customers")
    assert (versions.customer_key == JEAN).sum() == 2
    assert len(versions) == 4 + 3  # day 1: 4; day 2: Jean, Zoé and the merged customer


def test_a_rerun_gives_the_same_tables_and_an_older_date_is_refused(
    spark: Any,
    local_settings: Settings,
    landing: Path,
    day2: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lake = copy_lake(day2, tmp_path_factory, "customers_rerun")
    settings = settings_for(local_settings, landing, lake)
    before = {name: snapshot(lake, name) for name in CUSTOMER_TABLES}
    run_customers(spark, settings, DAY2)
    for name in CUSTOMER_TABLES:
        assert snapshot(lake, name).equals(before[name]), name
    with pytest.raises(BadArgumentError, match=r"already holds the export of 2024-03-05"):
        run_customers(spark, settings, DAY1)


def test_a_corrected_export_rerun_the_same_day_corrects_the_version_in_place(
    spark: Any,
    local_settings: Settings,
    landing: Path,
    day2: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    lake = copy_lake(day2, tmp_path_factory, "customers_corrected")
    corrected = tmp_path_factory.mktemp("customers_corrected_landing")
    shutil.copytree(landing, corrected, dirs_exist_ok=True)
    crm = [list(row) for row in CRM_DAY2]
    crm[0][5] = "69004"  # CRM re-sends day 2 with Jean's postcode fixed
    write_csv(corrected / "crm/customers" / f"export_date={DAY2}", CRM_HEADER, crm)
    run_customers(spark, settings_for(local_settings, corrected, lake), DAY2)
    jean = [
        (v["postcode"], v["valid_from"], v["valid_to"], v["is_current"])
        for v in rows(lake, "silver.customers", ["customer_key", "valid_from"])
        if v["customer_key"] == JEAN
    ]
    # Still two versions: the day-2 one now says 69004; no zero-length version in between.
    assert jean == [("75011", DAY1, DAY2, False), ("69004", DAY2, None, True)]
    assert len(table(lake, "silver.customers")) == len(table(day2, "silver.customers"))


def test_a_stale_record_resent_later_changes_no_table(
    spark: Any,
    local_settings: Settings,
    landing: Path,
    day2: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Day 3: CRM re-sends C1 as it was on day 1 (updated_at day 1 10:00, older than the day-2
    # version the lake holds), now with Zoé's email. The latest record of a crm_id wins, so:
    # no new version for Jean, no link between Jean and Zoé, the records table unchanged.
    lake = copy_lake(day2, tmp_path_factory, "customers_stale")
    stale_landing = tmp_path_factory.mktemp("customers_stale_landing")
    day3 = date(2024, 3, 6)
    stale = list(CRM_DAY1[0])
    stale[3] = "zoe@x.fr"
    write_csv(stale_landing / "crm/customers" / f"export_date={day3}", CRM_HEADER, [stale])
    versions_before = rows(lake, "silver.customers", ["customer_key", "valid_from"])
    records_before = rows(lake, "silver.customer_records", ["record_id"])

    figures = run_customers(spark, settings_for(local_settings, stale_landing, lake), day3)

    assert figures["stale_records"] == 1
    assert rows(lake, "silver.customers", ["customer_key", "valid_from"]) == versions_before
    assert rows(lake, "silver.customer_records", ["record_id"]) == records_before
    assert record_keys(lake)["crm:C1"] == JEAN != record_keys(lake)["crm:C7"]


def test_consents_latest_event_wins(day1: tuple[Path, dict[str, Any]], day2: Path) -> None:
    consents = consents_of(day1[0])
    assert set(consents) == {("EMAIL", "jean.martin@gmail.com"), ("SMS", "+33699999999")}
    assert consents["EMAIL", "jean.martin@gmail.com"]["event_id"] == "E2"  # 15:00 OPT_OUT
    assert consents["EMAIL", "jean.martin@gmail.com"]["is_opted_in"] is False
    later = consents_of(day2)
    assert later["EMAIL", "jean.martin@gmail.com"]["event_id"] == "E7"  # next day's OPT_IN
    assert later["EMAIL", "jean.martin@gmail.com"]["is_opted_in"] is True


def sha(value: str) -> str:
    return hashlib.sha256((SALT + value).encode()).hexdigest()


def test_customer_360_rfm_segments_and_pseudonyms(day1: tuple[Path, dict[str, Any]]) -> None:
    lake, _ = day1
    gold = {r["customer_key"]: r for r in rows(lake, "gold.customer_360", ["customer_key"])}
    jean, zoe, marie = gold[JEAN], gold[ZOE], gold[MARIE]
    # Jean: last purchase 4 Mar (0 days), 3 transactions, 10 + 20 + 5 = 35.00; store 2 twice.
    assert (jean["recency_days"], jean["frequency"], jean["monetary"]) == (0, 3, Decimal("35.00"))
    assert jean["preferred_store_id"] == 2
    # Zoé: 1 Feb -> 4 Mar = 32 days (2024 is a leap year), 1 transaction, 100.00.
    assert (zoe["recency_days"], zoe["frequency"], zoe["monetary"]) == (32, 1, Decimal("100.00"))
    # Two buyers: the better one scores ceil(1.0 × 5) = 5, the other ceil(0.5 × 5) = 3.
    assert (jean["r_score"], jean["f_score"], jean["m_score"]) == (5, 5, 3)
    assert (zoe["r_score"], zoe["f_score"], zoe["m_score"]) == (3, 3, 5)
    assert (jean["segment"], zoe["segment"]) == ("champions", "regular")
    # Marie's only purchase is older than 365 days: a prospect, no scores.
    assert (marie["frequency"], marie["r_score"], marie["segment"]) == (0, None, "prospect")
    assert jean["email_hash"] == sha("jean.martin@gmail.com")
    assert jean["phone_hash"] == sha("+33612345678")
    assert (jean["is_email_opted_in"], marie["is_sms_opted_in"]) == (False, True)
    assert (jean["postcode_area"], jean["birth_year"], jean["loyalty_cards"]) == ("75", 1985, 1)
    text = table(lake, "gold.customer_360").astype(str).to_string()
    for raw in ("jean.martin@gmail.com", "+33612345678", "Martin", "75011"):
        assert raw not in text  # raw PII stays in silver


def test_the_salt_comes_from_the_environment_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from jobs.customers import pii_salt

    with pytest.raises(ConfigError, match=r"^RETAILMAX_PII_SALT is not set: .*Secret"):
        pii_salt()
    monkeypatch.setenv("RETAILMAX_PII_SALT", "short")
    with pytest.raises(ConfigError, match=r"has 5 characters"):
        pii_salt()


ERASED_VALUES = ("jean.martin@gmail.com", "+33612345678", "Martin")


@pytest.fixture(scope="module")
def erased(
    spark: Any,
    local_settings: Settings,
    landing: Path,
    day1: tuple[Path, dict[str, Any]],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Path, dict[str, Any]]]:
    from jobs.customers.erase import run

    lake = copy_lake(day1[0], tmp_path_factory, "customers_erased")
    request = tmp_path_factory.mktemp("dsr") / "request.json"
    request.write_text(json.dumps({"request_id": "DSR-1", "email": " JEAN.Martin@gmail.com"}))
    context = RunContext(settings_for(local_settings, landing, lake), DAY1, request=str(request))
    yield lake, run(context)


def test_erasure_removes_the_person_from_every_table(
    erased: tuple[Path, dict[str, Any]],
) -> None:
    lake, figures = erased
    # Jean: 2 records, 1 version, 1 gold row, 1 consent (E2), 1 quarantined consent (E6),
    # and his 4 sales lines keep their amounts without the card.
    removed = {
        "silver.customer_records": 2,
        "silver.customers": 1,
        "silver.customer_consents": 1,
        "gold.customer_360": 1,
        "quarantine.customer_records": 1,
        "silver.sales_lines": 4,
    }
    assert figures["customers"] == 1
    assert {name: figures[name] for name in (*CUSTOMER_TABLES, "silver.sales_lines")} == removed
    for name in CUSTOMER_TABLES:
        text = table(lake, name).astype(str).to_string()
        assert not any(value in text for value in ERASED_VALUES), name
    assert JEAN not in set(table(lake, "silver.customers").customer_key)
    sales = table(lake, "silver.sales_lines")
    assert "L1" not in set(sales.loyalty_id.dropna()) and len(sales) == len(SALES)
    assert sales.net_amount.sum() == sum(Decimal(s[11]) for s in SALES)
    # The audit: one row per table it touched, the same counts, and no value of the person.
    audit = table(lake, "ops.customer_erasures")
    assert set(audit.request_id) == {"DSR-1"} and set(audit.customers) == {1}
    assert {r.table_name: r.rows for r in audit.itertuples() if r.rows} == removed


def test_after_erasure_no_version_or_file_still_holds_the_values(
    spark: Any, erased: tuple[Path, dict[str, Any]]
) -> None:
    lake, _ = erased
    for name in (*CUSTOMER_TABLES, "silver.sales_lines"):
        folder = lake / name.replace(".", "/")
        # Every data file left on disk, referenced by a version or not.
        for parquet in folder.rglob("*.parquet"):
            values = pq.read_table(parquet).to_pandas().astype(str).to_string()
            assert not any(v in values for v in ERASED_VALUES), parquet
            assert name != "silver.sales_lines" or "L1" not in set(
                pq.read_table(parquet, columns=["loyalty_id"]).column(0).to_pylist()
            )
        # Time travel: an old version either cannot be read any more or no longer has them.
        for version in range(DeltaTable(str(folder)).version() + 1):
            try:
                old = spark.read.format("delta").option("versionAsOf", version).load(str(folder))
                text = old.toPandas().astype(str).to_string()
            except Exception as exc:  # its files were vacuumed
                assert "FileNotFound" in str(exc) or "does not exist" in str(exc), exc
                continue
            assert not any(v in text for v in ERASED_VALUES), (name, version)
        if name != "silver.sales_lines":  # the PII columns are kept out of the log's stats
            for log_file in (folder / "_delta_log").glob("*.json"):
                assert "jean.martin@gmail.com" not in log_file.read_text(), log_file


def test_after_erasure_no_byte_under_the_lake_holds_an_identifier_of_the_person(
    erased: tuple[Path, dict[str, Any]],
) -> None:
    lake, _ = erased
    # Jean's values (email, phone, name), his record ids, his customer key (an unsalted hash of
    # his smallest record id, so an identifier too) and the card his sales carried: in no data
    # file, log entry, checksum or checkpoint, referenced or not.
    values = [*ERASED_VALUES, "crm:C1", "loyalty:L1", JEAN]
    scanned = 0
    for path in sorted(p for p in lake.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":  # data files and checkpoints, decoded
            text = str(pq.read_table(path).to_pylist())
            card = "'L1'"
        else:  # log JSON, .crc, anything else, byte by byte
            text = path.read_bytes().decode("utf-8", errors="replace")
            card = '"L1"'
        scanned += 1
        assert not [v for v in values if v in text], path
        assert card not in text, path  # "L1" is short: looked for as a whole value
    assert scanned > 20


def test_an_erasure_request_names_someone_in_one_line(tmp_path: Path) -> None:
    from jobs.customers.erase import read_request

    path = tmp_path / "r.json"
    path.write_text(json.dumps({"request_id": "DSR-2"}))
    with pytest.raises(BadArgumentError, match=r"names nobody: give at least one of email"):
        read_request(str(path))
    path.write_text(json.dumps({"request_id": "DSR-2", "mail": "x@y.fr"}))
    with pytest.raises(BadArgumentError, match=r"unknown field \['mail'\]"):
        read_request(str(path))
    with pytest.raises(BadArgumentError, match=r"needs --request FILE"):
        read_request(None)
    with pytest.raises(BadArgumentError, match=r"^erasure request .*absent.json: "):
        read_request(str(tmp_path / "absent.json"))


def test_generated_people_resolve_one_to_one(
    spark: Any, local_settings: Settings, clean_landing: Path, lake: Path
) -> None:
    """On generated exports (dirty spellings, typo domains, foreign numbers, invalid emails),
    the generator's truth: CRM C00000123 and loyalty L000000123 are person 123. Checked with
    DuckDB: as many customers as people, none holding two people, none split."""
    import duckdb

    figures = run_customers(spark, settings_for(local_settings, clean_landing, lake), DAY1)
    records = DeltaTable(str(lake / "silver" / "customer_records")).to_pyarrow_table(
        columns=["source_id", "customer_key"]
    )
    connection = duckdb.connect()
    connection.register("records", records)
    counts = connection.execute(
        """
        WITH x AS (SELECT customer_key, CAST(regexp_extract(source_id, '[0-9]+') AS INT) AS person
                   FROM records)
        SELECT (SELECT count(DISTINCT customer_key) FROM x),
               (SELECT count(DISTINCT person) FROM x),
               (SELECT count(*) FROM (SELECT customer_key FROM x GROUP BY 1
                                      HAVING count(DISTINCT person) > 1)),
               (SELECT count(*) FROM (SELECT person FROM x GROUP BY 1
                                      HAVING count(DISTINCT customer_key) > 1))
        """
    ).fetchone()
    assert counts is not None
    customers, people, impure, split = counts
    assert (customers, impure, split) == (people, 0, 0)
    assert figures["customers"] == people > 100
