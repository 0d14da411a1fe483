"""Identity resolution (issue #5, second part) on hand-made records with collisions and chains:
who is one person, and keys that stay put across runs. Expected keys are computed here with
hashlib from the rule, not by the code under test."""

from __future__ import annotations

import hashlib
from typing import Any

from jobs.customers.identity import assign_keys

COLUMNS = "record_id string, email string, phone string, loyalty_card string"
KNOWN_COLUMNS = f"{COLUMNS}, customer_key string"

# A = B by email, B = C by phone; D = E by the loyalty card CRM recorded; F and G alone.
RECORDS = [
    ("CRM:C1", "a@x.fr", None, None),
    ("LOY:L1", "a@x.fr", "+33611111111", "L1"),
    ("CRM:C3", "c@x.fr", "+33611111111", None),
    ("CRM:C4", "d@x.fr", None, "L5"),
    ("LOY:L5", "e@x.fr", None, "L5"),
    ("LOY:L6", "f@x.fr", "+33622222222", "L6"),
    ("CRM:C7", None, None, None),
]


def new_key(smallest_record_id: str) -> str:
    return "CUS-" + hashlib.sha256(smallest_record_id.encode()).hexdigest()[:16]


def resolve(spark: Any, records: list[tuple], known: list[tuple] | None = None) -> dict[str, str]:
    records_df = spark.createDataFrame(records, COLUMNS)
    known_df = spark.createDataFrame(known or [], KNOWN_COLUMNS)
    return {r.record_id: r.customer_key for r in assign_keys(records_df, known_df).collect()}


def as_known(records: list[tuple], keys: dict[str, str]) -> list[tuple]:
    return [(*record, keys[record[0]]) for record in records]


def test_transitive_links_make_one_customer(spark: Any) -> None:
    keys = resolve(spark, RECORDS)
    # Smallest record id of each group (string order): CRM:C1, CRM:C4, LOY:L6, CRM:C7.
    assert keys == {
        "CRM:C1": new_key("CRM:C1"),
        "LOY:L1": new_key("CRM:C1"),
        "CRM:C3": new_key("CRM:C1"),
        "CRM:C4": new_key("CRM:C4"),
        "LOY:L5": new_key("CRM:C4"),
        "LOY:L6": new_key("LOY:L6"),
        "CRM:C7": new_key("CRM:C7"),
    }


def test_a_long_chain_resolves_to_one_customer(spark: Any) -> None:
    # R0 -email- R1 -phone- R2 -email- R3 -phone- R4 -email- R5: five links end to end.
    chain = []
    for i in range(6):
        email = f"e{i // 2}@x.fr" if i % 2 == 0 else f"e{(i - 1) // 2}@x.fr"
        phone = f"+3361000000{(i + 1) // 2}" if i > 0 else None
        chain.append((f"R{i}", email, phone, None))
    assert set(resolve(spark, chain).values()) == {new_key("R0")}


def test_a_person_seen_yesterday_keeps_yesterdays_key(spark: Any) -> None:
    day_one = RECORDS[:2]  # C1 and L1
    keys_one = resolve(spark, day_one)
    # Day two: C3 joins them by phone, and a new person arrives whose id sorts first.
    day_two = [RECORDS[2], ("CRM:A0", "z@x.fr", None, None)]
    keys_two = resolve(spark, day_two, as_known(day_one, keys_one))
    assert keys_two["CRM:C3"] == keys_one["CRM:C1"] == keys_two["CRM:C1"] == keys_two["LOY:L1"]
    assert keys_two["CRM:A0"] == new_key("CRM:A0")


def test_a_new_link_merges_two_known_customers_under_the_smaller_key(spark: Any) -> None:
    day_one = [("CRM:C1", "a@x.fr", None, None), ("LOY:L9", "b@x.fr", "+33633333333", "L9")]
    keys_one = resolve(spark, day_one)
    assert keys_one["CRM:C1"] != keys_one["LOY:L9"]
    day_two = [("CRM:C2", "a@x.fr", "+33633333333", None)]  # links both
    keys_two = resolve(spark, day_two, as_known(day_one, keys_one))
    kept = min(keys_one["CRM:C1"], keys_one["LOY:L9"])
    assert set(keys_two.values()) == {kept}


def test_a_rerun_gives_the_same_keys(spark: Any) -> None:
    keys = resolve(spark, RECORDS)
    assert resolve(spark, RECORDS, as_known(RECORDS, keys)) == keys


def test_a_changed_email_does_not_split_a_customer(spark: Any) -> None:
    keys = resolve(spark, RECORDS[:2])
    changed = [("LOY:L1", "new@x.fr", "+33611111111", "L1")]
    assert resolve(spark, changed, as_known(RECORDS[:2], keys)) == keys
