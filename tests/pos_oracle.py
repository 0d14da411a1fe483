"""An independent reading of DATA-CONTRACT.md for tests: Python's csv module and Decimal only.

It shares no code with the jobs or the generator, so that it can catch either of them wrong.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd

HEADER = (
    "transaction_id,line_number,store_id,register_id,transaction_ts,sku,quantity,"
    "unit_price,discount_amount,promo_code,loyalty_id,payment_method"
)
COLUMNS = HEADER.split(",")
REQUIRED = (
    "transaction_id",
    "line_number",
    "transaction_ts",
    "sku",
    "quantity",
    "unit_price",
    "payment_method",
)
PAYMENTS = {"CASH", "CARD", "MOBILE", "VOUCHER", "OTHER"}
INT = re.compile(r"^-?\d+$")
MONEY = re.compile(r"^-?\d+(\.\d{1,2})?$")
TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$")


@dataclass
class StoreDay:
    input_lines: int = 0
    quarantined: int = 0
    rows_by_key: dict[tuple[str, str], list[tuple[str, tuple[str, ...]]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def figures(self) -> dict[str, int]:
        duplicates = superseded = 0
        for rows in self.rows_by_key.values():
            distinct = {content for _, content in rows}
            duplicates += len(rows) - len(distinct)
            superseded += len(distinct) - 1
        return {
            "input_lines": self.input_lines,
            "valid_distinct": len(self.rows_by_key),
            "quarantined": self.quarantined,
            "duplicates": duplicates,
            "superseded": superseded,
        }


def read_text(path: Path) -> str:
    """The file's text: gzip undone, a UTF-8 BOM dropped, bytes that are not UTF-8 as U+FFFD."""
    data = path.read_bytes()
    return (gzip.decompress(data) if path.suffix == ".gz" else data).decode(
        "utf-8-sig", errors="replace"
    )


def csv_rows(path: Path) -> list[list[str]]:
    """RFC 4180 records after the header (quoted commas, doubled quotes, quoted line breaks)."""
    rows = list(csv.reader(io.StringIO(read_text(path), newline="")))
    assert ",".join(rows[0]) == HEADER, path
    return rows[1:]


PATTERNS = {
    "line_number": INT,
    "store_id": INT,
    "quantity": INT,
    "unit_price": MONEY,
    "discount_amount": MONEY,
    "transaction_ts": TS,
}


def rules_of(
    row: list[str], sale_date: date, folder_store: int, stores: set[int], skus: set[str]
) -> list[str]:
    if len(row) != len(COLUMNS):
        return ["malformed_row"]
    value = {name: (text if text != "" else None) for name, text in zip(COLUMNS, row, strict=True)}
    rules = []
    if any(value[name] is None for name in REQUIRED):
        rules.append("missing_required")
    if any(
        (text := value[name]) is not None and not pattern.match(text)
        for name, pattern in PATTERNS.items()
    ) or any("\ufffd" in text for text in row):
        rules.append("bad_type")
    rules += _amount_rules(value)
    rules += _reference_rules(value, sale_date, folder_store, stores, skus)
    return rules


def _number(text: str | None, pattern: re.Pattern[str], absent: Decimal | None) -> Decimal | None:
    """The value of a field that matches its pattern; `absent` when empty; None otherwise."""
    if text is None:
        return absent
    return Decimal(text) if pattern.match(text) else None


def _amount_rules(value: dict[str, str | None]) -> list[str]:
    quantity = _number(value["quantity"], INT, None)
    price = _number(value["unit_price"], MONEY, None)
    discount = _number(value["discount_amount"], MONEY, Decimal(0))
    rules = []
    if quantity == 0:
        rules.append("zero_quantity")
    if (price is not None and price < 0) or (discount is not None and discount < 0):
        rules.append("negative_amount")
    if (
        quantity
        and discount is not None
        and (
            (quantity > 0 and price is not None and discount > quantity * price)
            or (quantity < 0 and discount > 0)
        )
    ):
        rules.append("discount_exceeds_amount")
    return rules


def _reference_rules(
    value: dict[str, str | None],
    sale_date: date,
    folder_store: int,
    stores: set[int],
    skus: set[str],
) -> list[str]:
    rules = []
    store_text = value["store_id"]
    if store_text is None or (
        INT.match(store_text) and (int(store_text) != folder_store or int(store_text) not in stores)
    ):
        rules.append("store_mismatch")
    if value["sku"] is not None and value["sku"] not in skus:
        rules.append("unknown_sku")
    timestamp = value["transaction_ts"]
    if timestamp and TS.match(timestamp) and datetime.fromisoformat(timestamp).date() != sale_date:
        rules.append("date_mismatch")
    if value["payment_method"] is not None and value["payment_method"] not in PAYMENTS:
        rules.append("bad_payment_method")
    return rules


