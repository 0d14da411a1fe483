"""The DAGs as designed: import errors, task graphs, conf-driven settings, both backends'
rendered tasks, and the shard plan. No Spark, no Airflow run: see test_airflow_run.py."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs.orchestration.alerts import EmailAlert, WebhookAlert
from jobs.orchestration.dags import (
    BUILDERS,
    build_customers_daily,
    build_inventory_sync,
    build_maintenance,
    build_retail_daily,
)
from jobs.orchestration.plan import store_shards
from jobs.sales.tables import ALL_TABLES
from jobs.settings import PROJECT_ROOT, Settings, load_settings
from tests.jar_set import LOCAL_JARS

DAGS = PROJECT_ROOT / "dags"
SHARD_ARGS = ["run", "sales", "--date", "2024-03-04", "--stores", "26-50"]


def edges(dag: Any) -> set[tuple[str, str]]:
    return {(task.task_id, down) for task in dag.tasks for down in task.downstream_task_ids}


def unmapped_shard(dag: Any, arguments: list[str]) -> Any:
    """The task a mapped `sales` becomes for one shard, rendered as Airflow renders it."""
    sales = dag.get_task("sales")
    task = sales.unmap({**sales.partial_kwargs, "application_args": arguments})
    task.dag = dag
    task.render_template_fields({"ds": "2024-03-04", "task": task, "dag": dag})
    return task


@pytest.fixture(scope="module")
def local() -> Settings:
    return load_settings("local")


@pytest.fixture(scope="module")
def local_submit(local: Settings) -> Settings:
    """The local backend with a spark-submit per task instead of the warm driver."""
    spark = local.spark.model_copy(update={"local_driver": "submit"})
    return local.model_copy(update={"spark": spark})


@pytest.fixture(scope="module")
def kubernetes() -> Settings:
    return load_settings("kubernetes")


def test_the_dag_folder_imports_without_errors_and_without_pyspark() -> None:
    script = (
        "import sys\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        f"bag = DagBag(dag_folder={str(DAGS)!r})\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "print(sorted(bag.dag_ids))\n"
        "assert 'pyspark' not in sys.modules, 'a DAG file imported pyspark'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == (
        "['customers_daily', 'inventory_sync', 'maintenance', 'retail_daily']"
    )


def test_retail_daily_runs_shards_then_gold_then_the_report(local: Settings) -> None:
    dag = build_retail_daily(local)
    assert edges(dag) == {
        ("plan_sales_shards", "sales"),
        ("sales", "sales_gold"),
        ("sales_gold", "inventory_daily"),
        ("inventory_daily", "promotions"),
        ("promotions", "daily_report"),
    }
    assert type(dag.get_task("sales")).__name__ == "MappedOperator"
    assert dag.get_task("sales").map_index_template == "stores {{ task.application_args[-1] }}"


def test_retail_daily_schedule_and_reliability_come_from_conf(local: Settings) -> None:
    dag = build_retail_daily(local)
    orchestration = local.orchestration
    assert dag.catchup is True
    assert dag.max_active_runs == orchestration.max_active_runs
    assert dag.start_date is not None and dag.start_date.date() == orchestration.start_date
    # Data-interval daily: the run of day D starts when D ends and has logical date D.
    timetable: Any = dag.timetable
    assert type(timetable).__name__ == "CronDataIntervalTimetable"
    assert (timetable.expression, str(timetable.timezone)) == ("0 0 * * *", "UTC")
    for task_id in ("sales", "sales_gold", "inventory_daily", "promotions", "daily_report"):
        task: Any = dag.get_task(task_id)
        assert task.pool == orchestration.pool
        assert task.retries == orchestration.retries
        assert task.retry_delay == timedelta(seconds=orchestration.retry_delay_seconds)
        assert task.retry_exponential_backoff == orchestration.retry_backoff
        assert task.max_retry_delay == timedelta(seconds=orchestration.max_retry_delay_seconds)
        assert task.execution_timeout == timedelta(minutes=orchestration.execution_timeout_minutes)
        kinds = {type(callback) for callback in task.on_failure_callback}
        assert kinds == {EmailAlert, WebhookAlert}


def test_both_backends_build_the_same_graph(local: Settings, kubernetes: Settings) -> None:
    for build in BUILDERS:
        local_dag, k8s_dag = build(local), build(kubernetes)
        assert edges(local_dag) == edges(k8s_dag)
        assert sorted(local_dag.task_ids) == sorted(k8s_dag.task_ids)


def test_a_local_shard_runs_in_the_warm_driver_by_default(local: Settings) -> None:
    task = unmapped_shard(build_retail_daily(local), SHARD_ARGS)
    assert local.spark.local_driver == "warm"
    assert type(task).__name__ == "WarmDriverOperator"
    assert task.application_args == SHARD_ARGS


def test_a_local_shard_is_spark_submit_of_the_cli_with_delta_jars(local_submit: Settings) -> None:
    task = unmapped_shard(build_retail_daily(local_submit), SHARD_ARGS)
    assert type(task).__name__ == "SparkSubmitOperator"
    assert task.application == str(PROJECT_ROOT / "jobs" / "__main__.py")
    assert task.application_args == SHARD_ARGS
    assert task._conn_id == local_submit.orchestration.spark_conn_id
    cache = Path(local_submit.paths.jar_cache)
    assert task.jars.split(",") == [str(cache / name) for name in LOCAL_JARS]
    assert task.env_vars["PYSPARK_PYTHON"] == sys.executable


def test_a_local_shard_starts_its_driver_jvm_with_the_confs_options(
    local_submit: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    archive = tmp_path / "spark-classes.jsa"
    archive.write_bytes(b"")
    spark = local_submit.spark.model_copy(
        update={"driver_java_options": ["-XX:TieredStopAtLevel=1"], "class_archive": str(archive)}
    )
    settings = local_submit.model_copy(update={"spark": spark})
    task = unmapped_shard(build_retail_daily(settings), SHARD_ARGS)
    # The command line Airflow's own hook builds from the operator: the options must be on it,
    # since spark-submit starts the driver's JVM before the job's session exists.
    monkeypatch.setenv(
        "AIRFLOW_CONN_RETAILMAX_TEST_SPARK", '{"conn_type": "spark", "host": "local"}'
    )
    hook = SparkSubmitHook(conf=task.conf, conn_id="retailmax_test_spark")
    command = hook._build_spark_submit_command(task.application)
    options = (
        "-Duser.timezone=UTC -XX:-DontCompileHugeMethods -XX:TieredStopAtLevel=1 "
        f"-XX:SharedArchiveFile={archive}"
    )
    assert command[command.index(f"spark.driver.extraJavaOptions={options}") - 1] == "--conf"


def test_a_missing_class_archive_and_local_fs_jar_are_left_off_the_command_line(
    local_submit: Settings, tmp_path: Path
) -> None:
    spark = local_submit.spark.model_copy(
        update={
            "driver_java_options": [],
            "class_archive": str(tmp_path / "none.jsa"),
            "local_fs_jar": str(tmp_path / "none.jar"),
        }
    )
    settings = local_submit.model_copy(update={"spark": spark})
    task = unmapped_shard(build_retail_daily(settings), SHARD_ARGS)
    assert task.conf == {
        "spark.driver.extraJavaOptions": "-Duser.timezone=UTC -XX:-DontCompileHugeMethods"
    }


def test_a_local_shard_puts_the_local_fs_jar_on_its_drivers_classpath(
    local_submit: Settings, tmp_path: Path
) -> None:
    jar = tmp_path / "local-fs.jar"
    jar.write_bytes(b"")
    spark = local_submit.spark.model_copy(update={"local_fs_jar": str(jar)})
    settings = local_submit.model_copy(update={"spark": spark})
    task = unmapped_shard(build_retail_daily(settings), SHARD_ARGS)
    # spark-submit starts the JVM: the jar must be on its classpath from the command line
    assert task.conf["spark.driver.extraClassPath"] == str(jar)


def test_a_kubernetes_shard_is_a_hardened_spark_application_from_conf(
    kubernetes: Settings,
) -> None:
    task = unmapped_shard(build_retail_daily(kubernetes), SHARD_ARGS)
    assert type(task).__name__ == "SparkApplicationOperator"
    k8s = kubernetes.kubernetes
    assert k8s is not None
    assert task.namespace == k8s.namespace and task.kubernetes_conn_id == k8s.connection_id
    manifest = yaml.safe_load(task.application_file)
    assert task.template_body["spark"] == manifest  # what the provider will submit
    spec = manifest["spec"]
    assert manifest["kind"] == "SparkApplication"
    assert manifest["metadata"]["namespace"] == k8s.namespace
    assert spec["arguments"] == SHARD_ARGS
    assert spec["image"] == k8s.image
    assert spec["mainApplicationFile"] == "local:///opt/retailmax/jobs/__main__.py"
    assert spec["restartPolicy"] == {"type": "Never"}
    assert kubernetes.spark.conf.items() <= spec["sparkConf"].items()
    assert spec["driver"]["serviceAccount"] == k8s.service_account
    assert (spec["driver"]["cores"], spec["driver"]["memory"]) == (1, "4g")
    executor = spec["executor"]
    assert (executor["instances"], executor["cores"], executor["memory"]) == (2, 2, "8g")
    for pod in (spec["driver"], executor):
        assert pod["podSecurityContext"]["runAsNonRoot"] is True
        assert pod["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        assert pod["securityContext"]["capabilities"] == {"drop": ["ALL"]}
        assert pod["securityContext"]["allowPrivilegeEscalation"] is False
        assert {"name": "RETAILMAX_ENV", "value": "kubernetes"} in pod["env"]


def test_the_gold_step_and_report_run_for_the_logical_date(local: Settings) -> None:
    dag = build_retail_daily(local)
    context: dict[str, Any] = {"ds": "2024-03-04", "dag": dag}
    steps = (
        ("sales_gold", "sales-gold"),
        ("inventory_daily", "inventory"),
        ("promotions", "promotions"),
        ("daily_report", "report"),
    )
    for task_id, job in steps:
        task: Any = dag.get_task(task_id)
        task.render_template_fields({**context, "task": task})
        assert task.application_args == ["run", job, "--date", "2024-03-04"]


def test_inventory_sync_applies_each_interval_without_pile_up(local: Settings) -> None:
    dag = build_inventory_sync(local)
    timetable: Any = dag.timetable
    assert type(timetable).__name__ == "DeltaDataIntervalTimetable"
    assert timetable.delta == timedelta(minutes=local.orchestration.inventory_sync_minutes)
    assert (dag.catchup, dag.max_active_runs) == (False, 1)
    task: Any = dag.get_task("sync_stock")
    start = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)
    context = {
        "data_interval_start": start,
        "data_interval_end": start + timedelta(minutes=15),
        "dag": dag,
        "task": task,
    }
    task.render_template_fields(context)
    assert task.application_args == [
        "run",
        "inventory",
        "--date",
        "2024-03-04",
        "--since",
        "2024-03-04T09:00:00+00:00",
        "--until",
        "2024-03-04T09:15:00+00:00",
    ]
    assert task.pool == local.orchestration.pool


def test_maintenance_is_weekly_without_catchup(local: Settings) -> None:
    dag = build_maintenance(local)
    timetable: Any = dag.timetable
    assert timetable.expression == "0 0 * * 0" and dag.catchup is False
    assert dag.task_ids == ["optimize_and_vacuum"]


def test_customers_daily_runs_each_export_date_in_order_after_the_sales(local: Settings) -> None:
    dag = build_customers_daily(local)
    timetable: Any = dag.timetable
    # 04:00 UTC on D+1 for the export of D: retail_daily for D (from midnight) comes first.
    assert timetable.expression == "0 4 * * *"
    assert (dag.max_active_runs, dag.catchup) == (1, local.orchestration.catchup)
    task: Any = dag.get_task("customers")
    assert task.depends_on_past is True  # silver.customers refuses a date out of order
    task.render_template_fields({"ds": "2024-03-04", "dag": dag, "task": task})
    assert task.application_args == ["run", "customers", "--date", "2024-03-04"]
    assert {asset.name for asset in task.outlets} == {
        "quarantine.customer_records",
        "silver.customer_records",
        "silver.customers",
        "silver.customer_consents",
        "gold.customer_360",
    }


def test_assets_name_the_tables_the_jobs_write(local: Settings) -> None:
    dag = build_retail_daily(local)
    written = {
        asset.name for task_id in ("sales", "sales_gold") for asset in dag.get_task(task_id).outlets
    }
    assert written == {spec.name for spec in ALL_TABLES}
    gold = dag.get_task("sales_gold").outlets
    uris = {asset.name: asset.uri for asset in gold}
    assert uris["gold.daily_store_sales"] == f"file://{local.lake_root}/gold/daily_store_sales"


def write_stores(landing: Path, store_ids: list[int], folders: list[int], day: date) -> None:
    (landing / "reference").mkdir(parents=True)
    rows = "".join(f"{s},Store {s},R,C,SUPER,2001-01-01\n" for s in store_ids)
    header = "store_id,store_name,region,city,format,opened_on\n"
    (landing / "reference" / "stores.csv").write_text(header + rows)
    for store in folders:
        (landing / "pos" / f"sale_date={day}" / f"store_id={store}").mkdir(parents=True)


def test_shards_cover_known_stores_and_unknown_folders(local: Settings, tmp_path: Path) -> None:
    day = date(2024, 3, 4)
    write_stores(tmp_path, [1, 2, 3, 4, 5], folders=[1, 2, 9], day=day)
    paths = local.paths.model_copy(update={"landing_root": str(tmp_path)})
    sharding = local.sharding.model_copy(update={"stores_per_shard": 2})
    settings = local.model_copy(update={"paths": paths, "sharding": sharding})
    # By hand: stores 1-5 from stores.csv, 9 from its folder; groups of two.
    assert store_shards(settings, day) == ["1-2", "3-4", "5,9"]


def test_local_airflow_gets_a_machine_salt_unless_one_is_exported(
    local: Settings, tmp_path: Path
) -> None:
    from jobs.orchestration.local_airflow import local_airflow_env

    env = local_airflow_env(local, home=tmp_path, base={})
    salt = env["RETAILMAX_PII_SALT"]
    assert len(salt) == 64 and int(salt, 16) >= 0  # 32 random bytes, hex
    assert (tmp_path / "pii_salt").stat().st_mode & 0o777 == 0o600
    assert local_airflow_env(local, home=tmp_path, base={})["RETAILMAX_PII_SALT"] == salt
    exported = {"RETAILMAX_PII_SALT": "from-the-vault-0123456789"}
    assert local_airflow_env(local, home=tmp_path, base=exported)["RETAILMAX_PII_SALT"] == (
        "from-the-vault-0123456789"
    )
