"""The paths a cluster takes when something goes wrong, as one test DAG: `k8s_paths`.

Each task is one path, a SparkApplication submitted by the project's operator (the factory's
task, with the conf of the kubernetes backend) to the real API server; tests/spark_operator.py
plays what the Spark Operator and the kubelet do on that path (SCENARIOS, by task id).
tests/test_k8s_apiserver.py runs the DAG once with `airflow dags test` and checks every task's
end, its alert and what is left in the cluster. The drivers run the real `retailmax` CLI
(without spark-submit: the jobs used here, a sales date without landing files and the report,
fail or finish before they would start Spark).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import DAG

from jobs.orchestration.factory import default_args, spark_task, template_searchpath
from jobs.orchestration.plan import job_arguments
from jobs.orchestration.spark_application import SparkApplicationOperator
from jobs.settings import Settings
from tests.airflow_runs import DAY, NO_DATA_DAY
from tests.spark_operator import NORMAL, Scenario

DAG_ID = "k8s_paths"
MISSING_ACCOUNT = "retailmax-spark-missing"
MISSING_IMAGE = "registry.retailmax.internal/data/retailmax-jobs:0.0.0-missing"
TIMEOUT_SECONDS = 20
# The provider looks at the application 10 s after creating it: a driver that is to fail
# while the provider watches it (the cleanup path) runs longer than that, with room for a
# busy machine's delays.
SEEN_RUNNING_SECONDS = 20

SCENARIOS: dict[str, Scenario] = {
    # RUNNING -> FAILING -> FAILED with the job's termination message; the provider's cleanup
    # labels the failed driver pod `already_checked` (patch) and deletes the application.
    "driver_fails": Scenario(startup_seconds=SEEN_RUNNING_SECONDS),
    # The driver pod is refused (its service account does not exist): SUBMISSION_FAILED.
    "submission_fails": NORMAL,
    # The operator's webhook refuses the application (more memory than the quota has left).
    "refused_by_webhook": NORMAL,
    # The kubelet cannot pull the image: the application stays SUBMITTED, the pod waiting.
    "image_pull_fails": Scenario(image_pull_error="not found"),
    # The operator replaces its first submission (PENDING_RERUN for 14 s), then runs it.
    "pending_rerun": Scenario(rerun_seconds=14),
    # Longer than the task's execution_timeout: Airflow stops the task, the app is deleted.
    "timed_out": Scenario(startup_seconds=120),
}
# The worker running it is killed while the driver runs; the task is started again.
REATTACH_DAG_ID = "k8s_reattach"
REATTACH = "reattach"
SCENARIOS[REATTACH] = Scenario(startup_seconds=30)
# try 1 is OOMKilled while the provider follows it; try 2 (a new application) completes.
RETRIED = "retried"
RETRIED_TRIES = {"1": Scenario(startup_seconds=60, oom_killed_after=SEEN_RUNNING_SECONDS)}


def scenario(application: dict[str, Any]) -> Scenario:
    """What the cluster does with an application of this DAG (by its driver's task labels)."""
    labels = application["spec"]["driver"].get("labels", {})
    if labels.get("task_id") == RETRIED:
        return RETRIED_TRIES.get(labels.get("try_number", ""), NORMAL)
    return SCENARIOS.get(labels.get("task_id", ""), NORMAL)


def _task(settings: Settings, job: str, task_id: str, arguments: list[str]) -> Any:
    """The factory's task for `job`, as retail_daily gets it (its manifest can be changed)."""
    task = spark_task(settings, job, task_id=task_id, application_args=arguments, mapped=False)
    assert isinstance(task, SparkApplicationOperator), "k8s_paths needs the kubernetes backend"
    return task


def _dag(settings: Settings, dag_id: str) -> DAG:
    """A DAG run by hand only, with retail_daily's default arguments (alerts included)."""
    return DAG(
        dag_id=dag_id,
        schedule=None,
        start_date=datetime(2024, 3, 1, tzinfo=UTC),
        default_args=default_args(settings),
        template_searchpath=template_searchpath(),
        catchup=False,
    )


def build_k8s_paths(settings: Settings) -> DAG:
    """One task per path, independent of each other."""
    with _dag(settings, DAG_ID) as dag:
        no_data = job_arguments("sales", NO_DATA_DAY, "1-2")
        report = job_arguments("report", DAY)
        _task(settings, "sales", "driver_fails", no_data)
        refused = _task(settings, "sales", "submission_fails", no_data)
        refused.manifest["service_account"] = MISSING_ACCOUNT
        too_big = _task(settings, "report", "refused_by_webhook", report)
        too_big.manifest["driver"]["memory"] = "400g"
        no_image = _task(settings, "report", "image_pull_fails", report)
        no_image.manifest["image"] = MISSING_IMAGE
        _task(settings, "report", "pending_rerun", report)
        slow = _task(settings, "report", "timed_out", report)
        slow.execution_timeout = timedelta(seconds=TIMEOUT_SECONDS)
        retried = _task(settings, "report", RETRIED, report)
        retried.retries = 1
        retried.retry_delay = timedelta(seconds=1)
        retried.retry_exponential_backoff = 0
    return dag


def build_k8s_reattach(settings: Settings) -> DAG:
    """One task, run with `airflow tasks test` twice: the first worker is killed."""
    with _dag(settings, REATTACH_DAG_ID) as dag:
        _task(settings, "report", REATTACH, job_arguments("report", DAY))
    return dag
