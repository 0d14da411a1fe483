"""Writes one day of POS lines as register files, injecting the contract's anomalies on request.

With an anomaly rate, every quarantine rule of DATA-CONTRACT.md is injected (at least once a
day), plus a line repeated in its file, a re-sent identical file, a re-sent file whose lines
supersede some earlier ones, and (on the first day) one store with no file at all. The manifest
records each injection and the reconciliation every store-day must show.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.contracts import pos as contract
from jobs.generate.common import (
    cents_to_text,
    csv_bytes,
    csv_lines,
    join_lines,
    local_ts_strings,
    write_bytes,
)
from jobs.generate.pos import DayLines, pos_file_name

UNKNOWN_SKU = "SKU999999"
BAD_PAYMENT_METHOD = "CHEQUE"
BLANKABLE_REQUIRED = ("transaction_id", "sku", "payment_method")
WRITER_THREADS = 4


@dataclass
class StoreDayCounts:
    """What the sales job must find for one store-day."""

    input_lines: int = 0
    valid_distinct: int = 0
    quarantined: int = 0
    duplicates: int = 0
    superseded: int = 0


@dataclass
class PosManifest:
    """What was injected into the POS files, for tests and for people checking a run."""

    quarantined: list[dict[str, Any]] = field(default_factory=list)
    resent_files: list[dict[str, Any]] = field(default_factory=list)
    missing_store_files: list[dict[str, Any]] = field(default_factory=list)
    store_days: dict[tuple[str, int], StoreDayCounts] = field(default_factory=dict)


@dataclass
class _Injection:
    rows: np.ndarray
    rules: tuple[str, ...]
    apply: Callable[[pa.Table, np.ndarray], pa.Table]


@dataclass(frozen=True)
class Anomalies:
    """What to corrupt in a day's POS files: the share of lines (0: none), whether one store's
    files are left out, and the random stream that picks them."""

    rng: np.random.Generator
    rate: float
    drop_one_store: bool


def write_pos_day(
    landing: Path,
    lines: DayLines,
    all_store_ids: np.ndarray,
    anomalies: Anomalies,
    manifest: PosManifest,
) -> int:
    """Writes the day's files (and re-sends), fills the manifest; returns the lines written."""
    day = lines.day
    rng, anomaly_rate = anomalies.rng, anomalies.rate
    kept = _kept_rows(lines, all_store_ids, anomalies, manifest)
    file_key = lines.file_key[kept]
    table = lines.table.take(pa.array(kept))
    facts = _Facts(lines, kept)

    starts, ends = _group_bounds(file_key)
    resend_same, resend_changed = _pick_resends(rng, starts, ends, anomaly_rate)
    in_resend = np.zeros(len(kept), dtype=bool)
    for index in (*resend_same, *resend_changed):
        in_resend[starts[index] : ends[index]] = True

    injections, duplicated = _pick_injections(rng, facts, in_resend, anomaly_rate)
    table, malformed = _inject(table, injections)
    raw_text = _raw_malformed_text(table)
    line_text = pc.if_else(pa.array(malformed), raw_text, csv_lines(table))

    # Final row order: each file's lines, then the lines repeated in it.
    group_of_row = np.repeat(np.arange(len(starts)), ends - starts)
    order = np.concatenate([np.arange(len(kept)), duplicated])
    order = order[np.argsort(group_of_row[order], kind="stable")]
    rows_per_file = np.bincount(group_of_row[order], minlength=len(starts))
    offsets = np.concatenate([[0], np.cumsum(rows_per_file)])
    file_texts = join_lines(line_text.take(pa.array(order)), offsets)
    header = ",".join(contract.POS_COLUMNS) + "\n"

    jobs: list[tuple[Path, bytes]] = []
    store_ids = facts.store_id
    quarantine_rows = {int(r): inj.rules for inj in injections for r in inj.rows}
    is_quarantined = np.zeros(len(kept), dtype=bool)
    for injection in injections:
        is_quarantined[injection.rows] = True
    for group, (start, end) in enumerate(zip(starts, ends, strict=True)):
        store = int(store_ids[start])
        register = int(lines.register[kept[start]])
        name = pos_file_name(store, register, send=1)
        pos_file = {"sale_date": day.isoformat(), "store_id": store, "file": name}
        folder = landing / "pos" / f"sale_date={day.isoformat()}" / f"store_id={store}"
        jobs.append((folder / name, (header + file_texts[group].as_py() + "\n").encode()))
        counts = manifest.store_days.setdefault((day.isoformat(), store), StoreDayCounts())
        counts.input_lines += int(rows_per_file[group])
        counts.duplicates += int(rows_per_file[group]) - (end - start)
        bad_rows = np.flatnonzero(is_quarantined[start:end]) + start
        counts.valid_distinct += (end - start) - len(bad_rows)
        counts.quarantined += len(bad_rows)
        manifest.quarantined.extend(
            _quarantine_entry(pos_file, table, int(row), quarantine_rows[int(row)], raw_text)
            for row in bad_rows
        )
        if group in resend_same or group in resend_changed:
            rows = np.arange(start, end)
            resend_name = pos_file_name(store, register, send=2)
            changed = _changed_rows(rng, rows) if group in resend_changed else np.array([], int)
            resend = _bump_quantity(table.take(pa.array(rows)), facts, rows, changed)
            jobs.append((folder / resend_name, csv_bytes(resend, contract.POS_COLUMNS)))
            counts.input_lines += len(rows)
            counts.duplicates += len(rows) - len(changed)
            counts.superseded += len(changed)
            manifest.resent_files.append(
                {
                    "sale_date": day.isoformat(),
                    "store_id": store,
                    "original": name,
                    "resend": resend_name,
                    "lines": len(rows),
                    "changed_lines": len(changed),
                }
            )
    with ThreadPoolExecutor(WRITER_THREADS) as pool:
        list(pool.map(lambda job: write_bytes(*job), jobs))
    these_stores = set(all_store_ids.tolist())
    return sum(
        counts.input_lines
        for (sale_date, store), counts in manifest.store_days.items()
        if sale_date == day.isoformat() and store in these_stores
    )


