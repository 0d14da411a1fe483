"""What an alert says, built from an Airflow failure context (delivery: test_airflow_run.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from jobs.orchestration.alerts import failure_alert, failure_reason, store_range

GATE = "data-quality gate failed for 2024-03-04: store 7 quarantined 9.1% of its lines (limit 2.0%)"
# The shape of SparkSubmitHook's exception: the command, then the tail of the job's output.
SPARK_SUBMIT_FAILURE = (
    "Cannot execute: spark-submit --master local[*] --name retailmax-sales "
    "jobs/__main__.py run sales --date 2024-03-04 --stores 1-25. Error code is: 4.\n"
    "2024-03-04 01:02:03,004 INFO jobs.sales: wrote silver.sales_lines\n"
    f"retailmax: error: {GATE}\n"
    "26/11/29 00:10:46 INFO ShutdownHookManager: Shutdown hook called\n"
)


def test_the_reason_is_the_jobs_own_last_error_line() -> None:
    assert failure_reason(Exception(SPARK_SUBMIT_FAILURE)) == GATE


def test_without_a_job_error_the_reason_is_the_first_line() -> None:
    assert failure_reason(TimeoutError("Timeout: 3600s\nstack")) == "Timeout: 3600s"
    assert failure_reason(None) == "NoneType"


def test_a_long_reason_is_cut_to_one_readable_line() -> None:
    reason = failure_reason(Exception("x" * 2000))
    assert len(reason) == 500 and reason.endswith("...")


def test_the_store_range_comes_from_the_task_arguments() -> None:
    shard = SimpleNamespace(application_args=["run", "sales", "--date", "D", "--stores", "26-50"])
    assert store_range(shard) == "stores 26-50"
    assert store_range(SimpleNamespace(application_args=["run", "sales-gold"])) == "all stores"
    assert store_range(None) == "all stores"


def test_an_alert_names_dag_task_shard_date_try_log_and_reason() -> None:
    ti = SimpleNamespace(
        dag_id="retail_daily",
        task_id="sales",
        try_number=3,
        log_url="http://localhost:8080/dags/retail_daily/runs/r/tasks/sales/mapped/1",
    )
    task = SimpleNamespace(application_args=["run", "sales", "--date", "D", "--stores", "1-25"])
    context = {
        "ti": ti,
        "task": task,
        "logical_date": datetime(2024, 3, 4, tzinfo=UTC),
        "exception": Exception(SPARK_SUBMIT_FAILURE),
    }
    alert = failure_alert(context)
    assert alert.subject == "[RetailMax] retail_daily.sales failed for 2024-03-04 (stores 1-25)"
    assert (alert.try_number, alert.reason) == (3, GATE)
    assert alert.text().splitlines() == [
        f"{alert.subject}: {GATE}",
        f"try 3 - log: {ti.log_url}",
    ]
    assert "(limit 2.0%)" in alert.html() and ti.log_url in alert.html()
