"""People shared across loyalty, CRM and marketing, written as each system types them (dirty)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.contracts.customers import LOYALTY_TIERS
from jobs.generate.common import csv_bytes, local_ts_strings, rng_for, write_bytes, zero_padded

STREAM_PEOPLE, STREAM_CUSTOMER_DAY = 20, 21
FIRST_NAMES = [
    "Jean",
    "Marie",
    "Pierre",
    "Camille",
    "Louis",
    "Léa",
    "Hugo",
    "Chloé",
    "Lucas",
    "Manon",
    "Nathan",
    "Inès",
    "Théo",
    "Sarah",
    "Jules",
    "Emma",
    "Noah",
    "Zoé",
    "Gabriel",
    "Anaïs",
    "Raphaël",
    "Juliette",
    "Arthur",
    "Clara",
]
LAST_NAMES = [
    "Martin",
    "Bernard",
    "Dubois",
    "Thomas",
    "Robert",
    "Richard",
    "Petit",
    "Durand",
    "Leroy",
    "Moreau",
    "Simon",
    "Laurent",
    "Lefebvre",
    "Michel",
    "Garcia",
    "David",
    "Bertrand",
    "Roux",
    "Vincent",
    "Fournier",
    "Morel",
    "Girard",
    "André",
    "Mercier",
]
DOMAINS = ["gmail.com", "orange.fr", "free.fr", "hotmail.fr", "yahoo.fr", "laposte.net"]
TYPO_DOMAINS = {
    "gmail.com": "gmial.com",
    "orange.fr": "ornage.fr",
    "free.fr": "fre.fr",
    "hotmail.fr": "hotmial.fr",
    "yahoo.fr": "yaho.fr",
    "laposte.net": "lapost.net",
}
FOREIGN_SHARE = 0.03


@dataclass(frozen=True)
class People:
    """The ground truth: one row per real person."""

    first: pa.Array
    last: pa.Array
    email: pa.Array
    mobile: np.ndarray  # 9 national digits (6xxxxxxxx / 7xxxxxxxx), or foreign numbers below
    is_foreign: np.ndarray
    postcode: np.ndarray
    birth: np.ndarray  # datetime64[D]
    home_store: np.ndarray
    loyalty_id: pa.Array  # null for people without a card
    crm_id: pa.Array  # null for people unknown to CRM


def make_people(seed: int, count: int, store_ids: np.ndarray) -> People:
    """People with overlapping memberships: ~60% loyalty, ~55% CRM, most of CRM with a card."""
    rng = rng_for(seed, STREAM_PEOPLE)
    first = pa.array(FIRST_NAMES).take(pa.array(rng.integers(0, len(FIRST_NAMES), count)))
    last = pa.array(LAST_NAMES).take(pa.array(rng.integers(0, len(LAST_NAMES), count)))
    domain = pa.array(DOMAINS).take(pa.array(rng.integers(0, len(DOMAINS), count)))
    local = pc.binary_join_element_wise(
        pc.utf8_lower(first), pc.utf8_lower(last), zero_padded(np.arange(count), 1), "."
    )
    email = pc.binary_join_element_wise(local, domain, "@")
    mobile = rng.integers(600_000_000, 800_000_000, count)
    is_foreign = rng.random(count) < FOREIGN_SHARE
    postcode = rng.integers(1000, 96000, count)
    birth = np.datetime64("1940-01-01") + rng.integers(0, 365 * 65, count).astype("timedelta64[D]")
    home_store = rng.choice(store_ids, size=count)
    roll = rng.random(count)
    has_card = roll < 0.6
    in_crm = (roll > 0.2) & (roll < 0.75) | (rng.random(count) < 0.1)
    ids = np.arange(1, count + 1)
    loyalty = pc.if_else(pa.array(has_card), zero_padded(ids, 9, "L"), None)
    crm = pc.if_else(pa.array(in_crm), zero_padded(ids, 8, "C"), None)
    return People(first, last, email, mobile, is_foreign, postcode, birth, home_store, loyalty, crm)


def _pick(rng: np.random.Generator, count: int, *arrays: pa.Array) -> pa.Array:
    """Per row, the value of one of several equally likely spellings."""
    choice = rng.integers(0, len(arrays), count)
    result = arrays[0]
    for index, array in enumerate(arrays[1:], start=1):
        result = pc.if_else(pa.array(choice == index), array, result)
    return result


def _dirty_name(rng: np.random.Generator, name: pa.Array) -> pa.Array:
    return _pick(
        rng,
        len(name),
        name,
        name,
        pc.utf8_upper(name),
        pc.utf8_lower(name),
        pc.binary_join_element_wise(" ", name, "  ", ""),
    )


def _dirty_email(rng: np.random.Generator, email: pa.Array) -> pa.Array:
    typo = email
    for good, bad in TYPO_DOMAINS.items():
        typo = pc.replace_substring(typo, f"@{good}", f"@{bad}")
    spaced = pc.binary_join_element_wise(" ", email, " ", "")
    invalid = pc.replace_substring(email, "@", " at ")
    dirty = _pick(rng, len(email), email, email, email, pc.utf8_upper(email), spaced, typo)
    return pc.if_else(pa.array(rng.random(len(email)) < 0.01), invalid, dirty)


def _dirty_phone(rng: np.random.Generator, mobile: np.ndarray, foreign: np.ndarray) -> pa.Array:
    digits = pc.cast(pa.array(mobile), pa.string())  # 9 digits, e.g. 612345678
    pairs = [pc.utf8_slice_codeunits(digits, i, i + 2) for i in (1, 3, 5, 7)]
    head = pc.utf8_slice_codeunits(digits, 0, 1)
    national = pc.binary_join_element_wise("0", digits, "")
    spaced = pc.binary_join_element_wise(pc.binary_join_element_wise("0", head, ""), *pairs, " ")
    dotted = pc.binary_join_element_wise(pc.binary_join_element_wise("0", head, ""), *pairs, ".")
    e164 = pc.binary_join_element_wise("+33", digits, "")
    intl = pc.binary_join_element_wise(
        "+33 ", head, " ", pc.binary_join_element_wise(*pairs, " "), ""
    )
    zeros = pc.binary_join_element_wise("0033", digits, "")
    phone = _pick(rng, len(mobile), national, spaced, dotted, e164, intl, zeros)
    belgian = pc.binary_join_element_wise("+32 4", pc.utf8_slice_codeunits(digits, 1, 9), "")
    return pc.if_else(pa.array(foreign), belgian, phone)


def _dirty_birth(rng: np.random.Generator, birth: np.ndarray) -> pa.Array:
    stamps = pa.array(birth.astype("datetime64[s]"), pa.timestamp("s"))
    iso = pc.strftime(stamps, format="%Y-%m-%d")
    french = pc.strftime(stamps, format="%d/%m/%Y")
    bad = pa.array(["31/02/1985"] * len(birth), pa.string())
    dirty = _pick(rng, len(birth), iso, iso, french)
    return pc.if_else(pa.array(rng.random(len(birth)) < 0.005), bad, dirty)


def write_customer_day(
    landing: Path, seed: int, day_index: int, day: date, people: People
) -> dict[str, int]:
    """The first day: full exports; later days: the records that changed (new postcode)."""
    rng = rng_for(seed, STREAM_CUSTOMER_DAY, day_index)
    count = len(people.first)
    changed = np.ones(count, bool) if day_index == 0 else rng.random(count) < 0.004
    postcode = np.where(
        changed & (day_index > 0), rng.integers(1000, 96000, count), people.postcode
    )
    seconds = rng.integers(6 * 3600, 22 * 3600, count)
    updated = local_ts_strings(day, seconds)
    postcode_text = pc.cast(pa.array(postcode), pa.string())
    postcode_text = pc.utf8_lpad(postcode_text, width=5, padding="0")
    columns = {
        "first_name": _dirty_name(rng, people.first),
        "last_name": _dirty_name(rng, people.last),
        "email": _dirty_email(rng, people.email),
        "phone": _dirty_phone(rng, people.mobile, people.is_foreign),
        "postcode": postcode_text,
        "birth_date": _dirty_birth(rng, people.birth),
    }
    written = {}
    loyalty_mask = pc.and_(pc.is_valid(people.loyalty_id), pa.array(changed))
    loyalty = pa.table(
        {
            "loyalty_id": people.loyalty_id,
            **columns,
            "home_store_id": pc.cast(pa.array(people.home_store), pa.string()),
            "tier": pa.array(LOYALTY_TIERS).take(
                pa.array(rng.choice(3, count, p=[0.7, 0.22, 0.08]))
            ),
            "enrolled_on": pc.strftime(
                pa.array(
                    (people.birth + 365 * 18 + (np.arange(count) % 3000)).astype("datetime64[s]"),
                    pa.timestamp("s"),
                ),
                format="%Y-%m-%d",
            ),
            "updated_at": updated,
        }
    ).filter(loyalty_mask)
    crm_mask = pc.and_(pc.is_valid(people.crm_id), pa.array(changed))
    records_card = pc.if_else(pa.array(rng.random(count) < 0.7), people.loyalty_id, None)
    crm = pa.table(
        {
            "crm_id": people.crm_id,
            **columns,
            "city": pa.array(["Paris", "Lyon", "Lille", "Nantes"]).take(pa.array(postcode % 4)),
            "birth_date": columns["birth_date"],
            "loyalty_card_id": records_card,
            "created_at": local_ts_strings(day, np.full(count, 3600))
            if day_index == 0
            else updated,
            "updated_at": updated,
        }
    ).filter(crm_mask)
    crm = crm.select(
        [
            "crm_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "postcode",
            "city",
            "birth_date",
            "loyalty_card_id",
            "created_at",
            "updated_at",
        ]
    )
    if day_index > 0:
        # CRM keeps the record's creation time; only updated_at moves.
        crm = crm.set_column(
            9,
            "created_at",
            local_ts_strings(day - timedelta(days=400), np.full(crm.num_rows, 3600)),
        )
    stamp = f"export_date={day.isoformat()}"
    write_bytes(landing / "loyalty/members" / stamp / "loyalty_members.csv", csv_bytes(loyalty))
    write_bytes(landing / "crm/customers" / stamp / "crm_customers.csv", csv_bytes(crm))
    written["loyalty_members"] = loyalty.num_rows
    written["crm_customers"] = crm.num_rows
    written["marketing_consents"] = _write_consents(landing, rng, day_index, day, people)
    return written


def _write_consents(
    landing: Path, rng: np.random.Generator, day_index: int, day: date, people: People
) -> int:
    """Opt-ins and opt-outs by email or SMS; a person may change their mind the same day."""
    count = len(people.first)
    share = 0.3 if day_index == 0 else 0.01
    who = np.flatnonzero(rng.random(count) < share)
    repeat = rng.random(len(who)) < 0.1  # these change their mind later that day
    who = np.concatenate([who, who[repeat]])
    n = len(who)
    is_sms = rng.random(n) < 0.35
    action = np.where(rng.random(n) < 0.8, "OPT_IN", "OPT_OUT")
    action[len(who) - repeat.sum() :] = "OPT_OUT"
    seconds = np.concatenate(
        [rng.integers(8 * 3600, 18 * 3600, n - repeat.sum()), np.full(repeat.sum(), 20 * 3600)]
    )
    picked = pa.array(who)
    email = pc.if_else(pa.array(is_sms), None, pc.utf8_upper(people.email.take(picked)))
    phone_all = pc.binary_join_element_wise("0", pc.cast(pa.array(people.mobile), pa.string()), "")
    phone = pc.if_else(pa.array(is_sms), phone_all.take(picked), None)
    table = pa.table(
        {
            "event_id": zero_padded(np.arange(1, n + 1), 7, f"E{day:%Y%m%d}-"),
            "email": email,
            "phone": phone,
            "channel": np.where(is_sms, "SMS", "EMAIL").tolist(),
            "action": action.tolist(),
            "event_ts": local_ts_strings(day, seconds),
            "source": pa.array(["WEBSITE", "STORE", "NEWSLETTER"]).take(
                pa.array(rng.integers(0, 3, n))
            ),
        }
    )
    folder = landing / "marketing/consents" / f"export_date={day.isoformat()}"
    write_bytes(folder / "consents.csv", csv_bytes(table))
    return n
