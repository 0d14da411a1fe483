"""The daily sales report: figures added up as by hand, written in one atomic step."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from jobs.files import write_atomically
from jobs.report import render_report, report_path

DAY = date(2024, 3, 4)


def summary_row(channel: str, region: str, category: str, lines: int, net: str) -> dict:
    return {
        "channel": channel,
        "region": region,
        "category": category,
        "lines": lines,
        "units_sold": lines * 2,
        "units_returned": 1,
        "net_sales": Decimal(net),
    }


def test_report_adds_channels_and_regions_and_ranks_stores() -> None:
    summary = [
        summary_row("STORE", "Bretagne", "Food", 10, "100.50"),
        summary_row("STORE", "Bretagne", "Home", 5, "20.25"),
        summary_row("STORE", "Occitanie", "Food", 4, "-3.00"),  # returns beat sales
        summary_row("ONLINE", "Online", "Food", 2, "40.00"),
    ]
    stores = [
        {"store_id": 3, "transactions": 7, "net_sales": Decimal("17.25")},
        {"store_id": 1, "transactions": 1200, "net_sales": Decimal("100.50")},
        {"store_id": 2, "transactions": 2, "net_sales": Decimal("-3.00")},
    ]
    quality = [
        {"store_id": 1, "metric": "input_lines", "value": 12},
        {"store_id": 2, "metric": "input_lines", "value": 5},
        {"store_id": 2, "metric": "quarantined", "value": 1},
    ]
    text = render_report(DAY, summary, stores, quality)
    # By hand: 100.50 + 20.25 - 3.00 + 40.00 = 157.75; stores 117.75 of it, online 40.00.
    assert "Net sales: **157.75** across 3 stores with sales" in text
    assert "| STORE | 19 | 38 | 3 | 117.75 |" in text
    assert "| ONLINE | 2 | 4 | 1 | 40.00 |" in text
    assert "| Bretagne | 120.75 |" in text and "| Occitanie | -3.00 |" in text
    top = [line for line in text.splitlines() if line.startswith("| ") and "| 1,200 |" in line]
    assert top == ["| 1 | 1,200 | 100.50 |"]
    ranked = text.split("## Top 10 stores")[1].split("##")[0]
    assert ranked.index("| 1 |") < ranked.index("| 3 |") < ranked.index("| 2 |")
    assert "| input_lines | 17 |" in text and "| quarantined | 1 |" in text


def test_the_report_is_renamed_into_place(tmp_path: Path) -> None:
    path = report_path(str(tmp_path), DAY)
    write_atomically(path, b"first\n")
    write_atomically(path, b"second\n")  # a re-run replaces it
    assert Path(path).read_text() == "second\n"
    assert Path(path) == tmp_path / "daily_sales" / "daily_sales_2024-03-04.md"
    assert [p.name for p in Path(path).parent.iterdir()] == ["daily_sales_2024-03-04.md"]
