"""The Kubernetes deployment, checked strictly and offline: every SparkApplication the DAG tasks
submit against the Spark Operator's own CRD, the manifests against the Kubernetes schemas,
least-privilege RBAC, the Helm values against the charts, and safe Delta commits on S3."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs import registry
from jobs.errors import ConfigError
from jobs.orchestration import factory
from jobs.settings import PROJECT_ROOT, Settings, load_settings
from tests.kube import (
    K8S_DIR,
    VERSIONS,
    builtin_errors,
    kustomize_build,
    manifests,
    spark_application_errors,
    spark_operator_dir,
    spark_tasks,
    submitted_body,
)

# The DAGs must submit every job whose spec has a template (all but those run by hand).
JOBS = tuple(name for name, spec in registry.JOBS.items() if spec.template)


@pytest.fixture(scope="module")
def kubernetes() -> Settings:
    return load_settings("kubernetes")


def test_every_submitted_spark_application_validates_strictly_against_the_crd(
    kubernetes: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    tasks = spark_tasks(kubernetes)
    assert {task.manifest["job"] for task in tasks} == set(JOBS)
    for task in tasks:
        template = yaml.safe_load(task.application_file)
        assert spark_application_errors(template) == [], task.task_id
        body = submitted_body(task, monkeypatch)
        assert spark_application_errors(body, suffix=0) == [], task.task_id
        # The name is the template's plus the suffix, not a truncation of it.
        assert body["metadata"]["name"].startswith(template["metadata"]["name"] + "-")
        assert len(body["metadata"]["name"]) == len(template["metadata"]["name"]) + 9


def test_each_job_has_its_own_template_with_the_required_settings(
    kubernetes: Settings,
) -> None:
    k8s = kubernetes.kubernetes
    assert k8s is not None
    for task in spark_tasks(kubernetes):
        job = task.manifest["job"]
        assert task.application_file.startswith("apiVersion")  # rendered
        assert (K8S_DIR / "spark-applications" / f"{job}.yaml").is_file()
        spec = yaml.safe_load(task.application_file)["spec"]
        driver, executor, bounds = k8s.resources(job)
        assert spec["image"] == k8s.image
        assert spec["mainApplicationFile"] == "local:///opt/retailmax/jobs/__main__.py"
        assert spec["arguments"] == task.application_args and spec["arguments"][1] == job
        assert spec["restartPolicy"] == {"type": "Never"}  # Airflow owns retries
        assert spec["timeToLiveSeconds"] == k8s.time_to_live_seconds
        assert (spec["driver"]["cores"], spec["driver"]["memory"]) == (driver.cores, driver.memory)
        assert (spec["executor"]["cores"], spec["executor"]["memory"]) == (
            executor.cores,
            executor.memory,
        )
        allocation = spec["dynamicAllocation"]
        assert allocation["enabled"] is True
        assert (allocation["minExecutors"], allocation["maxExecutors"]) == (
            bounds.min_executors,
            bounds.max_executors,
        )
        assert spec["monitoring"]["prometheus"]["port"] == k8s.prometheus_port
        assert spec["sparkConf"]["spark.eventLog.enabled"] == "true"
        assert spec["sparkConf"]["spark.eventLog.dir"] == k8s.event_log_dir
        for pod in (spec["driver"], spec["executor"]):
            security = pod["securityContext"]
            assert pod["podSecurityContext"]["runAsNonRoot"] is True
            assert pod["podSecurityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"] == {"drop": ["ALL"]}
            assert security["readOnlyRootFilesystem"] is True
            secrets = {
                env["name"]: env["valueFrom"]["secretKeyRef"]["name"]
                for env in pod["env"]
                if "valueFrom" in env
            }
            # Only the customers job gets the pseudonymisation salt, and only from its Secret.
            salt = {"RETAILMAX_PII_SALT": k8s.pii_salt_secret} if job == "customers" else {}
            assert secrets == {
                "AWS_ACCESS_KEY_ID": k8s.credentials_secret,
                "AWS_SECRET_ACCESS_KEY": k8s.credentials_secret,
                **salt,
            }
            assert not any(
                "value" in env and ("AWS_" in env["name"] or "SALT" in env["name"])
                for env in pod["env"]
            )


def render_with(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, old: str, new: str) -> dict:
    """The sales shard's SparkApplication rendered from a copy of k8s/ with one edit."""
    broken = tmp_path / "k8s"
    shutil.copytree(K8S_DIR, broken)
    base = broken / "spark-applications" / "base.yaml.j2"
    text = base.read_text()
    assert old in text
    base.write_text(text.replace(old, new, 1))
    monkeypatch.setattr(factory, "K8S_DIR", broken)
    task = next(t for t in spark_tasks(load_settings("kubernetes")) if t.task_id == "sales")
    return yaml.safe_load(task.application_file)


