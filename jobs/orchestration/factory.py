"""The one place that knows the backend: a Spark step becomes a run in the warm driver or a
SparkSubmitOperator (local, `spark.local_driver`) or a SparkApplication through the Spark
Operator (kubernetes); everything else is shared.

Both run the same entry point (`jobs/__main__.py`, i.e. `retailmax`) with the same arguments,
so the task graph and the job's behaviour do not depend on the backend. Each backend's
operator module is imported only when that backend is configured (DAG files parse fast).
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import BaseOperator

from jobs.jars import required_jars
from jobs.orchestration.alerts import EmailAlert, WebhookAlert
from jobs.orchestration.assets import job_outlets
from jobs.registry import JOBS
from jobs.settings import PROJECT_ROOT, Settings
from jobs.spark import BASE_JVM_OPTIONS, driver_launch_conf

K8S_DIR = PROJECT_ROOT / "k8s"
# Kubernetes names (and label values) are at most 63 characters; SparkKubernetesOperator
# appends "-" + 8 random characters to the application's name.
MAX_NAME_LENGTH = 63
AIRFLOW_SUFFIX_LENGTH = 9
# In the image (jobs/jars.txt, `image`): the JMX exporter agent monitoring.prometheus starts.
JMX_EXPORTER_JAR = (
    "/usr/local/lib/python3.11/site-packages/pyspark/jars/jmx_prometheus_javaagent-1.0.1.jar"
)
ENTRY_POINT = Path(__file__).resolve().parent.parent / "__main__.py"
# In the image (Dockerfile): the project is copied to /opt/retailmax.
IMAGE_ENTRY_POINT = "local:///opt/retailmax/jobs/__main__.py"
# A mapped task shows its store range instead of 0, 1, 2 in the UI and the logs.
STORE_RANGE_INDEX = "stores {{ task.application_args[-1] }}"


def default_args(settings: Settings) -> dict[str, Any]:
    """Retries with exponential backoff, a timeout and the failure alerts, from conf."""
    orchestration, alerts = settings.orchestration, settings.alerts
    callbacks: list[Any] = []
    if alerts.email_to:
        callbacks.append(EmailAlert(alerts.email_to, alerts.email_from, alerts.smtp_conn_id))
    if alerts.webhook_conn_id:
        callbacks.append(WebhookAlert(alerts.webhook_conn_id))
    return {
        "owner": "retailmax-data",
        "retries": orchestration.retries,
        "retry_delay": timedelta(seconds=orchestration.retry_delay_seconds),
        "retry_exponential_backoff": orchestration.retry_backoff,
        "max_retry_delay": timedelta(seconds=orchestration.max_retry_delay_seconds),
        "execution_timeout": timedelta(minutes=orchestration.execution_timeout_minutes),
        "on_failure_callback": callbacks,
    }


def template_searchpath() -> list[str]:
    """Where the SparkApplication templates are (kubernetes); harmless for local."""
    return [str(K8S_DIR)]


def spark_application_template(job: str) -> str:
    """The job's SparkApplication template, relative to k8s/ (its JobSpec's)."""
    template = JOBS[job].template
    if template is None:
        raise ValueError(f"job {job!r} is run by hand: no DAG submits it, it has no template")
    return template


def application_name(job: str) -> str:
    """`retailmax-<job>`; with Airflow's suffix it must stay a valid Kubernetes name."""
    name = f"retailmax-{job}"
    if len(name) + AIRFLOW_SUFFIX_LENGTH > MAX_NAME_LENGTH:
        raise ValueError(
            f"SparkApplication name {name!r} is {len(name)} characters: with Airflow's "
            f"{AIRFLOW_SUFFIX_LENGTH}-character suffix it exceeds {MAX_NAME_LENGTH}"
        )
    return name


