"""The Kubernetes side against a real kube-apiserver (built from the Go module proxy, kine as its
storage, 127.0.0.1 only): the CRD and k8s/ installed by server-side apply with strict field
validation, RBAC decided by the server itself, and retail_daily's Spark tasks submitted,
watched and completed by SparkKubernetesOperator, authenticated as Airflow's service account,
with tests/spark_operator.py playing the Spark Operator and running each driver locally."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import yaml

from jobs.jars import required_jars
from jobs.orchestration.local_airflow import AIRFLOW, dags_test, local_airflow_env, migrate
from jobs.orchestration.receivers import Inbox, alert_receivers
from jobs.settings import PROJECT_ROOT, Settings, load_settings
from jobs.spark import driver_launch_conf
from tests import k8s_paths
from tests.airflow_runs import (
    DAY,
    NO_DATA_DAY,
    Run,
    assert_gold_equals_pandas,
    assert_shards_alerted_without_landing_data,
    run_conf,
)
from tests.apiserver import (
    ApiServer,
    ApiServerError,
    Client,
    KubeError,
    missing_tool,
    port_is_open,
    wrapper_go_mod,
)
from tests.conftest import with_test_jvm
from tests.kube import (
    CRD_PATH,
    K8S_DIR,
    VERSIONS,
    GoToolError,
    kustomize_build,
    run_go,
    spark_operator_dir,
    spark_tasks,
    submitted_body,
)
from tests.spark_operator import (
    APPLICATIONS,
    NODE,
    QuotaWebhook,
    Scenario,
    SparkOperatorDouble,
    publish_quota_usage,
    wait_until,
)

# The Airflow runs are set up in module fixtures that count against the first test using them;
# each takes about 8 minutes on a quiet 2-core machine: room for a busy one.
pytestmark = [pytest.mark.k8s, pytest.mark.timeout(1800)]

SPARK_NS = "retailmax-jobs"
AIRFLOW_NS = "retailmax-airflow"
AIRFLOW_SA = "airflow-worker"  # the Airflow chart's worker service account (helm values)
DRIVER_SA = "retailmax-spark"


def _crd() -> dict[str, Any]:
    crd: dict[str, Any] = yaml.safe_load((spark_operator_dir() / CRD_PATH).read_text())
    return crd


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    """The API server with everything RetailMax deploys, as an admin installs it."""
    if reason := missing_tool():
        pytest.skip(reason)
    with ApiServer(tmp_path_factory.mktemp("apiserver")) as server:
        admin = server.client()
        admin.apply(_crd())
        wait_until(lambda: _established(admin), 60, "the SparkApplication CRD established")
        for obj in kustomize_build(K8S_DIR / "overlays" / "dev"):
            admin.apply(obj)
        # What the Airflow chart creates (k8s/helm/airflow-values.yaml): the worker identity.
        admin.apply(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {"name": AIRFLOW_SA, "namespace": AIRFLOW_NS},
            }
        )
        # No kube-controller-manager runs: its quota controller's first status is written
        # here (then admission and tests/spark_operator.py keep the usage current).
        publish_quota_usage(admin, SPARK_NS)
        # The Spark Operator's admission webhook, resource quota enforcement on.
        webhook = QuotaWebhook(server, SPARK_NS).start()
        yield server
        webhook.stop()


def _established(admin: Client) -> bool:
    name = _crd()["metadata"]["name"]
    crd = admin.request("GET", f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}")
    conditions = crd.get("status", {}).get("conditions", [])
    return any(c["type"] == "Established" and c["status"] == "True" for c in conditions)


def _token(admin: Client, namespace: str, account: str) -> str:
    """A service-account token from the TokenRequest API, as a pod would get mounted."""
    request = {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenRequest",
        "spec": {"expirationSeconds": 3600},
    }
    path = f"/api/v1/namespaces/{namespace}/serviceaccounts/{account}/token"
    return str(admin.request("POST", path, request)["status"]["token"])


# -- build, start, install -------------------------------------------------------------------


def test_the_wrapper_go_mod_swaps_staging_for_the_published_modules() -> None:
    upstream = (
        "module k8s.io/kubernetes\n\ngo 1.24.0\n\nreplace (\n"
        "\tk8s.io/api => ./staging/src/k8s.io/api\n"
        "\tk8s.io/client-go => ./staging/src/k8s.io/client-go\n"
        "\tgithub.com/example/fork => github.com/example/fork v1.0.0\n)\n"
    )
    assert wrapper_go_mod(upstream, "v1.34.4").splitlines() == [
        "module retailmax.local/kube-apiserver-build",
        "",
        "go 1.24.0",
        "",
        "require k8s.io/kubernetes v1.34.4",
        "",
        "replace (",
        "\tk8s.io/api => k8s.io/api v0.34.4",
        "\tk8s.io/client-go => k8s.io/client-go v0.34.4",
        ")",
    ]
    with pytest.raises(ApiServerError, match=r"no \./staging replace lines"):
        wrapper_go_mod("module k8s.io/kubernetes\n\ngo 1.24.0\n", "v1.34.4")


def test_a_failed_go_build_names_the_exact_command(tmp_path: Path) -> None:
    env = {**os.environ, "GOPROXY": "off", "GOFLAGS": "", "GOWORK": "off"}
    with pytest.raises(GoToolError) as failure:
        run_go(
            ["build", "-ldflags", "-s -w", "./nowhere"], what="building x", cwd=tmp_path, env=env
        )
    message = str(failure.value)
    assert message.startswith("building x: go build -ldflags '-s -w' ./nowhere failed: ")
    assert "\n" not in message


def test_the_server_is_the_pinned_release_of_the_validated_api(cluster: ApiServer) -> None:
    version = cluster.client().request("GET", "/version")
    assert version["gitVersion"] == VERSIONS["kube_apiserver"]
    assert f"{version['major']}.{version['minor']}" == VERSIONS["kubernetes"]


def test_the_crd_and_every_manifest_are_installed_by_strict_server_side_apply(
    cluster: ApiServer,
) -> None:
    admin = cluster.client()
    expected = [*kustomize_build(K8S_DIR / "overlays" / "dev"), _crd()]
    assert {obj["kind"] for obj in expected} >= {
        "Namespace",
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ResourceQuota",
        "LimitRange",
        "CustomResourceDefinition",
    }
    for obj in expected:
        meta = obj["metadata"]
        path = admin.resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
        live = admin.request("GET", f"{path}/{meta['name']}")
        managers = {entry["manager"] for entry in live["metadata"]["managedFields"]}
        assert "retailmax" in managers, (obj["kind"], meta["name"])
        assert live["metadata"].get("labels", {}).items() >= meta.get("labels", {}).items()
    # The prod overlay passes the same server-side checks without changing anything.
    for obj in kustomize_build(K8S_DIR / "overlays" / "prod"):
        admin.apply(obj, dry_run=True)
    quota = admin.request("GET", f"/api/v1/namespaces/{SPARK_NS}/resourcequotas/retailmax-spark")
    dev, prod = (
        next(o for o in kustomize_build(K8S_DIR / "overlays" / env) if o["kind"] == "ResourceQuota")
        for env in ("dev", "prod")
    )
    assert quota["spec"]["hard"] == dev["spec"]["hard"] != prod["spec"]["hard"]


def test_strict_field_validation_refuses_an_unknown_field(cluster: ApiServer) -> None:
    admin = cluster.client()
    role = next(
        obj
        for obj in kustomize_build(K8S_DIR / "overlays" / "dev")
        if obj["kind"] == "Role" and obj["metadata"]["name"] == "retailmax-spark-driver"
    )
    role["rules"][0]["verbz"] = role["rules"][0].pop("verbs")
    with pytest.raises(KubeError) as refused:
        admin.apply(role, dry_run=True)
    # Server-side apply refuses it before anything is stored, naming the field.
    assert refused.value.status >= 400
    assert ".rules[0].verbz: field not declared in schema" in refused.value.message


def test_every_spark_application_airflow_submits_is_accepted_by_the_server(
    cluster: ApiServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each Spark task of the four DAGs, rendered and built by the provider's own code,
    passes a server-side dry run (CRD schema, strict fields, admission) in the Spark namespace;
    the same body with the `spec.labels` the provider adds on its own would be refused."""
    admin = cluster.client()
    tasks = spark_tasks(load_settings("kubernetes"))
    assert len(tasks) == 8  # retail_daily 5, inventory_sync 1, maintenance 1, customers_daily 1
    for task in tasks:
        body = submitted_body(task, monkeypatch)
        assert body["metadata"]["namespace"] == SPARK_NS
        admin.apply(body, dry_run=True)
    body["spec"]["labels"] = {"dag_id": "retail_daily"}
    path = admin.resource_path(body["apiVersion"], body["kind"], SPARK_NS)
    with pytest.raises(KubeError) as refused:
        admin.request("POST", path, body, params={"fieldValidation": "Strict", "dryRun": "All"})
    assert refused.value.status == 400
    assert 'unknown field "spec.labels"' in refused.value.message
    # What the provider's create call gets by default: the field silently dropped.
    created = admin.request("POST", path, body, params={"dryRun": "All"})
    assert "labels" not in created["spec"]


