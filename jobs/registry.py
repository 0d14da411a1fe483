"""The jobs the CLI can run, and the landing data each needs for its date."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from jobs.errors import JobNotImplementedError


@dataclass(frozen=True)
class JobSpec:
    """A job: `module` or `module:function` (default `run`), what it does, what it reads."""

    name: str
    module: str
    summary: str
    landing_inputs: tuple[str, ...]  # folders under the landing root, {date} substituted
    issue: str


JOBS: dict[str, JobSpec] = {
    spec.name: spec
    for spec in (
        JobSpec(
            "sales",
            "jobs.sales",
            "POS lines and online orders -> sales lines, quarantine, daily store sales",
            ("pos/sale_date={date}",),
            "#3",
        ),
        JobSpec(
            "sales-gold",
            "jobs.sales:run_gold_step",
            "the day's online orders, then gold daily sales for the date (after the shards)",
            (),
            "#3",
        ),
        JobSpec(
            "report",
            "jobs.report",
            "the daily sales report (HTML page) from gold.daily_sales_report, after promotions",
            (),
            "#6",
        ),
        JobSpec(
            "maintenance",
            "jobs.maintenance",
            "OPTIMIZE the recent days and VACUUM every lake table (weekly)",
            (),
            "#7",
        ),
        JobSpec(
            "inventory",
            "jobs.inventory",
            "stock movements -> stock levels, e-commerce availability, replenishment alerts",
            ("warehouse/movements/movement_date={date}",),
            "#4",
        ),
        JobSpec(
            "customers",
            "jobs.customers",
            "loyalty, CRM and consents -> one deduplicated customer base with history",
            ("crm/customers/export_date={date}", "loyalty/members/export_date={date}"),
            "#5",
        ),
        JobSpec(
            "customers-erase",
            "jobs.customers.erase",
            "right to erasure: remove one person (--request FILE) everywhere, then VACUUM",
            (),
            "#5",
        ),
        JobSpec(
            "promotions",
            "jobs.promotions",
            "fast movers, promotion candidates, campaign results, the daily report's figures",
            (),
            "#6",
        ),
    )
}


def load_job(spec: JobSpec) -> Callable[[Any], Any]:
    """The job's `run` function; a one-line error while its module has not landed yet."""
    module_name, _, function = spec.module.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name:
            raise
        raise JobNotImplementedError(
            f"job '{spec.name}' is not implemented yet (planned in issue {spec.issue})"
        ) from None
    run: Callable[[Any], Any] | None = getattr(module, function or "run", None)
    if run is None:  # the package has landed in part, its entry point not yet
        raise JobNotImplementedError(
            f"job '{spec.name}' is not implemented yet (planned in issue {spec.issue})"
        )
    return run
