"""Job `report`: the daily sales report, a Markdown file per date, from the gold tables.

Small tables, so no Spark: the deltalake reader (Rust) and pyarrow. The file is written
beside its final name and then renamed, so a reader never sees half a report.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import date
from decimal import Decimal
from typing import Any

import pyarrow as pa

from jobs.context import RunContext
from jobs.errors import MissingInputError
from jobs.files import write_atomically
from jobs.orchestration.plan import table_uri

log = logging.getLogger(__name__)

REPORT_FOLDER = "daily_sales"
TOP_STORES = 10
# Additive over the summary's groups (transactions are not: one basket spans categories).
_SUMMARY_FIGURES = ("lines", "units_sold", "units_returned", "net_sales")


def report_path(reports_root: str, run_date: date) -> str:
    """`<reports_root>/daily_sales/daily_sales_<date>.md`."""
    return f"{reports_root.rstrip('/')}/{REPORT_FOLDER}/daily_sales_{run_date}.md"


def extract_day(lake_root: str, table: str, run_date: date) -> list[dict[str, Any]]:
    """The date's rows of a lake table (`gold.daily_store_sales`), read without Spark."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    path = table_uri(lake_root, table)
    try:
        delta = DeltaTable(path)
    except TableNotFoundError:
        raise MissingInputError(f"{table} does not exist yet at {path}: run sales first") from None
    rows: list[dict[str, Any]] = pa.table(
        delta.to_pyarrow_table(partitions=[("sale_date", "=", str(run_date))])
    ).to_pylist()
    return rows


def _money(value: Decimal) -> str:
    return f"{value:,.2f}"


def _table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def render_report(
    run_date: date,
    summary: list[dict[str, Any]],
    store_sales: list[dict[str, Any]],
    quality: list[dict[str, Any]],
) -> str:
    """The Markdown report: channels, regions, top stores, data quality."""
    channels: dict[str, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
    regions: dict[str, Decimal] = defaultdict(Decimal)
    for row in summary:
        for figure in _SUMMARY_FIGURES:
            channels[row["channel"]][figure] += row[figure]
        regions[row["region"]] += row["net_sales"]
    total = sum((row["net_sales"] for row in summary), Decimal(0))
    metrics: dict[str, int] = defaultdict(int)
    for row in quality:
        metrics[row["metric"]] += int(row["value"])
    top = sorted(store_sales, key=lambda row: (-row["net_sales"], row["store_id"]))[:TOP_STORES]

    lines = [
        f"# RetailMax daily sales report - {run_date}",
        "",
        f"Net sales: **{_money(total)}** across {len(store_sales)} stores with sales "
        "and the web shop.",
        "",
        "## By channel",
        "",
        *_table(
            ("channel", *_SUMMARY_FIGURES),
            [
                (
                    name,
                    *(
                        _money(v) if isinstance(v, Decimal) else f"{v:,}"
                        for v in (figures[f] for f in _SUMMARY_FIGURES)
                    ),
                )
                for name, figures in sorted(channels.items())
            ],
        ),
        "",
        "## By region",
        "",
        *_table(("region", "net_sales"), [(r, _money(v)) for r, v in sorted(regions.items())]),
        "",
        f"## Top {TOP_STORES} stores",
        "",
        *_table(
            ("store_id", "transactions", "net_sales"),
            [(r["store_id"], f"{r['transactions']:,}", _money(r["net_sales"])) for r in top],
        ),
        "",
        "## Data quality (store POS lines)",
        "",
        *_table(("metric", "value"), [(m, f"{v:,}") for m, v in sorted(metrics.items())]),
        "",
    ]
    return "\n".join(lines)


def run(context: RunContext) -> dict[str, Any]:
    """Reads the date's gold rows and quality figures; writes the report; returns its path."""
    settings, run_date = context.settings, context.run_date
    lake = settings.lake_root
    summary = extract_day(lake, "gold.daily_sales_summary", run_date)
    if not summary:
        raise MissingInputError(
            f"gold.daily_sales_summary has no rows for {run_date}: run sales-gold first"
        )
    text = render_report(
        run_date,
        summary,
        extract_day(lake, "gold.daily_store_sales", run_date),
        extract_day(lake, "ops.dq_results", run_date),
    )
    path = report_path(settings.reports_root, run_date)
    write_atomically(path, text.encode("utf-8"))
    log.info("daily report for %s: %s", run_date, path)
    return {"report": path}