# -- RBAC, decided by the server -------------------------------------------------------------


def _allowed(
    admin: Client,
    account: str,
    verb: str,
    resource: str,
    namespace: str,
    group: str = "",
    subresource: str = "",
) -> bool:
    owner_namespace = AIRFLOW_NS if account == AIRFLOW_SA else SPARK_NS
    review = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{owner_namespace}:{account}",
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{owner_namespace}",
                "system:authenticated",
            ],
            "resourceAttributes": {
                "namespace": namespace,
                "verb": verb,
                "group": group,
                "resource": resource,
                "subresource": subresource,
            },
        },
    }
    answer = admin.request("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", review)
    return bool(answer["status"]["allowed"])


SPARK_GROUP = "sparkoperator.k8s.io"
AIRFLOW_CAN = [
    ("create", "sparkapplications", SPARK_NS, SPARK_GROUP, ""),
    ("get", "sparkapplications", SPARK_NS, SPARK_GROUP, "status"),
    ("delete", "sparkapplications", SPARK_NS, SPARK_GROUP, ""),
    ("get", "pods", SPARK_NS, "", ""),
    ("list", "pods", SPARK_NS, "", ""),
    ("patch", "pods", SPARK_NS, "", ""),
    ("get", "pods", SPARK_NS, "", "log"),
    ("list", "events", SPARK_NS, "", ""),
]
AIRFLOW_CANNOT = [
    ("get", "secrets", SPARK_NS, "", ""),
    ("list", "secrets", SPARK_NS, "", ""),
    ("get", "secrets", AIRFLOW_NS, "", ""),
    ("create", "sparkapplications", "default", SPARK_GROUP, ""),
    ("create", "sparkapplications", AIRFLOW_NS, SPARK_GROUP, ""),
    ("list", "sparkapplications", "", SPARK_GROUP, ""),  # cluster-wide
    ("update", "sparkapplications", SPARK_NS, SPARK_GROUP, "status"),
    ("patch", "sparkapplications", SPARK_NS, SPARK_GROUP, ""),  # the operator's, not Airflow's
    ("get", "sparkapplications", SPARK_NS, SPARK_GROUP, ""),  # the provider reads /status only
    ("watch", "sparkapplications", SPARK_NS, SPARK_GROUP, ""),  # it polls, never watches
    ("watch", "pods", SPARK_NS, "", ""),
    ("patch", "pods", SPARK_NS, "", "status"),  # the kubelet's
    ("create", "events", SPARK_NS, "", ""),
    ("list", "events", AIRFLOW_NS, "", ""),
    ("create", "pods", SPARK_NS, "", ""),
    ("delete", "pods", SPARK_NS, "", ""),
    ("create", "pods", SPARK_NS, "", "exec"),
    ("list", "pods", "default", "", ""),
    ("create", "rolebindings", SPARK_NS, "rbac.authorization.k8s.io", ""),
]
DRIVER_CAN = [
    (verb, resource, SPARK_NS, "", "")
    for resource in ("pods", "services", "configmaps", "persistentvolumeclaims")
    for verb in ("create", "get", "list", "watch", "delete")
]
DRIVER_CANNOT = [
    ("get", "secrets", SPARK_NS, "", ""),
    ("list", "secrets", SPARK_NS, "", ""),
    ("create", "pods", "default", "", ""),
    ("create", "pods", AIRFLOW_NS, "", ""),
    ("create", "sparkapplications", SPARK_NS, SPARK_GROUP, ""),
    ("list", "nodes", "", "", ""),
    ("create", "pods", SPARK_NS, "", "exec"),
    ("create", "roles", SPARK_NS, "rbac.authorization.k8s.io", ""),
]