def _kept_rows(
    lines: DayLines, all_store_ids: np.ndarray, anomalies: Anomalies, manifest: PosManifest
) -> np.ndarray:
    """The rows written: all, but one store's when the anomalies drop one; every store without
    a file that day (dropped or, at tiny volumes, without any sale) goes to the manifest."""
    keep = np.ones(lines.table.num_rows, dtype=bool)
    stores = np.unique(lines.store_id)
    if anomalies.rate > 0 and anomalies.drop_one_store and len(stores) > 1:
        keep &= lines.store_id != int(anomalies.rng.choice(stores[1:]))
    kept = np.flatnonzero(keep)
    for store in np.setdiff1d(all_store_ids, lines.store_id[kept]):
        manifest.missing_store_files.append(
            {"sale_date": lines.day.isoformat(), "store_id": int(store)}
        )
    return kept


def _inject(table: pa.Table, injections: list[_Injection]) -> tuple[pa.Table, np.ndarray]:
    """The table with each injection applied, and which rows are to be written malformed."""
    malformed = np.zeros(table.num_rows, dtype=bool)
    for injection in injections:
        if injection.rules == (contract.RULE_MALFORMED_ROW,):
            malformed[injection.rows] = True
        else:
            table = injection.apply(table, injection.rows)
    return table, malformed


class _Facts:
    """Numeric facts of the kept lines, aligned with the kept table rows."""

    def __init__(self, lines: DayLines, kept: np.ndarray) -> None:
        self.day = lines.day
        self.store_id = lines.store_id[kept]
        self.quantity = lines.quantity[kept]
        self.unit_cents = lines.unit_cents[kept]
        self.seconds = lines.seconds[kept]
        self.all_store_ids = np.unique(lines.store_id)