def test_an_unknown_field_fails_validation_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = render_with(tmp_path, monkeypatch, "    instances:", "    instancez:")
    assert "spec.executor.instancez: unknown field" in spark_application_errors(body)


def test_a_wrong_type_fails_validation_naming_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = render_with(tmp_path, monkeypatch, "    cores: {{ m.driver.cores }}", '    cores: "one"')
    assert spark_application_errors(body) == ["spec.driver.cores: 'one' is not of type 'integer'"]


def test_a_name_too_long_with_airflows_suffix_fails_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long_name = "retailmax-sales-for-every-store-of-the-network-shard"  # 52 characters
    body = render_with(tmp_path, monkeypatch, "  name: {{ m.name }}", f"  name: {long_name}-x1")
    # 55 characters: a valid name today, 64 once Airflow appends "-" and 8 random characters.
    assert spark_application_errors(body) == [
        f"metadata.name: '{long_name}-x1' is 55 characters, 64 with Airflow's random suffix: "
        "more than 63"
    ]
    with pytest.raises(ValueError, match="exceeds 63"):
        factory.application_name("sales-for-every-store-of-the-network-shard-x1")


def test_the_providers_spec_labels_would_be_refused_so_the_operator_drops_them(
    kubernetes: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    task = next(t for t in spark_tasks(kubernetes) if t.task_id == "sales")
    body = submitted_body(task, monkeypatch)
    # SparkKubernetesOperator (reattach_on_restart) adds spec.labels, which the CRD lacks.
    assert spark_application_errors(
        {**body, "spec": {**body["spec"], "labels": {"a": "b"}}}, 0
    ) == ["spec.labels: unknown field"]
    assert "labels" not in body["spec"]
    assert body["spec"]["driver"]["labels"]["task_id"] == "sales"  # what reattaching looks for


def test_built_in_manifests_and_both_overlays_validate_strictly() -> None:
    objects = manifests(K8S_DIR / "base")
    assert objects, "k8s/base holds the namespaces, RBAC and quota"
    for overlay in ("dev", "prod"):
        rendered = kustomize_build(K8S_DIR / "overlays" / overlay)
        assert {(o["kind"], o["metadata"]["name"]) for o in rendered} == {
            (o["kind"], o["metadata"]["name"]) for o in objects
        }
        for obj in rendered:
            assert obj["metadata"]["labels"]["retailmax.io/environment"] == overlay
            assert builtin_errors(obj) == []
    role = next(o for o in objects if o["metadata"]["name"] == "retailmax-spark-driver")
    broken = copy.deepcopy(role)
    broken["rules"][0]["verbz"] = broken["rules"][0].pop("verbs")
    assert builtin_errors(broken) == [
        "Role/retailmax-spark-driver rules.0: 'verbs' is a required property"
    ]


def rules_of(objects: list[dict], role: str) -> dict[str, set[str]]:
    found = next(o for o in objects if o["kind"] == "Role" and o["metadata"]["name"] == role)
    return {
        f"{group}/{resource}".lstrip("/"): set(rule["verbs"])
        for rule in found["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
    }


def test_rbac_is_least_privilege_and_namespaced(kubernetes: Settings) -> None:
    k8s = kubernetes.kubernetes
    assert k8s is not None
    objects = manifests(K8S_DIR / "base")
    assert not [o for o in objects if o["kind"].startswith("Cluster")]
    namespaced = [o for o in objects if o["kind"] not in ("Namespace",)]
    assert {o["metadata"]["namespace"] for o in namespaced} == {k8s.namespace}
    driver = rules_of(objects, "retailmax-spark-driver")
    assert set(driver) == {"pods", "services", "configmaps", "persistentvolumeclaims"}
    # Exactly what the provider calls is checked against the API server's audit log
    # (test_k8s_apiserver.py); here: no wildcard, no secret, no right over rights.
    airflow = rules_of(objects, "retailmax-airflow-spark-submitter")
    for rules in (driver, airflow):
        assert not [r for r in rules if "*" in r or "secrets" in r or r.startswith("rbac")]
        assert not set().union(*rules.values()) & {"*", "escalate", "bind", "impersonate"}
    bindings = {o["metadata"]["name"]: o for o in objects if o["kind"] == "RoleBinding"}
    assert bindings["retailmax-spark-driver"]["subjects"] == [
        {"kind": "ServiceAccount", "name": k8s.service_account, "namespace": k8s.namespace}
    ]
    airflow_values = yaml.safe_load((K8S_DIR / "helm" / "airflow-values.yaml").read_text())
    assert bindings["retailmax-airflow-spark-submitter"]["subjects"] == [
        {
            "kind": "ServiceAccount",
            "name": airflow_values["workers"]["serviceAccount"]["name"],
            "namespace": airflow_values["config"]["kubernetes_executor"]["namespace"],
        }
    ]


def unknown_keys(ours: Any, chart: Any, path: str = "") -> list[str]:
    """Keys of our values that the chart's values.yaml does not have."""
    if not isinstance(ours, dict) or not isinstance(chart, dict) or not chart:
        return []
    missing = []
    for key, value in ours.items():
        if key not in chart:
            missing.append(f"{path}{key}")
        else:
            missing.extend(unknown_keys(value, chart[key], f"{path}{key}."))
    return missing


def test_helm_values_fit_the_charts_and_the_conf(kubernetes: Settings) -> None:
    k8s = kubernetes.kubernetes
    assert k8s is not None
    chart = spark_operator_dir() / "charts" / "spark-operator-chart"
    defaults = yaml.safe_load((chart / "values.yaml").read_text())
    ours = yaml.safe_load((K8S_DIR / "helm" / "spark-operator-values.yaml").read_text())
    assert unknown_keys(ours, defaults) == []
    assert unknown_keys({"controller": {"workerz": 10}}, defaults) == ["controller.workerz"]
    chart_version = yaml.safe_load((chart / "Chart.yaml").read_text())["version"]
    assert f"v{chart_version}" == VERSIONS["spark_operator"]
    assert (
        f"--version {chart_version}"
        in (K8S_DIR / "helm" / "spark-operator-values.yaml").read_text()
    )
    assert ours["spark"]["jobNamespaces"] == [k8s.namespace]
    assert ours["spark"]["serviceAccount"] == {"create": False, "name": k8s.service_account}
    assert ours["webhook"]["enable"] is True and ours["controller"]["workers"] == 10
    airflow = yaml.safe_load((K8S_DIR / "helm" / "airflow-values.yaml").read_text())
    assert airflow["executor"] == "KubernetesExecutor"
    assert airflow["airflowVersion"] == "3.3.2"
    # Worker pods are deleted: their logs go to object storage, with a connection defined.
    logging = airflow["config"]["logging"]
    assert airflow["config"]["kubernetes_executor"]["delete_worker_pods"] == "True"
    assert logging["remote_logging"] == "True"
    assert logging["remote_base_log_folder"].startswith("s3://")
    conn = f"AIRFLOW_CONN_{logging['remote_log_conn_id'].upper()}"
    assert (
        json.loads(next(e["value"] for e in airflow["env"] if e["name"] == conn))["conn_type"]
        == "aws"
    )
    assert airflow["postgresql"]["enabled"] is False and airflow["data"]["metadataSecretName"]
    env = {e["name"]: e["value"] for e in airflow["env"]}
    assert env["RETAILMAX_ENV"] == "kubernetes"
    assert '"in_cluster": true' in env[f"AIRFLOW_CONN_{k8s.connection_id.upper()}"]


def write_conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, conf: dict) -> None:
    folder = tmp_path / "conf"
    folder.mkdir(exist_ok=True)
    (folder / "kubernetes.yaml").write_text(yaml.safe_dump(conf))
    monkeypatch.setenv("RETAILMAX_CONF_DIR", str(folder))


def test_an_s3_lake_never_runs_with_the_single_driver_log_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kubernetes: Settings
) -> None:
    assert kubernetes.lake_root.startswith("s3a://")
    store = "io.delta.storage.S3DynamoDBLogStore"
    assert kubernetes.spark.conf["spark.delta.logStore.s3a.impl"] == store
    assert kubernetes.spark.conf["spark.delta.logStore.s3.impl"] == store
    for task in spark_tasks(kubernetes):
        assert (
            yaml.safe_load(task.application_file)["spec"]["sparkConf"][
                "spark.delta.logStore.s3a.impl"
            ]
            == store
        )
    raw = yaml.safe_load((PROJECT_ROOT / "conf" / "kubernetes.yaml").read_text())
    for single_driver in ("io.delta.storage.S3SingleDriverLogStore", None):
        conf = copy.deepcopy(raw)
        if single_driver is None:
            del conf["spark"]["conf"]["spark.delta.logStore.s3a.impl"]
        else:
            conf["spark"]["conf"]["spark.delta.logStore.s3a.impl"] = single_driver
        write_conf(tmp_path, monkeypatch, conf)
        with pytest.raises(ConfigError, match=r"set spark\.conf spark\.delta\.logStore\.s3a"):
            load_settings("kubernetes")
    conf = copy.deepcopy(raw)
    conf["paths"]["lake_root"] = "/lake"  # a local disk: atomic put-if-absent, any LogStore
    del conf["spark"]["conf"]["spark.delta.logStore.s3a.impl"]
    write_conf(tmp_path, monkeypatch, conf)
    assert load_settings("kubernetes").lake_root == "/lake"