def _label(case: tuple[str, ...]) -> str:
    verb, resource, namespace, _, subresource = case
    return f"{verb} {resource}{'/' + subresource if subresource else ''} in {namespace or '*'}"


@pytest.mark.parametrize("case", AIRFLOW_CAN, ids=_label)
def test_airflow_may(cluster: ApiServer, case: tuple[str, str, str, str, str]) -> None:
    assert _allowed(cluster.client(), AIRFLOW_SA, *case)


@pytest.mark.parametrize("case", AIRFLOW_CANNOT, ids=_label)
def test_airflow_may_not(cluster: ApiServer, case: tuple[str, str, str, str, str]) -> None:
    assert not _allowed(cluster.client(), AIRFLOW_SA, *case)


@pytest.mark.parametrize("case", DRIVER_CAN, ids=_label)
def test_the_driver_may(cluster: ApiServer, case: tuple[str, str, str, str, str]) -> None:
    assert _allowed(cluster.client(), DRIVER_SA, *case)


@pytest.mark.parametrize("case", DRIVER_CANNOT, ids=_label)
def test_the_driver_may_not(cluster: ApiServer, case: tuple[str, str, str, str, str]) -> None:
    assert not _allowed(cluster.client(), DRIVER_SA, *case)


def test_a_real_airflow_token_is_refused_secrets_by_the_server(cluster: ApiServer) -> None:
    """Not a review but the request itself, with the token a worker pod would mount."""
    admin = cluster.client()
    worker = Client(cluster.server, _token(admin, AIRFLOW_NS, AIRFLOW_SA), cluster.ca_file)
    with pytest.raises(KubeError) as refused:
        worker.request("GET", f"/api/v1/namespaces/{SPARK_NS}/secrets")
    assert refused.value.status == 403
    assert f"system:serviceaccount:{AIRFLOW_NS}:{AIRFLOW_SA}" in refused.value.message
    pods = worker.request("GET", f"/api/v1/namespaces/{SPARK_NS}/pods")
    assert pods["kind"] == "PodList"