def _group_bounds(file_key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if len(file_key) == 0:
        return np.array([], dtype=np.int64), np.array([], dtype=np.int64)
    change = np.flatnonzero(np.diff(file_key)) + 1
    starts = np.concatenate([[0], change])
    ends = np.concatenate([change, [len(file_key)]])
    return starts, ends


def _pick_resends(
    rng: np.random.Generator, starts: np.ndarray, ends: np.ndarray, rate: float
) -> tuple[set[int], set[int]]:
    """One identical re-send and one re-send with changed lines, among files of 2+ lines."""
    if rate <= 0:
        return set(), set()
    candidates = np.flatnonzero(ends - starts >= 2)
    if len(candidates) < 3:
        return set(), set()
    same, changed = rng.choice(candidates, size=2, replace=False)
    return {int(same)}, {int(changed)}


def _pick_injections(
    rng: np.random.Generator, facts: _Facts, in_resend: np.ndarray, rate: float
) -> tuple[list[_Injection], np.ndarray]:
    """Chooses the corrupted rows (each case at least once) and the rows repeated in a file."""
    if rate <= 0:
        return [], np.array([], dtype=np.int64)
    cases = _cases(facts)
    pool = np.flatnonzero(~in_resend)
    wanted = max(len(cases), round(rate * len(facts.store_id)))
    wanted_dups = max(1, round(rate * len(facts.store_id) / 10))
    picked = rng.choice(pool, size=min(len(pool), wanted + wanted_dups), replace=False)
    corrupted, duplicated = picked[:wanted], np.sort(picked[wanted:])
    injections = [
        _Injection(np.sort(corrupted[index :: len(cases)]), rules, apply)
        for index, (rules, apply) in enumerate(cases)
    ]
    return [inj for inj in injections if len(inj.rows)], duplicated


def _replace(table: pa.Table, column: str, rows: np.ndarray, values: pa.Array) -> pa.Table:
    mask = np.zeros(table.num_rows, dtype=bool)
    mask[rows] = True
    index = table.column_names.index(column)
    array = table.column(column).combine_chunks()
    replaced = pc.replace_with_mask(array, pa.array(mask), values.cast(pa.string()))
    return table.set_column(index, column, replaced)


def _constant(value: str | None, count: int) -> pa.Array:
    return pa.array([value] * count, pa.string())


class _Corruptions:
    """Each method breaks exactly the rules its case names, and nothing else."""

    def __init__(self, facts: _Facts) -> None:
        self.facts = facts

    def untouched(self, table: pa.Table, _rows: np.ndarray) -> pa.Table:
        return table  # malformed rows are cut to 11 fields when written

    def missing_required(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        for offset, column in enumerate(BLANKABLE_REQUIRED):
            part = rows[offset :: len(BLANKABLE_REQUIRED)]
            table = _replace(table, column, part, _constant(None, len(part)))
        return table

    def bad_type(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        # A French decimal comma: "12,49" does not parse as decimal(12,2).
        comma = pc.replace_substring(table.column("unit_price").take(pa.array(rows)), ".", ",")
        return _replace(table, "unit_price", rows, comma.combine_chunks())

    def zero_quantity(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        table = _replace(table, "quantity", rows, _constant("0", len(rows)))
        return _replace(table, "discount_amount", rows, _constant(None, len(rows)))

    def negative_amount(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        return _replace(table, "discount_amount", rows, _constant("-1.00", len(rows)))

    def discount_exceeds(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        quantity = self.facts.quantity[rows]
        over = np.where(quantity > 0, quantity * self.facts.unit_cents[rows] + 100, 100)
        return _replace(table, "discount_amount", rows, cents_to_text(over))

    def store_mismatch(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        stores = self.facts.all_store_ids
        position = np.searchsorted(stores, self.facts.store_id[rows])
        other = (
            stores[(position + 1) % len(stores)] if len(stores) > 1 else np.full(len(rows), 999_999)
        )
        return _replace(table, "store_id", rows, pc.cast(pa.array(other), pa.string()))

    def unknown_sku(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        return _replace(table, "sku", rows, _constant(UNKNOWN_SKU, len(rows)))

    def date_mismatch(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        previous_day = self.facts.day - timedelta(days=1)
        return _replace(
            table, "transaction_ts", rows, local_ts_strings(previous_day, self.facts.seconds[rows])
        )

    def bad_payment(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        return _replace(table, "payment_method", rows, _constant(BAD_PAYMENT_METHOD, len(rows)))

    def unknown_sku_and_bad_payment(self, table: pa.Table, rows: np.ndarray) -> pa.Table:
        return self.bad_payment(self.unknown_sku(table, rows), rows)


def _cases(
    facts: _Facts,
) -> list[tuple[tuple[str, ...], Callable[[pa.Table, np.ndarray], pa.Table]]]:
    """The corruption cases, in the order their rows are picked."""
    case = _Corruptions(facts)
    return [
        ((contract.RULE_MALFORMED_ROW,), case.untouched),
        ((contract.RULE_MISSING_REQUIRED,), case.missing_required),
        ((contract.RULE_BAD_TYPE,), case.bad_type),
        ((contract.RULE_ZERO_QUANTITY,), case.zero_quantity),
        ((contract.RULE_NEGATIVE_AMOUNT,), case.negative_amount),
        ((contract.RULE_DISCOUNT_EXCEEDS_AMOUNT,), case.discount_exceeds),
        ((contract.RULE_STORE_MISMATCH,), case.store_mismatch),
        ((contract.RULE_UNKNOWN_SKU,), case.unknown_sku),
        ((contract.RULE_DATE_MISMATCH,), case.date_mismatch),
        ((contract.RULE_BAD_PAYMENT_METHOD,), case.bad_payment),
        (
            (contract.RULE_UNKNOWN_SKU, contract.RULE_BAD_PAYMENT_METHOD),
            case.unknown_sku_and_bad_payment,
        ),
    ]


def _raw_malformed_text(table: pa.Table) -> pa.Array:
    """Every row as a CSV line without its last field (11 of the 12 columns)."""
    columns = [table.column(name).combine_chunks() for name in contract.POS_COLUMNS[:-1]]
    return pc.binary_join_element_wise(*columns, ",", null_handling="replace", null_replacement="")


def _quarantine_entry(
    pos_file: dict[str, Any],
    table: pa.Table,
    row: int,
    rules: tuple[str, ...],
    raw_text: Any,
) -> dict[str, Any]:
    """The manifest's entry of a corrupted row of `pos_file` (its sale_date, store_id, file)."""
    entry: dict[str, Any] = {
        **pos_file,
        "transaction_id": table.column("transaction_id")[row].as_py(),
        "line_number": table.column("line_number")[row].as_py(),
        "rules": list(rules),
    }
    if rules == (contract.RULE_MALFORMED_ROW,):
        entry["raw"] = raw_text[row].as_py()
    return entry


def _changed_rows(rng: np.random.Generator, rows: np.ndarray) -> np.ndarray:
    count = max(1, min(3, len(rows) // 2))
    return np.sort(rng.choice(len(rows), size=count, replace=False))


def _bump_quantity(
    table: pa.Table, facts: _Facts, rows: np.ndarray, changed: np.ndarray
) -> pa.Table:
    """A corrected re-send: the changed lines sell (or return) one unit more."""
    if len(changed) == 0:
        return table
    quantity = facts.quantity[rows[changed]]
    bumped = np.where(quantity > 0, quantity + 1, quantity - 1)
    return _replace(table, "quantity", changed, pc.cast(pa.array(bumped), pa.string()))
