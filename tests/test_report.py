"""The daily sales page: figures printed as by hand, charts to scale, one atomic write."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from jobs.files import write_atomically
from jobs.report import format_change, format_figure, render_html, report_path

DAY = date(2024, 3, 4)


def row(section: str, position: int, item: str, metric: str, value: str, week: str | None = None):
    return {
        "report_date": DAY,
        "section": section,
        "position": position,
        "item": item,
        "metric": metric,
        "value": Decimal(value),
        "last_week": None if week is None else Decimal(week),
    }


ROWS: list[dict[str, Any]] = [
    row("totals", 1, "All channels", "net_sales", "1234567.891", "1000000"),
    row("totals", 1, "All channels", "units_sold", "4321"),
    row("region", 2, "Occitanie", "net_sales", "-3.00"),  # returns beat sales
    row("region", 1, "Bretagne", "net_sales", "120.75", "100.00"),
    row("fast_movers", 1, "SKU1 Pasta <dry> (Grocery)", "sell_through", "0.79166"),
    row("campaigns", 1, "C1 Pasta week", "roi", "-1.4159"),
]


def test_figures_are_printed_as_by_hand() -> None:
    assert format_figure("net_sales", Decimal("1234567.891")) == "1,234,567.89"
    assert format_figure("net_sales", Decimal("0.005")) == "0.01"  # half up, not to even
    assert format_figure("units_sold", Decimal("4321.0000")) == "4,321"
    assert format_figure("sell_through", Decimal("0.79166")) == "79.2 %"
    assert format_figure("roi", Decimal("-1.4159")) == "-141.6 %"
    assert format_figure("net_sales", None) == "–"
    # (1,234,567.891 − 1,000,000) / 1,000,000 = +23.46 %; no base: no change.
    assert format_change(Decimal("1234567.891"), Decimal("1000000")) == "+23.5 %"
    assert format_change(Decimal("-3"), Decimal("6")) == "-150.0 %"
    assert format_change(Decimal("5"), None) == format_change(Decimal("5"), Decimal(0)) == "–"


def test_the_page_orders_items_escapes_names_and_draws_bars_to_scale() -> None:
    page = render_html(DAY, ROWS)
    assert "<h1>RetailMax daily sales report – Monday 04 March 2024</h1>" in page
    # Bretagne (position 1) before Occitanie (position 2), whatever the rows' order.
    assert page.index(">Bretagne</th>") < page.index(">Occitanie</th>")
    assert "Pasta &lt;dry&gt;" in page and "<dry>" not in page
    assert 'data-metric="net_sales">1,234,567.89</div>' in page
    assert "(+23.5 %)" in page
    widths = dict(re.findall(r'class="bar value" data-item="(\w+)"[^>]* width="([\d.]+)"', page))
    # The longest bar is the largest absolute figure: 120.75 → 420 px, 3.00 → 10.43 px.
    assert widths == {"Bretagne": "420.00", "Occitanie": "10.43"}
    assert "No campaign running." not in page and "No line quarantined." in page
    assert "<script" not in page and "http://" not in page.replace("http://www.w3.org", "")


def test_the_page_is_renamed_into_place(tmp_path: Path) -> None:
    path = report_path(str(tmp_path), DAY)
    write_atomically(path, b"first\n")
    write_atomically(path, b"second\n")  # a re-run replaces it
    assert Path(path).read_text() == "second\n"
    assert Path(path) == tmp_path / "reports" / "daily" / "date=2024-03-04" / "index.html"
    assert [p.name for p in Path(path).parent.iterdir()] == ["index.html"]