def manifest_values(settings: Settings, job: str) -> dict[str, Any]:
    """What the job's SparkApplication template needs besides the arguments."""
    k8s = settings.kubernetes
    if k8s is None:
        raise ValueError("backend kubernetes needs the kubernetes section of the conf")
    driver, executor, bounds = k8s.resources(job)
    spark_conf = {
        **settings.spark.conf,
        # Event logs on object storage, for the History Server.
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": k8s.event_log_dir,
        # The root filesystem is read-only: anything Spark writes by default goes to /tmp.
        "spark.sql.warehouse.dir": "/tmp/spark-warehouse",
    }
    return {
        "job": job,
        "name": application_name(job),
        "namespace": k8s.namespace,
        "image": k8s.image,
        "service_account": k8s.service_account,
        "main_file": IMAGE_ENTRY_POINT,
        "env": settings.env,
        "driver": driver.model_dump(),
        "executor": executor.model_dump(),
        "dynamic_allocation": bounds.model_dump(),
        "spark_conf": spark_conf,
        "time_to_live_seconds": k8s.time_to_live_seconds,
        "credentials_secret": k8s.credentials_secret,
        # Only the jobs that pseudonymise PII get the salt, from its Secret.
        "pii_salt_secret": k8s.pii_salt_secret if JOBS[job].pii_salt else None,
        "prometheus_port": k8s.prometheus_port,
        "jmx_exporter_jar": JMX_EXPORTER_JAR,
        # UTC and huge methods compiled in both JVMs; the operator appends its JMX agent
        # (spark_conf sets neither).
        "java_options": " ".join(BASE_JVM_OPTIONS),
    }


def spark_task(
    settings: Settings, job: str, *, task_id: str, application_args: Any, mapped: bool
) -> BaseOperator | Any:
    """A Spark step running `retailmax <application_args>`; mapped over shards when `mapped`.

    `application_args` is a literal argument list, or (mapped) an XComArg of argument lists.
    """
    orchestration = settings.orchestration
    common: dict[str, Any] = {
        "task_id": task_id,
        "pool": orchestration.pool,
        "outlets": job_outlets(settings, job),
    }
    if mapped:
        common["map_index_template"] = STORE_RANGE_INDEX
    operator_class: type[BaseOperator]
    if settings.backend == "kubernetes":
        k8s = settings.kubernetes
        assert k8s is not None  # load_settings guarantees it for this backend
        from jobs.orchestration.spark_application import SparkApplicationOperator

        operator_class = SparkApplicationOperator
        kwargs: dict[str, Any] = {
            "application_file": spark_application_template(job),
            "manifest": manifest_values(settings, job),
            "namespace": k8s.namespace,
            "kubernetes_conn_id": k8s.connection_id,
            "name": application_name(job),
            "get_logs": True,
            "delete_on_termination": True,
        }
    elif settings.spark.local_driver == "warm":
        from jobs.orchestration.warm_operator import WarmDriverOperator

        operator_class = WarmDriverOperator
        kwargs = {}
    else:
        from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator

        operator_class = SparkSubmitOperator
        kwargs = _local_submit_args(settings, job)
    if mapped:
        return operator_class.partial(**common, **kwargs).expand(application_args=application_args)
    return operator_class(**common, **kwargs, application_args=application_args)


def _local_submit_args(settings: Settings, job: str) -> dict[str, Any]:
    """spark-submit on local[*] (the connection), with Delta's jars from the jar cache."""
    cache = Path(settings.paths.jar_cache)
    jars = ",".join(str(cache / jar.file_name) for jar in required_jars())
    bin_dir = str(Path(sys.executable).parent)  # spark-submit sits beside this Python
    return {
        "application": str(ENTRY_POINT),
        "conn_id": settings.orchestration.spark_conn_id,
        "name": f"retailmax-{job}",
        "jars": jars,
        "driver_memory": settings.spark.driver_memory,
        # spark-submit starts the driver JVM before the job's session exists: its options
        # must be on the command line (the session factory's copy would come too late).
        "conf": driver_launch_conf(settings),
        "env_vars": {
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        },
    }