# -- the real submit path --------------------------------------------------------------------


@dataclass
class Submitted(Run):
    applications: list[dict[str, Any]] = field(default_factory=list)
    # Every application's states, as the operator stand-in moved it, by application name.
    states: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Deployment:
    cluster: ApiServer
    root: Path
    lake: Path
    settings: Settings
    env: dict[str, str]
    home: Path
    kubeconfig: Path
    local: Settings

    def operator(
        self,
        name: str,
        scenario: Callable[[dict[str, Any]], Scenario] | None = None,
        driver: Callable[[Path, list[str]], list[str]] | None = None,
    ) -> SparkOperatorDouble:
        """The Spark Operator stand-in; its drivers are spark-submit on local Spark unless
        `driver` says otherwise."""
        driver_env = {
            **self.env,
            "PYSPARK_PYTHON": str(Path(sys.executable)),
            "SPARK_LOCAL_IP": "127.0.0.1",  # the driver's own endpoints on loopback only
        }
        return SparkOperatorDouble(
            self.cluster,
            SPARK_NS,
            self.root / f"drivers-{name}",
            driver or partial(_local_driver, self.local),
            driver_env,
            **({"scenario": scenario} if scenario else {}),
        )

    def airflow_env(self, dags_folder: Path | None, inbox: Inbox | None = None) -> dict[str, str]:
        """Airflow's environment: the kubernetes connection as the worker's service account,
        the alert receivers when given, the test DAGs' folder when given."""
        env = local_airflow_env(
            self.settings,
            self.home,
            inbox.smtp_port if inbox else None,
            inbox.webhook_url if inbox else None,
            base=self.env,
        )
        env["AIRFLOW_CONN_KUBERNETES_DEFAULT"] = json.dumps(
            {"conn_type": "kubernetes", "extra": {"kube_config_path": str(self.kubeconfig)}}
        )
        if dags_folder is not None:  # test DAGs importing from tests/
            env["AIRFLOW__CORE__DAGS_FOLDER"] = str(dags_folder)
            env["PYTHONPATH"] = str(PROJECT_ROOT)
        return env

    def run(
        self,
        day: date,
        dag_id: str = "retail_daily",
        *,
        dags_folder: Path | None = None,
        scenario: Callable[[dict[str, Any]], Scenario] | None = None,
        driver: Callable[[Path, list[str]], list[str]] | None = None,
    ) -> Submitted:
        """`airflow dags test DAG <day>` on the kubernetes backend, the double running the
        SparkApplications, the alert receivers listening."""
        operator = self.operator(f"{dag_id}-{day}", scenario, driver)
        inbox: Inbox
        with operator, alert_receivers() as inbox:
            env = self.airflow_env(dags_folder, inbox)
            log_path = self.root / f"dags_test_{dag_id}_{day}.log"
            with log_path.open("w") as out:
                code = dags_test(dag_id, str(day), env, stdout=out)
        assert operator.errors == [], operator.errors
        emails, posts = list(inbox.emails), list(inbox.posts)
        return Submitted(
            code,
            log_path.read_text(),
            emails,
            posts,
            applications=operator.applications_seen,
            states={name: app.states for name, app in operator.applications.items()},
        )