def check_landing(landing: Path) -> tuple[list[dict], dict[tuple[str, int], dict[str, int]]]:
    """(quarantined lines with their rules, figures per store-day) of every POS file."""
    stores = {
        int(r["store_id"])
        for r in csv.DictReader(io.StringIO(read_text(landing / "reference/stores.csv")))
    }
    skus = {
        r["sku"] for r in csv.DictReader(io.StringIO(read_text(landing / "reference/products.csv")))
    }
    quarantined = []
    store_days: dict[tuple[str, int], StoreDay] = defaultdict(StoreDay)
    for path in sorted((landing / "pos").glob("sale_date=*/store_id=*/*")):
        sale_date = date.fromisoformat(path.parent.parent.name.split("=")[1])
        folder_store = int(path.parent.name.split("=")[1])
        day = store_days[(sale_date.isoformat(), folder_store)]
        for row in csv_rows(path):
            day.input_lines += 1
            rules = rules_of(row, sale_date, folder_store, stores, skus)
            if rules:
                day.quarantined += 1
                quarantined.append(
                    {
                        "sale_date": sale_date.isoformat(),
                        "store_id": folder_store,
                        "file": path.name,
                        "transaction_id": row[0] or None,
                        "line_number": row[1] if len(row) > 1 else None,
                        "rules": rules,
                    }
                )
            else:
                day.rows_by_key[(row[0], row[1])].append((path.name, tuple(row)))
    return quarantined, {key: day.figures() for key, day in store_days.items()}


def winning_lines(landing: Path) -> list[dict]:
    """The valid distinct lines: per key, the version from the file whose name sorts last."""
    stores = {
        int(r["store_id"])
        for r in csv.DictReader(io.StringIO(read_text(landing / "reference/stores.csv")))
    }
    skus = {
        r["sku"] for r in csv.DictReader(io.StringIO(read_text(landing / "reference/products.csv")))
    }
    winners: dict[tuple[str, int, str, str], tuple[str, list[str]]] = {}
    for path in sorted((landing / "pos").glob("sale_date=*/store_id=*/*")):
        sale_date = date.fromisoformat(path.parent.parent.name.split("=")[1])
        folder_store = int(path.parent.name.split("=")[1])
        for row in csv_rows(path):
            if rules_of(row, sale_date, folder_store, stores, skus):
                continue
            key = (sale_date.isoformat(), folder_store, row[0], row[1])
            if key not in winners or path.name >= winners[key][0]:
                winners[key] = (path.name, row)
    return [
        {
            "sale_date": key[0],
            "store_id": key[1],
            "transaction_id": row[0],
            "sku": row[5],
            "quantity": int(row[6]),
            "unit_price": Decimal(row[7]),
            "discount_amount": Decimal(row[8] or "0"),
        }
        for key, (_, row) in winners.items()
    ]


def expected_sales_figures(landing: Path, keys: list[str]) -> pd.DataFrame:
    """The gold sales figures per `keys` of the oracle's winning lines, computed with pandas."""
    lines = pd.DataFrame(winning_lines(landing))
    lines["amount"] = lines.quantity.map(Decimal) * lines.unit_price
    sold, returned = lines.quantity > 0, lines.quantity < 0
    lines["units_sold"] = lines.quantity.where(sold, 0)
    lines["units_returned"] = (-lines.quantity).where(returned, 0)
    lines["gross_sales"] = lines.amount.where(sold, Decimal(0))
    lines["returns_value"] = (-lines.amount).where(returned, Decimal(0))
    expected = lines.groupby(keys).agg(
        transactions=("transaction_id", "nunique"),
        lines=("transaction_id", "size"),
        units_sold=("units_sold", "sum"),
        units_returned=("units_returned", "sum"),
        gross_sales=("gross_sales", "sum"),
        discounts=("discount_amount", "sum"),
        returns_value=("returns_value", "sum"),
    )
    expected["net_sales"] = expected.gross_sales - expected.discounts - expected.returns_value
    return expected.sort_index()


def expected_daily_store_sales(landing: Path) -> pd.DataFrame:
    """gold.daily_store_sales computed with pandas from the oracle's winning lines."""
    return expected_sales_figures(landing, ["sale_date", "store_id"])


def latest_orders(landing: Path, day: date) -> dict[str, dict]:
    """By hand from the contract: each order's record in the export of `day` with the latest
    updated_ts (an instant); lines that are not JSON skipped."""
    latest: dict[str, dict] = {}
    for path in sorted((landing / f"ecommerce/orders/export_date={day}").glob("*.jsonl")):
        for line in path.read_text().splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            seen = latest.get(record["order_id"])
            updated = datetime.fromisoformat(record["updated_ts"])
            if seen is None or updated > datetime.fromisoformat(seen["updated_ts"]):
                latest[record["order_id"]] = record
    return latest


def orders_placed_on(landing: Path, day: date) -> dict[str, dict]:
    """The latest states of the orders placed on `day` (local date of order_ts), not
    cancelled: the web shop's sales of the day."""
    return {
        order_id: record
        for order_id, record in latest_orders(landing, day).items()
        if record["order_ts"][:10] == day.isoformat() and record["status"] != "CANCELLED"
    }


def expected_online_net_sales(landing: Path, day: date) -> Decimal:
    """Σ quantity × unit_price − discount over the items of the day's web-shop sales."""
    return sum(
        (
            Decimal(str(item["quantity"])) * Decimal(str(item["unit_price"]))
            - Decimal(str(item.get("discount_amount") or 0))
            for record in orders_placed_on(landing, day).values()
            for item in record["items"]
        ),
        Decimal(0),
    )
