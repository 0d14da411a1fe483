"""Job `report`: the daily sales report, one self-contained HTML page per date.

It shows exactly the rows of gold.daily_sales_report (written by the promotions job), so the
page and a BI tool reading the lake never disagree. Small table, so no Spark: the deltalake
reader (Rust). Charts are inline SVG (no script, no external file): the page opens from a
mail attachment or object storage as it is. The file is written beside its final name and
then renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from html import escape
from typing import Any

from jobs.context import RunContext
from jobs.errors import MissingInputError
from jobs.files import write_atomically
from jobs.orchestration.plan import table_uri

log = logging.getLogger(__name__)

REPORT_TABLE = "gold.daily_sales_report"
TWO_DECIMAL_METRICS = frozenset(
    {
        "net_sales",
        "revenue",
        "discount_cost",
        "incremental_units",
        "incremental_margin",
        "excess_value",
    }
)
RATIO_METRICS = frozenset({"sell_through", "roi", "suggested_markdown_pct"})
LABELS = {
    "net_sales": "Net sales",
    "units_sold": "Units sold",
    "units_returned": "Units returned",
    "lines": "Lines",
    "transactions": "Transactions",
    "units_7d": "Units 7 days",
    "units_28d": "Units 28 days",
    "sell_through": "Sell-through",
    "redemptions": "Redemptions",
    "revenue": "Revenue",
    "discount_cost": "Discount cost",
    "incremental_units": "Incremental units",
    "roi": "ROI",
    "missing_store_file": "Missing files",
    "excess_value": "Excess stock at cost",
    "excess_units": "Excess units",
    "stock_cover_days": "Cover (days)",
    "suggested_markdown_pct": "Markdown",
}
BAR_COLOUR, LAST_WEEK_COLOUR = "#1f6feb", "#b6c2cf"


def report_path(lake_root: str, run_date: date) -> str:
    """`<lake>/reports/daily/date=YYYY-MM-DD/index.html`."""
    return f"{lake_root.rstrip('/')}/reports/daily/date={run_date.isoformat()}/index.html"


def extract_report(lake_root: str, run_date: date) -> list[dict[str, Any]]:
    """The date's rows of gold.daily_sales_report, read without Spark."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = table_uri(lake_root, REPORT_TABLE)
    try:
        delta = DeltaTable(path)
    except TableNotFoundError:
        raise MissingInputError(
            f"{REPORT_TABLE} does not exist yet at {path}: run promotions first"
        ) from None
    rows: list[dict[str, Any]] = delta.to_pyarrow_table(
        filters=[("report_date", "=", run_date)]
    ).to_pylist()
    return rows