def test_the_operators_jmx_agent_is_appended_to_never_replaced(kubernetes: Settings) -> None:
    """The operator appends `-javaagent:<jar>=<port>:...` to spec.{driver,executor}.javaOptions
    and submits them as spark.{driver,executor}.extraJavaOptions (spark-operator v2.5.1,
    monitoring_config.go and submission.go). Neither the SparkApplication's sparkConf nor the
    session factory may set those keys: a later value would replace the agent."""
    from jobs.spark import spark_conf

    keys = {"spark.driver.extraJavaOptions", "spark.executor.extraJavaOptions"}
    assert keys.isdisjoint(spark_conf(kubernetes))
    for task in spark_tasks(kubernetes):
        spec = yaml.safe_load(task.application_file)["spec"]
        assert keys.isdisjoint(spec["sparkConf"]), task.task_id
        for role in ("driver", "executor"):
            assert spec[role]["javaOptions"] == (
                "-Duser.timezone=UTC -XX:-DontCompileHugeMethods"
            ), (task.task_id, role)
        assert spec["monitoring"]["exposeExecutorMetrics"] is True


def _mebibytes(spark_memory: str) -> float:
    """A pod's memory for Spark's `8g`: the heap plus Spark's overhead, 10 % but at least
    384 MiB (spark.kubernetes.memoryOverheadFactor's default)."""
    units = {"m": 1, "g": 1024, "t": 1024 * 1024}
    heap = float(spark_memory[:-1]) * units[spark_memory[-1].lower()]
    return heap + max(384.0, heap * 0.10)