def _local_driver(local: Settings, main_file: Path, arguments: list[str]) -> list[str]:
    """The driver the kubelet would start, as spark-submit on local Spark with Delta's jars
    (and the tests' JVM options with the local class archive: the container's JVM is not what
    these tests are about)."""
    jar_cache = Path(local.paths.jar_cache)
    jars = ",".join(str(jar_cache / jar.file_name) for jar in required_jars())
    spark_submit = Path(sys.executable).parent / "spark-submit"
    launch = driver_launch_conf(with_test_jvm(local)).items()
    launch_options = [arg for key, value in launch for arg in ("--conf", f"{key}={value}")]
    return [
        str(spark_submit),
        "--master",
        "local[2]",
        "--driver-memory",
        "1g",
        *launch_options,
        "--jars",
        jars,
        str(main_file),
        *arguments,
    ]


@pytest.fixture(scope="module")
def deployment(
    cluster: ApiServer,
    tmp_path_factory: pytest.TempPathFactory,
    clean_landing: Path,
    local_settings: Settings,
) -> Deployment:
    """conf/kubernetes.yaml with the lake on local disk, shards of 2 stores, no retries; a
    migrated AIRFLOW_HOME; Airflow's connection authenticated as its worker service account."""
    root = tmp_path_factory.mktemp("k8s_run")
    # The drivers run on local Spark with 2 cores: Delta's log replay in 2 tasks as the local
    # conf has it, not Delta's default of 50 (sized for a cluster's executors).
    small = {"spark.databricks.delta.snapshotPartitions": "2"}
    settings, env = run_conf(
        "kubernetes", root, clean_landing, {"shuffle_partitions": 4, "conf": small}
    )
    admin = cluster.client()
    worker = Client(cluster.server, _token(admin, AIRFLOW_NS, AIRFLOW_SA), cluster.ca_file)
    kubeconfig = worker.kubeconfig(root / "kubeconfig", AIRFLOW_SA)
    home = root / "airflow"
    migrate(settings, local_airflow_env(settings, home, base=env))
    return Deployment(cluster, root, root / "lake", settings, env, home, kubeconfig, local_settings)


@pytest.fixture(scope="module")
def first_run(deployment: Deployment) -> Submitted:
    return deployment.run(DAY)


def test_retail_daily_runs_every_spark_task_as_a_spark_application(first_run: Submitted) -> None:
    assert first_run.code == 0, first_run.log[-3000:]
    assert (first_run.emails, first_run.posts) == ([], [])
    jobs = sorted(
        " ".join(app["spec"]["arguments"][1:2] + app["spec"]["arguments"][5:])
        for app in first_run.applications
    )
    assert jobs == ["inventory", "promotions", "report", "sales 1-2", "sales 3-4", "sales-gold"]
    for app in first_run.applications:
        assert app["metadata"]["namespace"] == SPARK_NS
        assert app["spec"]["driver"]["labels"]["dag_id"] == "retail_daily"


def _walked(states: list[str], expected: list[str]) -> bool:
    """The states the operator wrote, up to the end it reached before the provider deleted the
    application: the provider deletes it once the driver pod has ended, which can come before
    the operator's last move (SUCCEEDING -> COMPLETED, FAILING -> FAILED), as in a cluster."""
    ending = {"COMPLETED": "SUCCEEDING", "FAILED": "FAILING"}
    stopped_one_short = (
        states == expected[:-1] and states != [] and states[-1] == ending.get(expected[-1])
    )
    return states == expected or stopped_one_short


def test_every_application_walks_the_operators_states_to_completed(first_run: Submitted) -> None:
    assert len(first_run.states) == 6
    for name, states in first_run.states.items():
        assert _walked(states, ["SUBMITTED", "RUNNING", "SUCCEEDING", "COMPLETED"]), (name, states)


def test_the_driver_log_reaches_the_airflow_task_log_through_the_api_server(
    first_run: Submitted,
) -> None:
    # The job's own log lines, read by Airflow from pods/log (the API server proxies the
    # node's kubelet), with the container's name as the provider prefixes it.
    assert "[spark-kubernetes-driver]" in first_run.log
    assert "wrote silver.sales_lines" in first_run.log


def test_applications_and_driver_pods_are_deleted_after_success(
    first_run: Submitted, deployment: Deployment
) -> None:
    admin = deployment.cluster.client()
    wait_until(
        lambda: admin.request("GET", f"/api/v1/namespaces/{SPARK_NS}/pods")["items"] == [],
        30,
        "driver pods collected",
    )
    apps = admin.request("GET", APPLICATIONS.format(namespace=SPARK_NS))
    assert apps["items"] == []
    node = admin.request("GET", f"/api/v1/nodes/{NODE}")
    assert node["metadata"]["name"] == NODE


def test_the_delta_tables_equal_an_independent_computation(
    first_run: Submitted, deployment: Deployment, clean_landing: Path
) -> None:
    assert_gold_equals_pandas(deployment.lake, clean_landing, DAY)