def format_figure(metric: str, value: Decimal | None) -> str:
    """How a figure is printed: amounts with 2 decimals, ratios as %, counts whole."""
    if value is None:
        return "–"
    if metric in RATIO_METRICS:
        percent = (value * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
        return f"{percent:,} %"
    if metric in TWO_DECIMAL_METRICS:
        return f"{value.quantize(Decimal('0.01'), rounding=ROUND_HALF_UP):,}"
    return f"{value.quantize(Decimal(1), rounding=ROUND_HALF_UP):,}"


def format_change(value: Decimal | None, last_week: Decimal | None) -> str:
    """The change against last week in %, signed; '–' without a last-week figure."""
    if value is None or last_week is None or last_week == 0:
        return "–"
    change = ((value - last_week) / abs(last_week) * 100).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    return f"{change:+,} %"


@dataclass
class Item:
    """One item of a section (a region, a store, a SKU…) and its figures."""

    name: str
    figures: dict[str, tuple[Decimal | None, Decimal | None]] = field(default_factory=dict)


def sections(rows: list[dict[str, Any]]) -> dict[str, list[Item]]:
    """The report rows grouped by section, items in position order."""
    grouped: dict[str, dict[int, Item]] = defaultdict(dict)
    for row in rows:
        item = grouped[row["section"]].setdefault(row["position"], Item(row["item"]))
        item.figures[row["metric"]] = (row["value"], row["last_week"])
    return {name: [items[p] for p in sorted(items)] for name, items in grouped.items()}


def _element(
    tag: str, section: str, item: Item, metric: str, text: str, css: str | None = None
) -> str:
    """An element tagged with its section, item and metric (what the browser test finds it by)."""
    css_attribute = f' class="{css}"' if css else ""
    return (
        f'<{tag}{css_attribute} data-section="{section}" data-item="{escape(item.name)}" '
        f'data-metric="{metric}">{text}</{tag}>'
    )


def _figure(tag: str, section: str, item: Item, metric: str, css: str | None = None) -> str:
    """The item's figure for metric, printed as the metric is."""
    return _element(tag, section, item, metric, format_figure(metric, _value(item, metric)), css)


def _last_week(tag: str, section: str, item: Item, metric: str, css: str | None = None) -> str:
    """The item's figure for metric on the same day last week (`<metric>_last_week`)."""
    week = item.figures.get(metric, (None, None))[1]
    return _element(tag, section, item, f"{metric}_last_week", format_figure(metric, week), css)


def _value(item: Item, metric: str) -> Decimal | None:
    return item.figures.get(metric, (None, None))[0]


def _table(section: str, items: list[Item], metrics: tuple[str, ...], compare: bool) -> str:
    header = "".join(f"<th>{LABELS.get(m, m)}</th>" for m in metrics)
    if compare:
        header += "<th>Last week</th><th>Change</th>"
    body = []
    for item in items:
        cells = "".join(_figure("td", section, item, m, "num") for m in metrics)
        if compare:
            value, week = item.figures.get(metrics[0], (None, None))
            cells += _last_week("td", section, item, metrics[0], "num")
            cells += f'<td class="num">{format_change(value, week)}</td>'
        body.append(f"<tr><th scope=row>{escape(item.name)}</th>{cells}</tr>")
    return (
        f'<table id="{section}"><thead><tr><th></th>{header}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def bar_chart(section: str, items: list[Item], metric: str, title: str) -> str:
    """Horizontal bars of `metric` per item (and last week's, thinner, when known), in SVG."""
    values = [item.figures.get(metric, (None, None)) for item in items]
    largest = max((abs(v) for pair in values for v in pair if v is not None), default=Decimal(0))
    label_width, bar_width, row_height = 330, 420, 26
    height = row_height * len(items) + 10
    parts = [
        f'<svg class="chart" id="chart-{section}" role="img" aria-label="{escape(title)}" '
        f'width="{label_width + bar_width + 120}" height="{height}" '
        f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
    ]
    for index, (item, (value, week)) in enumerate(zip(items, values, strict=True)):
        y = 5 + index * row_height
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 15}" text-anchor="end">{escape(item.name)}</text>'
        )
        for amount, colour, offset, thickness, kind in (
            (value, BAR_COLOUR, 2, 14, "value"),
            (week, LAST_WEEK_COLOUR, 17, 5, "last_week"),
        ):
            if amount is None or largest == 0:
                continue
            width = float(abs(amount) / largest) * bar_width
            parts.append(
                f'<rect class="bar {kind}" data-item="{escape(item.name)}" data-value="{amount}" '
                f'x="{label_width}" y="{y + offset}" width="{width:.2f}" height="{thickness}" '
                f'fill="{colour}"/>'
            )
        if value is not None:
            x = label_width + float(abs(value) / largest) * bar_width + 6 if largest else 0
            parts.append(f'<text x="{x:.2f}" y="{y + 15}">{format_figure(metric, value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #1b1f24; max-width: 1100px; }
h1 { font-size: 1.6em; } h2 { margin-top: 1.6em; border-bottom: 1px solid #d0d7de; }
table { border-collapse: collapse; margin: 0.5em 0 1em; }
th, td { padding: 0.25em 0.8em; border-bottom: 1px solid #eaeef2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.cards { display: flex; gap: 1em; flex-wrap: wrap; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: 0.8em 1.2em; min-width: 14em; }
.card .big { font-size: 1.5em; font-weight: 600; }
.chart text { font-size: 12px; fill: #1b1f24; }
.legend span { display: inline-block; width: 1em; height: 0.6em; margin: 0 0.3em 0 1em; }
.ok { color: #1a7f37; }
"""


def _totals(items: list[Item]) -> str:
    cards = []
    for item in items:
        value, week = item.figures.get("net_sales", (None, None))
        details = "".join(
            f"<div>{LABELS[m]}: {_figure('span', 'totals', item, m)}</div>"
            for m in ("units_sold", "units_returned", "lines")
        )
        last_week = _last_week("span", "totals", item, "net_sales")
        cards.append(
            f'<div class="card"><div>{escape(item.name)}</div>'
            f"{_figure('div', 'totals', item, 'net_sales', 'big')}"
            f"<div>same day last week: {last_week} ({format_change(value, week)})</div>"
            f"{details}</div>"
        )
    return f'<div class="cards" id="totals">{"".join(cards)}</div>'


def render_html(run_date: date, rows: list[dict[str, Any]]) -> str:
    """The whole page: totals, breakdowns with charts, stores, fast movers, promotion
    candidates, campaigns, quality."""
    parts = sections(rows)
    get = parts.get
    legend = (
        f'<p class="legend"><span style="background:{BAR_COLOUR}"></span>{run_date}'
        f'<span style="background:{LAST_WEEK_COLOUR}"></span>same day last week</p>'
    )
    body = [
        f"<h1>RetailMax daily sales report – {run_date:%A %d %B %Y}</h1>",
        "<h2>Totals</h2>",
        _totals(get("totals", [])),
    ]
    for key, title in (
        ("region", "By region"),
        ("format", "By format"),
        ("category", "By category"),
    ):
        items = get(key, [])
        body += [
            f"<h2>{title}</h2>",
            legend,
            bar_chart(key, items, "net_sales", f"Net sales {title.lower()}"),
            _table(key, items, ("net_sales", "units_sold"), compare=True),
        ]
    body += [
        "<h2>Top stores</h2>",
        bar_chart("top_stores", get("top_stores", []), "net_sales", "Net sales, top stores"),
        _table("top_stores", get("top_stores", []), ("net_sales", "transactions"), True),
        "<h2>Bottom stores</h2>",
        _table("bottom_stores", get("bottom_stores", []), ("net_sales", "transactions"), True),
        "<h2>Fast movers (chain, top decile of their category)</h2>",
        _table(
            "fast_movers",
            get("fast_movers", []),
            ("units_7d", "units_28d", "sell_through"),
            compare=False,
        ),
        "<h2>Promotion candidates (chain, largest stock value beyond their cover)</h2>",
        _table(
            "promotion_candidates",
            get("promotion_candidates", []),
            ("excess_value", "excess_units", "stock_cover_days", "suggested_markdown_pct"),
            compare=False,
        )
        if get("promotion_candidates")
        else '<p class="ok" id="promotion_candidates">No promotion candidate today.</p>',
        "<h2>Running campaigns</h2>",
        _table(
            "campaigns",
            get("campaigns", []),
            ("redemptions", "revenue", "discount_cost", "incremental_units", "roi"),
            compare=False,
        )
        if get("campaigns")
        else "<p>No campaign running.</p>",
        "<h2>Data quality</h2>",
        "<h3>Quarantined POS lines by rule</h3>",
        bar_chart("quarantine_rules", get("quarantine_rules", []), "lines", "Lines by rule")
        + _table("quarantine_rules", get("quarantine_rules", []), ("lines",), compare=False)
        if get("quarantine_rules")
        else '<p class="ok">No line quarantined.</p>',
        "<h3>Missing store files</h3>",
        _table(
            "missing_store_files",
            get("missing_store_files", []),
            ("missing_store_file",),
            compare=False,
        )
        if get("missing_store_files")
        else '<p class="ok" id="missing_store_files">Every open store sent its file.</p>',
    ]
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>RetailMax daily sales {run_date}</title><style>{_STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def run(context: RunContext) -> dict[str, Any]:
    """Reads the date's report rows; writes the page; returns its path."""
    settings, run_date = context.settings, context.run_date
    rows = extract_report(settings.lake_root, run_date)
    if not rows:
        raise MissingInputError(f"{REPORT_TABLE} has no rows for {run_date}: run promotions first")
    path = report_path(settings.lake_root, run_date)
    write_atomically(path, render_html(run_date, rows).encode("utf-8"))
    log.info("daily report for %s: %s", run_date, path)
    return {"report": path}