def _quantity(value: str) -> float:
    """cores, or MiB for a `Gi`/`Mi` quantity."""
    for suffix, factor in (("Gi", 1024.0), ("Mi", 1.0)):
        if value.endswith(suffix):
            return float(value[: -len(suffix)]) * factor
    return float(value)


@pytest.mark.parametrize(("overlay", "executors"), [("dev", "initial"), ("prod", "peak")])
def test_each_quota_holds_the_pool_of_applications(
    kubernetes: Settings, overlay: str, executors: str
) -> None:
    """Every slot of the Airflow pool may hold the largest application: dev with its initial
    executors (the webhook admits it; more executors wait for room), prod at its peak
    (dynamic allocation's maximum). Otherwise the webhook would fail tasks the pool admitted."""
    k8s = kubernetes.kubernetes
    assert k8s is not None
    largest = {"requests.cpu": 0.0, "requests.memory": 0.0, "pods": 0.0}
    for job in JOBS:
        driver, executor, bounds = k8s.resources(job)
        count = executor.instances if executors == "initial" else bounds.max_executors
        need = {
            "requests.cpu": driver.cores + count * executor.cores,
            "requests.memory": _mebibytes(driver.memory) + count * _mebibytes(executor.memory),
            "pods": 1.0 + count,
        }
        largest = {key: max(largest[key], need[key]) for key in largest}
    quota = next(
        o for o in kustomize_build(K8S_DIR / "overlays" / overlay) if o["kind"] == "ResourceQuota"
    )
    hard = quota["spec"]["hard"]
    slots = kubernetes.orchestration.pool_slots
    for key, one in largest.items():
        assert _quantity(hard[key]) >= slots * one, (key, hard[key], slots, one)
        limit = key.replace("requests", "limits")
        if limit in hard:  # the templates' limits equal their requests
            assert _quantity(hard[limit]) >= slots * one, (limit, hard[limit])