def test_a_failed_application_fails_the_task_and_alerts_with_the_jobs_reason(
    first_run: Submitted, deployment: Deployment, clean_landing: Path
) -> None:
    failed = deployment.run(NO_DATA_DAY)
    assert_shards_alerted_without_landing_data(failed, clean_landing, NO_DATA_DAY)
    # The Spark Operator's own words are in the task log too, and nothing is left behind.
    assert "driver container failed with ExitCode: 3, Reason: Error" in failed.log
    assert {app["spec"]["arguments"][-1] for app in failed.applications} == {"1-2", "3-4"}
    admin = deployment.cluster.client()
    assert admin.request("GET", APPLICATIONS.format(namespace=SPARK_NS))["items"] == []
    assert admin.request("GET", f"/api/v1/namespaces/{SPARK_NS}/pods")["items"] == []


# -- the failure paths: one run of the k8s_paths DAG (tests/k8s_paths.py) -------------------


K8S_DAGS = Path(__file__).parent / "k8s_dags"


def _python_driver(main_file: Path, arguments: list[str]) -> list[str]:
    """The `retailmax` CLI itself: the paths' jobs end before they would start Spark."""
    return [sys.executable, str(main_file), *arguments]


@dataclass
class PathsRun:
    run: Submitted
    tasks: dict[str, tuple[str, int]]  # task_id -> (state, try_number), from Airflow's DB
    alerts: dict[str, dict[str, Any]]  # task_id -> the webhook alert
    audit: list[dict[str, Any]]  # every call of Airflow's service account, both DAGs


@pytest.fixture(scope="module")
def paths(first_run: Submitted, deployment: Deployment) -> PathsRun:
    """k8s_paths once, after retail_daily (its report tasks read the gold of DAY)."""
    run = deployment.run(
        DAY,
        k8s_paths.DAG_ID,
        dags_folder=K8S_DAGS,
        scenario=k8s_paths.scenario,
        driver=_python_driver,
    )
    with sqlite3.connect(deployment.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ?",
            (k8s_paths.DAG_ID,),
        ).fetchall()
    alerts = {post["alert"]["task_id"]: post["alert"] for post in run.posts}
    calls = deployment.cluster.audited_calls(f"system:serviceaccount:{AIRFLOW_NS}:{AIRFLOW_SA}")
    # The provider's calls (the Kubernetes Python client), not this module's own with the
    # worker's token (test_a_real_airflow_token_is_refused_secrets_by_the_server).
    audit = [c for c in calls if not c.get("userAgent", "").startswith("Python-urllib")]
    return PathsRun(run, {t: (state, tries) for t, state, tries in rows}, alerts, audit)


def _states_of(paths: PathsRun, task_id: str) -> list[list[str]]:
    """The states of each application a task submitted, in submission order."""
    return [
        paths.run.states[app["metadata"]["name"]]
        for app in paths.run.applications
        if app["spec"]["driver"]["labels"]["task_id"] == task_id
    ]


def test_a_driver_failing_while_followed_fails_with_the_jobs_reason_not_a_403(
    paths: PathsRun, clean_landing: Path
) -> None:
    day = k8s_paths.NO_DATA_DAY
    assert paths.tasks["driver_fails"] == ("failed", 1)
    (states,) = _states_of(paths, "driver_fails")
    assert _walked(states, ["SUBMITTED", "RUNNING", "FAILING", "FAILED"]), states
    reason = (
        f"no landing data for sales on {day}: {clean_landing}/pos/sale_date={day} does not exist"
    )
    assert paths.alerts["driver_fails"]["reason"] == reason
    # The provider's cleanup labelled the failed driver pod, with the right to do so.
    patches = [
        c for c in paths.audit if c["verb"] == "patch" and c["objectRef"]["resource"] == "pods"
    ]
    assert patches and {c["responseStatus"]["code"] for c in patches} == {200}
    assert "403" not in paths.alerts["driver_fails"]["reason"]


def test_a_refused_driver_pod_fails_with_the_operators_submission_error(paths: PathsRun) -> None:
    assert paths.tasks["submission_fails"] == ("failed", 1)
    assert _states_of(paths, "submission_fails") == [["SUBMITTED", "SUBMISSION_FAILED"]]
    reason = paths.alerts["submission_fails"]["reason"]
    assert reason.startswith("SparkApplication retailmax-sales-"), reason
    assert "was not submitted: failed to run spark-submit: failed to create driver pod:" in reason
    assert f'serviceaccount "{k8s_paths.MISSING_ACCOUNT}" not found' in reason


