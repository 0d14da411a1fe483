"""Adding a job is a package, a JobSpec, a template and a DAG step (docs/architecture.md):
a new spec shows up in the CLI, the Airflow assets, maintenance and its SparkApplication."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from airflow.sdk import DAG
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from jobs import registry
from jobs.cli import build_parser, main
from jobs.context import RunContext
from jobs.lake import TableSpec, column, ensure_table
from jobs.maintenance import run as run_maintenance
from jobs.orchestration import factory
from jobs.orchestration.assets import job_outlets
from jobs.orchestration.dags import date_step
from jobs.registry import JobSpec, lake_tables
from jobs.settings import Settings, load_settings
from tests.kube import rendered, spark_application_errors, submitted_body

STOCK_AUDIT = TableSpec(
    "gold.stock_audit",
    T.StructType(
        [
            column("audit_date", T.DateType(), "Business date of the audit"),
            column("sku", T.StringType(), "Product audited"),
        ]
    ),
    ("audit_date",),
    "A job added by a test: one row per audited SKU and date.",
)
SPEC = JobSpec(
    "stock-audit",
    "tests.test_adding_a_job:run_stock_audit",
    "a job added by a test, to show where a spec shows up",
    writes=("gold.stock_audit",),  # its TableSpec is in its entry module, STOCK_AUDIT
    pii_salt=True,
)
TEMPLATE = """{% extends "spark-applications/base.yaml.j2" %}
{% block spark_conf %}
    spark.sql.shuffle.partitions: "4"
{%- endblock %}
"""
CALLS: list[RunContext] = []


def run_stock_audit(context: RunContext) -> dict[str, Any]:
    CALLS.append(context)
    return {"audited": 0}


@pytest.fixture
def added(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """The spec registered, and its template beside copies of the shared base templates."""
    monkeypatch.setitem(registry.JOBS, SPEC.name, SPEC)
    k8s = tmp_path / "k8s"
    shutil.copytree(factory.K8S_DIR / "spark-applications", k8s / "spark-applications")
    (k8s / "spark-applications" / "stock-audit.yaml").write_text(TEMPLATE)
    monkeypatch.setattr(factory, "K8S_DIR", k8s)
    return k8s


@pytest.mark.usefixtures("added")
def test_the_cli_lists_and_runs_the_new_job(capsys: pytest.CaptureFixture[str]) -> None:
    help_text = build_parser().format_help()
    assert "  stock-audit      a job added by a test, to show where a spec shows up" in help_text
    CALLS.clear()
    assert main(["run", "stock-audit", "--date", "2024-03-04"]) == 0
    assert [(c.run_date, c.stores) for c in CALLS] == [(date(2024, 3, 4), None)]
    assert "stock-audit 2024-03-04 (all stores) done: audited=0" in capsys.readouterr().out
    # It takes none of the optional arguments: its spec lists none.
    assert main(["run", "stock-audit", "--date", "2024-03-04", "--stores", "1"]) == 2
    assert capsys.readouterr().err.strip() == (
        "retailmax: error: --stores/--shard apply to the sales job only"
    )


@pytest.mark.usefixtures("added")
def test_its_table_is_an_asset_of_its_step_and_is_maintained(
    spark: SparkSession, local_settings: Settings, lake: Path
) -> None:
    outlets = job_outlets(local_settings, "stock-audit")
    assert [(a.name, a.uri) for a in outlets] == [
        ("gold.stock_audit", f"file://{local_settings.lake_root}/gold/stock_audit")
    ]
    assert STOCK_AUDIT in lake_tables()
    ensure_table(spark, STOCK_AUDIT, str(lake))
    paths = local_settings.paths.model_copy(update={"lake_root": str(lake)})
    settings = local_settings.model_copy(update={"paths": paths})
    # The only table in this lake is the new one: maintenance found and maintained it.
    assert run_maintenance(RunContext(settings, date(2024, 3, 4))) == {
        "tables": 1,
        "files_compacted": 0,
    }


@pytest.mark.usefixtures("added")
def test_its_spark_application_renders_and_validates(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings("kubernetes")
    with DAG(
        "stock_audit",
        schedule=None,
        start_date=datetime(2024, 3, 4, tzinfo=UTC),
        template_searchpath=factory.template_searchpath(),
    ) as dag:
        task = date_step(settings, "stock-audit", "stock_audit")
    task = rendered(task, dag)
    template = yaml.safe_load(task.application_file)
    assert template["metadata"]["labels"]["app.kubernetes.io/component"] == "stock-audit"
    assert template["spec"]["arguments"] == ["run", "stock-audit", "--date", "2024-03-04"]
    assert template["spec"]["sparkConf"]["spark.sql.shuffle.partitions"] == "4"
    driver_env = {env["name"] for env in template["spec"]["driver"]["env"]}
    assert "RETAILMAX_PII_SALT" in driver_env  # the spec's pii_salt
    assert [a.name for a in task.outlets] == ["gold.stock_audit"]
    assert spark_application_errors(submitted_body(task, monkeypatch), suffix=0) == []
