"""Every job in one place. The CLI, the DAGs' assets and SparkApplications, maintenance and
the tests all derive from these specs; adding a job is a package, a spec, a template and a
DAG step (docs/architecture.md, "Adding a job").

DAG files import this module and must not import pyspark (they parse in the Airflow
scheduler, and a test checks it): so a spec names its tables (`layer.table`), and
`lake_tables()` resolves the names to the TableSpecs of the jobs' packages (their `tables`
modules); the job's code is imported only when it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jobs.lake import TableSpec

# Where a job's SparkApplication template is, relative to k8s/.
SPARK_APPLICATIONS = "spark-applications"


class Argument(StrEnum):
    """The optional `retailmax run` arguments; a job accepts only those its spec lists."""

    STORES = "--stores/--shard"  # a store list or shard instead of every store
    WINDOW = "--since/--until"  # an intraday batch instead of the whole date
    REQUEST = "--request"  # required; runs for a request, --date defaults to today


@dataclass(frozen=True)
class FileOutput:
    """What a job writes that is not a Delta table: an Airflow asset at a lake-relative path."""

    asset: str
    path: str


@dataclass(frozen=True)
class JobSpec:
    """A job: its name, `run` function, the tables it writes, its arguments and its pods."""

    name: str
    entry: str  # "package.module:function", called with a RunContext
    summary: str
    writes: tuple[str, ...] = ()  # the tables it writes, `layer.table`, in that order
    files: tuple[FileOutput, ...] = ()
    landing_inputs: tuple[str, ...] = ()  # folders under the landing root, {date} substituted
    arguments: frozenset[Argument] = frozenset()
    pii_salt: bool = False  # its pods get RETAILMAX_PII_SALT from the Secret
    scheduled: bool = True  # a DAG submits it: it has a SparkApplication template

    @property
    def template(self) -> str | None:
        """Its SparkApplication template relative to k8s/; None for jobs run by hand."""
        return f"{SPARK_APPLICATIONS}/{self.name}.yaml" if self.scheduled else None

    def load(self) -> Callable[[Any], dict[str, Any]]:
        """The job's `run` function (imports the job's code)."""
        module_name, _, function = self.entry.partition(":")
        run: Callable[[Any], dict[str, Any]] = getattr(
            importlib.import_module(module_name), function or "run"
        )
        return run


def _specs(*specs: JobSpec) -> dict[str, JobSpec]:
    return {spec.name: spec for spec in specs}


JOBS: dict[str, JobSpec] = _specs(
    JobSpec(
        "sales",
        "jobs.sales:run",
        "POS lines and online orders -> sales lines, quarantine, daily store sales",
        writes=(
            "bronze.pos_lines",
            "quarantine.sales_lines",
            "silver.sales_lines",
            "ops.dq_results",
        ),
        landing_inputs=("pos/sale_date={date}",),
        arguments=frozenset({Argument.STORES}),
    ),
    JobSpec(
        "sales-gold",
        "jobs.sales:run_gold_step",
        "the day's online orders, then gold daily sales for the date (after the shards)",
        writes=(
            "silver.sales_lines",
            "quarantine.sales_lines",
            "gold.daily_store_sales",
            "gold.daily_sales_summary",
            "gold.daily_store_sku_sales",
        ),
    ),
    JobSpec(
        "inventory",
        "jobs.inventory:run",
        "stock movements -> stock levels, e-commerce availability, replenishment alerts",
        writes=(
            "silver.stock_movements",
            "quarantine.stock_movements",
            "silver.stock_levels",
            "gold.ecommerce_availability",
            "gold.replenishment_alerts",
            "ops.stock_reconciliation",
        ),
        landing_inputs=("warehouse/movements/movement_date={date}",),
        arguments=frozenset({Argument.WINDOW}),
    ),
    JobSpec(
        "promotions",
        "jobs.promotions:run",
        "fast movers, promotion candidates, campaign results, the daily report's figures",
        writes=(
            "gold.product_velocity",
            "gold.promotion_candidates",
            "gold.campaign_performance",
            "gold.daily_sales_report",
        ),
    ),
    JobSpec(
        "report",
        "jobs.report:run",
        "the daily sales report (HTML page) from gold.daily_sales_report, after promotions",
        files=(FileOutput("report.daily_sales", "reports/daily"),),
    ),
    JobSpec(
        "customers",
        "jobs.customers:run",
        "loyalty, CRM and consents -> one deduplicated customer base with history",
        writes=(
            "quarantine.customer_records",
            "silver.customer_records",
            "silver.customers",
            "silver.customer_consents",
            "gold.customer_360",
        ),
        landing_inputs=("crm/customers/export_date={date}", "loyalty/members/export_date={date}"),
        pii_salt=True,
    ),
    JobSpec(
        "customers-erase",
        "jobs.customers.erase:run",
        "right to erasure: remove one person (--request FILE) everywhere, then VACUUM",
        writes=(
            "silver.customer_records",
            "silver.customers",
            "gold.customer_360",
            "silver.customer_consents",
            "quarantine.customer_records",
            "silver.sales_lines",
            "quarantine.sales_lines",
            "bronze.pos_lines",
            "ops.customer_erasures",
        ),
        arguments=frozenset({Argument.REQUEST}),
        scheduled=False,  # run by hand for each request, when no job writes these tables
    ),
    JobSpec(
        "maintenance",
        "jobs.maintenance:run",
        "OPTIMIZE the recent days and VACUUM every lake table (weekly)",
    ),
)


def jobs_taking(argument: Argument) -> list[str]:
    """The names of the jobs that accept `argument`."""
    return [spec.name for spec in JOBS.values() if argument in spec.arguments]


def lake_table_names(specs: Iterable[JobSpec] | None = None) -> tuple[str, ...]:
    """Every table the jobs write, each once, in the jobs' order (no pyspark import)."""
    chosen = JOBS.values() if specs is None else specs
    return tuple(dict.fromkeys(name for spec in chosen for name in spec.writes))


def lake_tables() -> tuple[TableSpec, ...]:
    """The TableSpecs of every table the jobs write, each once, in the jobs' order (imports
    pyspark's types and the jobs' table modules); one line naming any a spec writes but no
    module defines."""
    catalog = table_catalog()
    wanted = lake_table_names()
    unknown = [name for name in wanted if name not in catalog]
    if unknown:
        raise ValueError(
            f"no TableSpec named {', '.join(unknown)} in the jobs' modules or their "
            "`tables` modules (see JobSpec.writes)"
        )
    return tuple(catalog[name] for name in wanted)


def table_catalog() -> dict[str, TableSpec]:
    """The TableSpecs defined in each job's entry module, its `tables` module, or its
    package's `tables` module, by name."""
    from jobs.lake import TableSpec

    catalog: dict[str, TableSpec] = {}
    for spec in JOBS.values():
        module_name = spec.entry.partition(":")[0]
        package = module_name.rpartition(".")[0]
        for candidate in dict.fromkeys((module_name, f"{module_name}.tables", f"{package}.tables")):
            try:
                module = importlib.import_module(candidate)
            except ModuleNotFoundError as exc:
                if exc.name == candidate:
                    continue
                raise
            for value in vars(module).values():
                if isinstance(value, TableSpec):
                    catalog[value.name] = value
    return catalog