def test_an_application_the_webhook_refuses_fails_with_the_webhooks_message(
    paths: PathsRun,
) -> None:
    assert paths.tasks["refused_by_webhook"] == ("failed", 1)
    assert _states_of(paths, "refused_by_webhook") == []  # never stored, never run
    reason = paths.alerts["refused_by_webhook"]["reason"]
    assert reason.startswith("SparkApplication retailmax-report-"), reason
    assert "was refused by the API server (HTTP 422): admission webhook" in reason
    assert (
        "denied the request: failed to validate resource quota: the application requests" in reason
    )
    assert "of requests.memory, ResourceQuota retailmax-spark has" in reason


def test_an_image_that_cannot_be_pulled_fails_the_task_with_the_kubelets_reason(
    paths: PathsRun,
) -> None:
    assert paths.tasks["image_pull_fails"] == ("failed", 1)
    assert _states_of(paths, "image_pull_fails") == [["SUBMITTED"]]
    reason = paths.alerts["image_pull_fails"]["reason"]
    assert reason.startswith("Spark Job Failed. Status: ErrImagePull, Error: failed to pull"), (
        reason
    )
    assert k8s_paths.MISSING_IMAGE in reason


def test_a_resubmitted_application_is_waited_for_and_completes(paths: PathsRun) -> None:
    assert paths.tasks["pending_rerun"] == ("success", 1)
    (states,) = _states_of(paths, "pending_rerun")
    expected = ["SUBMITTED", "PENDING_RERUN", "SUBMITTED", "RUNNING", "SUCCEEDING", "COMPLETED"]
    assert _walked(states, expected), states


def test_a_timed_out_task_deletes_its_running_application(paths: PathsRun) -> None:
    assert paths.tasks["timed_out"] == ("failed", 1)
    assert _states_of(paths, "timed_out") == [["SUBMITTED", "RUNNING"]]  # deleted running
    reason = paths.alerts["timed_out"]["reason"]
    assert reason.startswith(
        "timed out after 0:00:20 (the task's execution_timeout); SparkApplication retailmax-report-"
    ), reason
    assert reason.endswith(" deleted"), reason


def test_a_retry_after_a_failure_submits_a_new_application_and_succeeds(paths: PathsRun) -> None:
    assert paths.tasks[k8s_paths.RETRIED] == ("success", 2)
    first, second = _states_of(paths, k8s_paths.RETRIED)
    assert _walked(first, ["SUBMITTED", "RUNNING", "FAILING", "FAILED"]), first
    assert _walked(second, ["SUBMITTED", "RUNNING", "SUCCEEDING", "COMPLETED"]), second
    assert k8s_paths.RETRIED not in paths.alerts  # a retry is not a failure
    creates = [c for c in paths.audit if c["verb"] == "create"]
    assert {c["responseStatus"]["code"] for c in creates} <= {201, 422}  # no 409


