"""The DAG builders. DAG files call these with the conf of RETAILMAX_ENV and nothing else.

retail_daily, one run per business day (the logical date is the business date):

    plan_sales_shards -> sales[stores 1-25, 26-50, ...] -> sales_gold -> inventory_daily
                                                   -> promotions -> daily_report

`plan_sales_shards` reads stores.csv and the POS folders of the date (pyarrow, no Spark) and
returns the `retailmax` arguments of each shard, so the mapped `sales` tasks are one Spark
application per `sharding.stores_per_shard` stores. `promotions` needs the day's sales and
stock: velocity, promotion candidates, campaign results and the report's figures;
`daily_report` renders the HTML page from those figures.

customers_daily, one run per export date at 04:00 UTC the next day (after retail_daily has
loaded the day's sales, which the RFM figures count): `retailmax run customers --date D`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import DAG, CronDataIntervalTimetable, DeltaDataIntervalTimetable, task

from jobs.orchestration.factory import default_args, spark_task, template_searchpath
from jobs.orchestration.plan import job_arguments
from jobs.settings import Settings

TAGS = ["retailmax"]


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def _start(settings: Settings) -> datetime:
    return _midnight(settings.orchestration.start_date)


def _end(settings: Settings) -> datetime | None:
    end = settings.orchestration.end_date
    return _midnight(end) if end else None


@task
def plan_store_shards(job: str, ds: str | None = None) -> list[list[str]]:
    """One `retailmax run JOB --date <ds> --stores A-B` per shard of the date's stores."""
    from jobs.orchestration.plan import store_shards
    from jobs.settings import load_settings

    run_date = date.fromisoformat(str(ds))
    shards = store_shards(load_settings(), run_date)
    if not shards:
        raise ValueError(f"no stores in reference/stores.csv nor POS folders for {run_date}")
    return [job_arguments(job, run_date, stores) for stores in shards]


def date_step(settings: Settings, job: str, task_id: str) -> Any:
    """A whole-date Spark step: `retailmax run JOB --date {{ ds }}`."""
    arguments = job_arguments(job, "{{ ds }}")
    return spark_task(settings, job, task_id=task_id, application_args=arguments, mapped=False)


def build_retail_daily(settings: Settings) -> DAG:
    """retail_daily: @daily with catchup; shards, then the all-store gold steps, then the report."""
    with DAG(
        dag_id="retail_daily",
        description="POS and online sales -> sales lines -> gold -> the daily sales report",
        # Data-interval semantics: the run for day D starts after D ends, and its logical
        # date (`ds`) is D, the business date every task is keyed on.
        schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
        start_date=_start(settings),
        end_date=_end(settings),
        catchup=settings.orchestration.catchup,
        max_active_runs=settings.orchestration.max_active_runs,
        default_args=default_args(settings),
        template_searchpath=template_searchpath(),
        tags=TAGS,
        doc_md=__doc__,
    ) as dag:
        plan = plan_store_shards.override(task_id="plan_sales_shards")(job="sales")
        sales = spark_task(settings, "sales", task_id="sales", application_args=plan, mapped=True)
        sales_gold = date_step(settings, "sales-gold", "sales_gold")
        # The whole day's movements again, POS lines included now that sales has run:
        # idempotent, so it completes the intraday batches and re-checks their balances.
        inventory = date_step(settings, "inventory", "inventory_daily")
        promotions = date_step(settings, "promotions", "promotions")
        report = date_step(settings, "report", "daily_report")
        plan >> sales >> sales_gold >> inventory >> promotions >> report
    return dag


INVENTORY_WINDOW = [
    "run",
    "inventory",
    "--date",
    "{{ data_interval_start | ds }}",
    "--since",
    "{{ data_interval_start.isoformat() }}",
    "--until",
    "{{ data_interval_end.isoformat() }}",
]


def build_inventory_sync(settings: Settings) -> DAG:
    """inventory_sync: every few minutes, the movements of the interval; no pile-up."""
    orchestration = settings.orchestration
    with DAG(
        dag_id="inventory_sync",
        description="Stock movements of the last interval -> ledger -> stock levels",
        schedule=DeltaDataIntervalTimetable(
            timedelta(minutes=orchestration.inventory_sync_minutes)
        ),
        start_date=_start(settings),
        end_date=_end(settings),
        # A missed interval is not replayed on its own: the next batch and the daily run
        # (retail_daily.inventory_daily) apply every movement anyway, each exactly once.
        catchup=False,
        max_active_runs=1,
        default_args=default_args(settings),
        template_searchpath=template_searchpath(),
        tags=TAGS,
    ) as dag:
        spark_task(
            settings,
            "inventory",
            task_id="sync_stock",
            application_args=INVENTORY_WINDOW,
            mapped=False,
        )
    return dag


def build_maintenance(settings: Settings) -> DAG:
    """maintenance: weekly OPTIMIZE of the recent days and VACUUM, retention from conf."""
    orchestration = settings.orchestration
    with DAG(
        dag_id="maintenance",
        description="OPTIMIZE the recent partitions and VACUUM every lake table",
        schedule=orchestration.maintenance_schedule,
        start_date=_start(settings),
        catchup=False,  # compaction of the latest state; missed weeks need no replay
        max_active_runs=1,
        default_args=default_args(settings),
        template_searchpath=template_searchpath(),
        tags=TAGS,
    ) as dag:
        date_step(settings, "maintenance", "optimize_and_vacuum")
    return dag


CUSTOMERS_SCHEDULE = "0 4 * * *"  # the export of D at 04:00 on D+1: after retail_daily for D


def build_customers_daily(settings: Settings) -> DAG:
    """customers_daily: the CRM, loyalty and consent exports of each date, in date order."""
    with DAG(
        dag_id="customers_daily",
        description="CRM, loyalty and consents -> customers (SCD2) -> customer_360",
        schedule=CronDataIntervalTimetable(CUSTOMERS_SCHEDULE, timezone="UTC"),
        start_date=_start(settings),
        end_date=_end(settings),
        catchup=settings.orchestration.catchup,
        # silver.customers takes dates in order: one run at a time, oldest first.
        max_active_runs=1,
        default_args={**default_args(settings), "depends_on_past": True},
        template_searchpath=template_searchpath(),
        tags=TAGS,
    ) as dag:
        date_step(settings, "customers", "customers")
    return dag


BUILDERS = (build_retail_daily, build_inventory_sync, build_maintenance, build_customers_daily)