def _worker_killed_while_running(
    deployment: Deployment, operator: SparkOperatorDouble, log: Path, how: signal.Signals
) -> list[str]:
    """`airflow tasks test` of k8s_reattach's task, sent `how` once its application runs; the
    command, to run it again."""
    env = deployment.airflow_env(K8S_DAGS)
    command = [AIRFLOW, "tasks", "test", k8s_paths.REATTACH_DAG_ID, k8s_paths.REATTACH, str(DAY)]
    with log.open("w") as out:
        worker = subprocess.Popen(
            command, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
        wait_until(
            lambda: [a.state for a in operator.applications.values()] == ["RUNNING"],
            180,
            "the application running",
        )
        os.killpg(worker.pid, how)
        worker.wait(120)
    return command


def test_a_worker_restart_reattaches_to_the_running_application(
    first_run: Submitted, deployment: Deployment
) -> None:
    """`airflow tasks test` of one task, killed (SIGKILL, as a lost worker pod) while its
    driver runs, then started again: it finds the driver by the task's labels and follows it
    to the end; no second application is submitted."""
    operator = deployment.operator("reattach", k8s_paths.scenario, _python_driver)
    first, second = (deployment.root / f"reattach-{n}.log" for n in (1, 2))
    with operator:
        command = _worker_killed_while_running(deployment, operator, first, signal.SIGKILL)
        with second.open("w") as out:
            restarted = subprocess.run(
                command, env=deployment.airflow_env(K8S_DAGS), stdout=out, stderr=subprocess.STDOUT
            )
        assert operator.errors == []
    log = second.read_text()
    assert restarted.returncode == 0, log[-3000:]
    assert "Reattaching to it" in log
    (app,) = operator.applications.values()
    assert _walked(app.states, ["SUBMITTED", "RUNNING", "SUCCEEDING", "COMPLETED"]), app.states
    # The driver's own lines, followed after reattaching.
    assert f"[spark-kubernetes-driver] report {DAY} (all stores) done" in log


def test_a_killed_task_deletes_its_application(
    first_run: Submitted, deployment: Deployment
) -> None:
    """SIGTERM to the task (a user marks it failed, or the worker pod is stopped): the
    operator's on_kill deletes the application, and its pods go with it."""
    operator = deployment.operator("killed", k8s_paths.scenario, _python_driver)
    log = deployment.root / "killed.log"
    with operator:
        _worker_killed_while_running(deployment, operator, log, signal.SIGTERM)
        wait_until(lambda: all(a.gone for a in operator.applications.values()), 30, "deleted")
        assert operator.errors == []
    (app,) = operator.applications.values()
    assert app.states == ["SUBMITTED", "RUNNING"]  # deleted while running
    assert "Deleting spark job for task reattach" in log.read_text()
    admin = deployment.cluster.client()
    assert admin.request("GET", APPLICATIONS.format(namespace=SPARK_NS))["items"] == []
    assert admin.request("GET", f"/api/v1/namespaces/{SPARK_NS}/pods")["items"] == []


def test_nothing_is_left_behind_by_any_path(paths: PathsRun, deployment: Deployment) -> None:
    admin = deployment.cluster.client()

    def pods() -> list[str]:
        listed = admin.request("GET", f"/api/v1/namespaces/{SPARK_NS}/pods")["items"]
        return [pod["metadata"]["name"] for pod in listed]

    left: list[str] = []

    def all_deleted() -> bool:
        left[:] = pods()
        return left == []

    try:
        wait_until(all_deleted, 30, "every driver and executor pod deleted")
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; still there: {left}") from None
    assert admin.request("GET", APPLICATIONS.format(namespace=SPARK_NS))["items"] == []
    maps = admin.request("GET", f"/api/v1/namespaces/{SPARK_NS}/configmaps")["items"]
    # (No controller manager runs here to publish kube-root-ca.crt: no config map at all.)
    assert [m["metadata"]["name"] for m in maps] == []


def _rules(path: Path, kind: str = "Role") -> set[tuple[str, str]]:
    """(verb, resource[/subresource]) of every rule of a Role file."""
    role = next(d for d in yaml.safe_load_all(path.read_text()) if d["kind"] == kind)
    return {(v, r) for rule in role["rules"] for r in rule["resources"] for v in rule["verbs"]}


def _used(calls: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {
        (
            c["verb"],
            c["objectRef"]["resource"]
            + (f"/{c['objectRef']['subresource']}" if c["objectRef"].get("subresource") else ""),
        )
        for c in calls
    }


def test_airflows_role_is_exactly_what_the_provider_called(paths: PathsRun) -> None:
    """The API server's audit log of both DAG runs: every call of Airflow's service account
    was allowed, and every right of its Role was used."""
    refused = [c for c in paths.audit if c["responseStatus"]["code"] == 403]
    assert refused == []
    assert {c["objectRef"]["namespace"] for c in paths.audit} == {SPARK_NS}
    granted, used = _rules(K8S_DIR / "base" / "airflow-rbac.yaml"), _used(paths.audit)
    assert used <= granted
    # The one right no path here exercises: the provider lists the driver pod's events only
    # while the pod is still Pending when it starts following it (await_pod_start).
    assert granted - used == {("list", "events")}


def test_the_driver_created_its_executors_with_its_own_rights(
    paths: PathsRun, deployment: Deployment
) -> None:
    calls = deployment.cluster.audited_calls(f"system:serviceaccount:{SPARK_NS}:{DRIVER_SA}")
    assert [c for c in calls if c["responseStatus"]["code"] >= 400] == []
    used = _used(calls)
    assert {
        ("create", "pods"),
        ("delete", "pods"),
        ("create", "configmaps"),
        ("list", "pods"),
    } <= used
    assert used <= _rules(K8S_DIR / "base" / "spark-rbac.yaml")
    for app in paths.run.applications:
        if app["spec"]["driver"]["labels"]["task_id"] != "submission_fails":  # its SA is wrong
            assert app["spec"]["executor"]["serviceAccount"] == DRIVER_SA


# -- start-up and teardown -------------------------------------------------------------------


def test_a_stopped_server_leaves_no_process_or_port_behind(tmp_path: Path) -> None:
    if reason := missing_tool():
        pytest.skip(reason)
    server = ApiServer(tmp_path / "apiserver")
    with server:
        ports = (server.kine_port, server.port)
        assert all(port_is_open(port) for port in ports)
        pids = [process.pid for process in server.processes]
    assert [process.poll() is not None for process in server.processes] == [True, True]
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert not any(port_is_open(port) for port in ports)
