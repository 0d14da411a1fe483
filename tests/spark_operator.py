"""A test controller playing the Spark Operator (and the rest of a one-node cluster) through a
real kube-apiserver, so that SparkKubernetesOperator's submit/watch/complete path, and the
paths a cluster takes when something goes wrong, run for real.

Who does what in a cluster, and what this does in their place:
- The Spark Operator (v2.5.1) walks each SparkApplication through its states (api/v1beta2):
  SUBMITTED -> RUNNING -> SUCCEEDING -> COMPLETED, or RUNNING -> FAILING -> FAILED with the
  operator's message ("driver container failed with ExitCode: N, Reason: Error"), or
  SUBMISSION_FAILED with the API server's refusal of the driver pod, or (Scenario)
  SUBMITTED -> PENDING_RERUN -> SUBMITTED when it replaces a submission. It creates the driver
  pod `<name>-driver` (labels, service account, security contexts, resources and env of
  spec.driver, owned by the application).
- Its validating webhook with resource quota enforcement (QuotaWebhook) refuses an
  application that does not fit in the namespace's quota, called by the API server over HTTPS.
- The scheduler binds the pod to the one node, `retailmax-test-node`.
- The kubelet reports the pod Pending (ContainerCreating, or ErrImagePull: Scenario) then
  Running, and runs the driver: here `command` (spark-submit of the same main file and
  arguments on local Spark, or the CLI itself); it reports the container's end, its
  termination message (what the job wrote to /dev/termination-log, here the file named by
  RETAILMAX_TERMINATION_LOG), an OOM kill (Scenario), and serves the container's log over
  HTTPS, which the API server proxies to Airflow (`kubectl logs`).
- Spark's driver, with the driver's own service account token, creates its executors' config
  map and pods (spec.executor, owned by the driver pod), lists them, and deletes them when it
  ends: the driver Role in actual use.
- The garbage collector deletes the pods once their SparkApplication is deleted.
- The quota controller recomputes the namespace's ResourceQuota usage from the pods that are
  not finished (admission only ever adds to it).

Every object goes through the API server, so its admission (Pod Security `restricted`,
ResourceQuota, LimitRange, ServiceAccount, the webhook) and RBAC apply as in a cluster.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from jobs.settings import PROJECT_ROOT
from tests.apiserver import ApiServer, Client, KubeError

NODE = "retailmax-test-node"
DRIVER_CONTAINER = "spark-kubernetes-driver"  # SparkKubernetesOperator follows this container
IMAGE_ROOT = "local:///opt/retailmax/"  # where the Dockerfile puts the project
APPLICATIONS = "/apis/sparkoperator.k8s.io/v1beta2/namespaces/{namespace}/sparkapplications"
MERGE = "application/merge-patch+json"
POLL_SECONDS = 0.5


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stamp() -> str:
    """A kubelet log timestamp (RFC 3339, nanoseconds)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


@dataclass(frozen=True)
class Scenario:
    """What the cluster does with one application besides running its driver.

    - `rerun_seconds`: the operator's first submission attempt is replaced
      (SUBMITTED -> PENDING_RERUN for that long -> SUBMITTED), as after a spec update or a
      submission retry, before the driver pod is created;
    - `image_pull_error`: the kubelet cannot pull the image; the container stays waiting with
      this reason (`ErrImagePull`) and the application stays SUBMITTED, as upstream;
    - `startup_seconds`: the running driver spends this long starting (its JVM and session)
      before the job's first line, as a real one does for about 10 s;
    - `oom_killed_after`: the kubelet kills the container after this long, as the kernel's
      OOM killer does at the memory limit (exit code 137, reason OOMKilled).
    """

    rerun_seconds: float = 0.0
    image_pull_error: str | None = None
    startup_seconds: float = 0.0
    oom_killed_after: float | None = None


NORMAL = Scenario()


@dataclass
class Driver:
    """One application's driver: its process, and its log as the kubelet keeps it."""

    application: str
    pod: str
    process: subprocess.Popen[str]
    termination_log: Path
    started: str
    lines: list[tuple[str, str]] = field(default_factory=list)
    ended: threading.Event = field(default_factory=threading.Event)
    reported: bool = False
    collected: bool = False
    oom_killed: bool = False
    executors: list[str] = field(default_factory=list)
    changed: threading.Condition = field(default_factory=threading.Condition)

    def read_output(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.changed:
                self.lines.append((_stamp(), line))
                self.changed.notify_all()
        self.process.wait()
        with self.changed:
            self.ended.set()
            self.changed.notify_all()


@dataclass
class Application:
    """The operator's view of one SparkApplication: its object, its scenario, its states."""

    name: str
    body: dict[str, Any]
    scenario: Scenario
    states: list[str] = field(default_factory=list)
    since: float = field(default_factory=time.monotonic)
    rerun_done: bool = False
    pods: list[str] = field(default_factory=list)  # the driver's, then its executors'
    config_maps: list[str] = field(default_factory=list)  # owned by the driver pod
    gone: bool = False

    @property
    def state(self) -> str:
        return self.states[-1] if self.states else ""


class SparkOperatorDouble:
    """Runs SparkApplications of one namespace; start() / stop(), or use as a context manager.

    `command(main_file, arguments)` is the local spark-submit command line of a driver, `env`
    its environment (the kubelet's part: the pod's plain `env` values are added to it);
    `scenario(application)` says what else the cluster does with it (NORMAL by default).

    The states each application went through are kept in `applications[name].states`:
    SUBMITTED -> RUNNING -> SUCCEEDING -> COMPLETED, or RUNNING -> FAILING -> FAILED (with the
    operator's "driver container failed with ExitCode: N, Reason: Error"), SUBMISSION_FAILED
    (the driver pod refused, with the API server's message), PENDING_RERUN (Scenario).
    """

    def __init__(
        self,
        server: ApiServer,
        namespace: str,
        workdir: Path,
        command: Callable[[Path, list[str]], list[str]],
        env: Mapping[str, str],
        scenario: Callable[[dict[str, Any]], Scenario] = lambda _: NORMAL,
    ) -> None:
        self.server = server
        self.api: Client = server.client()
        self.namespace = namespace
        self.workdir = workdir
        self.command = command
        self.env = dict(env)
        self.scenario = scenario
        self.applications: dict[str, Application] = {}
        self.drivers: dict[str, Driver] = {}
        self.refused: dict[str, str] = {}  # application -> why its driver pod was refused
        self.applications_seen: list[dict[str, Any]] = []
        self.errors: list[str] = []
        self._identities: dict[str, Client] = {}
        self._stop = threading.Event()
        self._loop = threading.Thread(target=self._run, name="spark-operator", daemon=True)
        self._kubelet = _kubelet(self)
        self.kubelet_port = self._kubelet.server_address[1]

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> SparkOperatorDouble:
        self.workdir.mkdir(parents=True, exist_ok=True)
        threading.Thread(target=self._kubelet.serve_forever, name="kubelet", daemon=True).start()
        self._register_node()
        self._loop.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._loop.is_alive():
            self._loop.join(30)
            self._reconcile()  # what happened since the last pass (e.g. a last deletion)
        for driver in self.drivers.values():
            _kill(driver.process)
            driver.process.wait(30)
        self._kubelet.shutdown()
        self._kubelet.server_close()

    def __enter__(self) -> SparkOperatorDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the node ----------------------------------------------------------------------------

    def _register_node(self) -> None:
        node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": NODE}}
        try:
            self.api.request("POST", "/api/v1/nodes", node)
        except KubeError as exc:
            if exc.status != 409:  # registered by an earlier run: its status is renewed below
                raise
        capacity = {"cpu": "64", "memory": "512Gi", "pods": "110"}
        status = {
            "addresses": [
                {"type": "InternalIP", "address": "127.0.0.1"},
                {"type": "Hostname", "address": NODE},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.kubelet_port}},
            "capacity": capacity,
            "allocatable": capacity,
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True",
                    "reason": "KubeletReady",
                    "message": "test kubelet (tests/spark_operator.py)",
                    "lastHeartbeatTime": _now(),
                    "lastTransitionTime": _now(),
                }
            ],
        }
        self.api.request(
            "PATCH", f"/api/v1/nodes/{NODE}/status", {"status": status}, content_type=MERGE
        )

    def _as(self, service_account: str) -> Client:
        """The API as a service account of the namespace (a token from the TokenRequest API,
        as mounted in a pod): what a driver does, it does with its own rights."""
        if service_account not in self._identities:
            request = {
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenRequest",
                "spec": {"expirationSeconds": 3600},
            }
            path = f"/api/v1/namespaces/{self.namespace}/serviceaccounts/{service_account}/token"
            token = self.api.request("POST", path, request)["status"]["token"]
            self._identities[service_account] = Client(
                self.server.server, token, self.server.ca_file
            )
        return self._identities[service_account]

    # -- the control loop --------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._reconcile()
            except Exception as exc:
                self.errors.append(f"{type(exc).__name__}: {exc}")
            self._stop.wait(POLL_SECONDS)

    def _reconcile(self) -> None:
        path = APPLICATIONS.format(namespace=self.namespace)
        present = {a["metadata"]["name"]: a for a in self.api.request("GET", path)["items"]}
        for name, body in present.items():
            if name not in self.applications:
                self.applications_seen.append(body)
                self.applications[name] = Application(name, body, self.scenario(body))
        changed = False
        for name, app in self.applications.items():
            if name not in present:
                if not app.gone:
                    self._collect(app)
                    app.gone = changed = True
                continue
            changed |= self._step(app)
        if changed:
            publish_quota_usage(self.api, self.namespace)

    def _step(self, app: Application) -> bool:
        """One move of the application's state machine; True when pods changed."""
        held = time.monotonic() - app.since
        scenario, state = app.scenario, app.state
        if state == "":
            self._submission(app, attempt=1)
        elif state == "SUBMITTED" and scenario.rerun_seconds and not app.rerun_done:
            self._set_state(app, "PENDING_RERUN")
        elif state == "PENDING_RERUN" and held >= scenario.rerun_seconds:
            app.rerun_done = True
            self._submission(app, attempt=2)
        elif state == "SUBMITTED" and not app.pods:
            return self._create_driver(app)
        elif state == "RUNNING" and self.drivers[app.name].ended.is_set():
            return self._driver_ended(app)
        elif state == "RUNNING" and scenario.oom_killed_after is not None:
            driver = self.drivers[app.name]
            if held >= scenario.oom_killed_after and not driver.oom_killed:
                driver.oom_killed = True
                _kill(driver.process)
        elif state in ("SUCCEEDING", "FAILING"):
            self._end(app)
        return False

    def _submission(self, app: Application, attempt: int) -> None:
        """A submission attempt of the operator: SUBMITTED, a new submission id."""
        self._set_state(
            app,
            "SUBMITTED",
            submissionID=str(uuid.uuid4()),
            submissionAttempts=attempt,
            lastSubmissionAttemptTime=_now(),
        )

    def _set_state(self, app: Application, state: str, **status: Any) -> None:
        application_state: dict[str, Any] = {"state": state}
        if "errorMessage" in status:
            application_state["errorMessage"] = status.pop("errorMessage")
        status.setdefault("driverInfo", {"podName": f"{app.name}-driver"})  # the CRD needs it
        path = APPLICATIONS.format(namespace=self.namespace)
        body = {"status": {"applicationState": application_state, **status}}
        self.api.request("PATCH", f"{path}/{app.name}/status", body, content_type=MERGE)
        app.states.append(state)
        app.since = time.monotonic()

    def _create_driver(self, app: Application) -> bool:
        """The operator's spark-submit creates the driver pod; the scheduler binds it; the
        kubelet pulls the image and starts the container (or cannot)."""
        name, spec = app.name, app.body["spec"]
        pod = f"{name}-driver"
        pods = f"/api/v1/namespaces/{self.namespace}/pods"
        try:
            self.api.request("POST", pods, driver_pod(app.body, pod))
        except KubeError as refused:  # e.g. over quota, not allowed by Pod Security, no SA
            self.refused[name] = refused.message
            self._set_state(
                app,
                "SUBMISSION_FAILED",
                errorMessage=f"failed to run spark-submit: failed to create driver pod: "
                f"{refused.message}",
            )
            return False
        app.pods.append(pod)
        self.api.request(
            "POST",
            f"{pods}/{pod}/binding",
            {
                "apiVersion": "v1",
                "kind": "Binding",
                "metadata": {"name": pod},
                "target": {"apiVersion": "v1", "kind": "Node", "name": NODE},
            },
        )
        waiting = {"reason": "ContainerCreating"}
        if app.scenario.image_pull_error:
            waiting = {
                "reason": "ErrImagePull",
                "message": f'failed to pull and unpack image "{spec["image"]}": '
                f"{app.scenario.image_pull_error}",
            }
        self._pod_status(
            pod,
            {
                "phase": "Pending",
                "hostIP": "127.0.0.1",
                "conditions": [{"type": "PodScheduled", "status": "True"}],
                "containerStatuses": [_container(spec, ready=False, state={"waiting": waiting})],
            },
        )
        if not app.scenario.image_pull_error:
            self._start_driver(app, pod)
        return True

    def _start_driver(self, app: Application, pod: str) -> None:
        spec = app.body["spec"]
        main_file = PROJECT_ROOT / spec["mainApplicationFile"].removeprefix(IMAGE_ROOT)
        termination_log = self.workdir / f"{pod}.termination-log"
        termination_log.touch()  # as the kubelet mounts /dev/termination-log
        env = {**self.env, **_plain_env(spec["driver"].get("env", []))}
        env["RETAILMAX_TERMINATION_LOG"] = str(termination_log)
        command = self.command(main_file, list(spec.get("arguments", [])))
        if app.scenario.startup_seconds:
            command = [
                "sh",
                "-c",
                'sleep "$0" && exec "$@"',
                str(app.scenario.startup_seconds),
                *command,
            ]
        process = subprocess.Popen(
            command,
            start_new_session=True,  # a container: killing it kills every process in it
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        driver = Driver(app.name, pod, process, termination_log, _now())
        self.drivers[app.name] = driver
        threading.Thread(target=driver.read_output, name=f"log-{pod}", daemon=True).start()
        self._pod_status(
            pod,
            {
                "phase": "Running",
                "podIP": "127.0.0.1",
                "startTime": driver.started,
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    _container(spec, ready=True, state={"running": {"startedAt": driver.started}})
                ],
            },
        )
        self._set_state(
            app,
            "RUNNING",
            sparkApplicationId=f"spark-{uuid.uuid4().hex}",
            driverInfo={"podName": pod},
        )
        self._create_executors(app, driver)

    def _create_executors(self, app: Application, driver: Driver) -> None:
        """What Spark's driver does on Kubernetes, with the driver's service account: its
        executors' config map and pods (spec.executor), owned by the driver pod."""
        spec = app.body["spec"]
        api = self._as(spec["driver"]["serviceAccount"])
        base = f"/api/v1/namespaces/{self.namespace}"
        owner = api.request("GET", f"{base}/pods/{driver.pod}")
        name = f"{app.name}-exec-conf-map"
        config_map = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "ownerReferences": [_owner(owner)]},
            "data": {"spark.properties": "spark.kubernetes.executor.podNamePrefix=" + app.name},
        }
        api.request("POST", f"{base}/configmaps", config_map)
        app.config_maps.append(name)
        for number in range(1, int(spec["executor"].get("instances", 1)) + 1):
            pod = executor_pod(app.body, owner, number)
            api.request("POST", f"{base}/pods", pod)
            driver.executors.append(pod["metadata"]["name"])
            app.pods.append(pod["metadata"]["name"])
        # The driver's executor watch: its own pods by label, as the allocator lists them.
        listed = api.request(
            "GET",
            f"{base}/pods",
            params={"labelSelector": f"spark-app-name={app.name},spark-role=executor"},
        )
        assert len(listed["items"]) == len(driver.executors), listed

    def _driver_ended(self, app: Application) -> bool:
        """The kubelet reports the container's end; the driver has deleted its executors (with
        its own rights) on the way out; the operator moves to SUCCEEDING / FAILING."""
        driver = self.drivers[app.name]
        spec = app.body["spec"]
        api = self._as(spec["driver"]["serviceAccount"])
        base = f"/api/v1/namespaces/{self.namespace}"
        for pod in driver.executors:
            api.request("DELETE", f"{base}/pods/{pod}")
        for name in app.config_maps:
            api.request("DELETE", f"{base}/configmaps/{name}")
        app.config_maps.clear()
        code = 137 if driver.oom_killed else driver.process.returncode
        failed = code != 0
        reason = "OOMKilled" if driver.oom_killed else "Error" if failed else "Completed"
        terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": driver.started,
            "finishedAt": _now(),
        }
        if message := driver.termination_log.read_text().strip():
            terminated["message"] = message
        self._pod_status(
            driver.pod,
            {
                "phase": "Failed" if failed else "Succeeded",
                "conditions": [{"type": "Ready", "status": "False"}],
                "containerStatuses": [
                    _container(spec, ready=False, state={"terminated": terminated})
                ],
            },
        )
        self._set_state(app, "FAILING" if failed else "SUCCEEDING")
        with driver.changed:
            driver.reported = True
            driver.changed.notify_all()
        return True

    def _end(self, app: Application) -> None:
        driver = self.drivers[app.name]
        code = 137 if driver.oom_killed else driver.process.returncode
        reason = "OOMKilled" if driver.oom_killed else "Error"
        if app.state == "FAILING":
            self._set_state(
                app,
                "FAILED",
                errorMessage=f"driver container failed with ExitCode: {code}, Reason: {reason}",
                terminationTime=_now(),
            )
        else:
            self._set_state(app, "COMPLETED", terminationTime=_now())

    def _pod_status(self, pod: str, status: dict[str, Any]) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod}/status"
        self.api.request("PATCH", path, {"status": status}, content_type=MERGE)

    def _collect(self, app: Application) -> None:
        """The garbage collector's part: the application is gone, so are its pods (a graceful
        deletion); then the kubelet's: it stops the containers and confirms (grace period 0),
        without which a pod bound to a node stays Terminating."""
        driver = self.drivers.get(app.name)
        if driver is not None:
            _kill(driver.process)
            driver.collected = True
        base = f"/api/v1/namespaces/{self.namespace}"
        for name in app.config_maps:  # owned by the driver pod
            with contextlib.suppress(KubeError):
                self.api.request("DELETE", f"{base}/configmaps/{name}")
        for pod in app.pods:
            for params in (None, {"gracePeriodSeconds": "0"}):
                try:
                    self.api.request("DELETE", f"{base}/pods/{pod}", params=params)
                except KubeError as exc:
                    if exc.status != 404:
                        raise
                    break


def _kill(process: subprocess.Popen[str]) -> None:
    """SIGKILL to the driver's whole process group, as the kubelet stops a container."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)


def _owner(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": obj.get("apiVersion", "v1"),
        "kind": obj.get("kind", "Pod"),
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
    }


def publish_quota_usage(api: Client, namespace: str) -> None:
    """The quota controller's part: every ResourceQuota's usage from the unfinished pods."""
    pods = api.request("GET", f"/api/v1/namespaces/{namespace}/pods")["items"]
    live = [p for p in pods if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")]
    totals = {"pods": float(len(live))}
    for pod in live:
        for container in pod["spec"]["containers"]:
            for kind in ("requests", "limits"):
                for resource, value in container.get("resources", {}).get(kind, {}).items():
                    key = f"{kind}.{resource}"
                    totals[key] = totals.get(key, 0.0) + _quantity(str(value))
    path = f"/api/v1/namespaces/{namespace}/resourcequotas"
    for quota in api.request("GET", path)["items"]:
        hard = quota["spec"]["hard"]
        used = {key: _format(key, totals.get(key, 0.0)) for key in hard}
        api.request(
            "PATCH",
            f"{path}/{quota['metadata']['name']}/status",
            {"status": {"hard": hard, "used": used}},
            content_type=MERGE,
        )


_SUFFIXES = {
    "m": 1e-3,
    "k": 1e3,
    "M": 1e6,
    "G": 1e9,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def _quantity(text: str) -> float:
    """A Kubernetes quantity (`500m`, `2`, `4505Mi`, `1Gi`) as a number (cores, bytes)."""
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if text.endswith(suffix):
            return float(text[: -len(suffix)]) * _SUFFIXES[suffix]
    return float(text)


def _format(key: str, value: float) -> str:
    if key.endswith("memory"):
        return f"{round(value / 2**20)}Mi"
    if key.endswith("cpu"):
        return f"{round(value * 1000)}m"
    return str(round(value))


def _plain_env(env: list[dict[str, Any]]) -> dict[str, str]:
    """The literal env values of a container (secretKeyRef ones need the cluster's Secret)."""
    return {item["name"]: str(item["value"]) for item in env if "value" in item}


def _container(spec: dict[str, Any], *, ready: bool, state: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": DRIVER_CONTAINER,
        "image": spec["image"],
        "imageID": "",
        "ready": ready,
        "started": ready,
        "restartCount": 0,
        "state": state,
    }


def driver_pod(application: dict[str, Any], name: str) -> dict[str, Any]:
    """The driver pod the Spark Operator creates from spec.driver (v2.5.1's labels), owned by
    the application."""
    meta, spec = application["metadata"], application["spec"]
    owner = {
        "apiVersion": application["apiVersion"],
        "kind": "SparkApplication",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
    }
    args = ["driver", spec["mainApplicationFile"], *spec.get("arguments", [])]
    return _spark_pod(application, name, "driver", owner, args)


def executor_pod(
    application: dict[str, Any], driver: dict[str, Any], number: int
) -> dict[str, Any]:
    """An executor pod as Spark's driver creates it from spec.executor, owned by the driver."""
    name = f"{application['metadata']['name']}-exec-{number}"
    pod = _spark_pod(application, name, "executor", _owner(driver), ["executor"])
    pod["metadata"]["labels"]["spark-exec-id"] = str(number)
    return pod


def _spark_pod(
    application: dict[str, Any], name: str, role: str, owner: dict[str, Any], args: list[str]
) -> dict[str, Any]:
    meta, spec = application["metadata"], application["spec"]
    component = spec[role]
    labels = {
        **component.get("labels", {}),
        "spark-role": role,
        "spark-app-name": meta["name"],
        "sparkoperator.k8s.io/app-name": meta["name"],
        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
    }
    cores = str(component.get("coreLimit") or component.get("cores", 1))
    memory = _pod_memory(str(component.get("memory", "1g")))
    mounts = component.get("volumeMounts", [])
    mounted = {mount["name"] for mount in mounts}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels, "ownerReferences": [owner]},
        "spec": {
            # Without spec.<role>.serviceAccount a pod runs as the namespace's `default`.
            "serviceAccountName": component.get("serviceAccount", "default"),
            "restartPolicy": "Never",
            "securityContext": component.get("podSecurityContext", {}),
            "volumes": [v for v in spec.get("volumes", []) if v["name"] in mounted],
            "containers": [
                {
                    "name": DRIVER_CONTAINER if role == "driver" else "spark-kubernetes-executor",
                    "image": spec["image"],
                    "args": args,
                    "env": component.get("env", []),
                    "resources": {
                        "requests": {"cpu": str(component.get("cores", 1)), "memory": memory},
                        "limits": {"cpu": cores, "memory": memory},
                    },
                    "securityContext": component.get("securityContext", {}),
                    "volumeMounts": mounts,
                }
            ],
        },
    }


def _pod_memory(spark_memory: str) -> str:
    """Spark's `4g` as the pod's quantity, plus Spark's 10% overhead (at least 384 MiB)."""
    units = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
    mebibytes = float(spark_memory[:-1]) * units[spark_memory[-1].lower()]
    return f"{int(mebibytes + max(384, mebibytes * 0.10))}Mi"


def _kubelet(operator: SparkOperatorDouble) -> ThreadingHTTPServer:
    """The node's kubelet log endpoint over HTTPS, as the API server reaches it for pods/log."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.0"  # the stream ends when the connection closes

        def log_message(self, _format: str, *_args: Any) -> None:
            return

        def do_GET(self) -> None:
            url = urllib.parse.urlsplit(self.path)
            parts = url.path.strip("/").split("/")
            query = urllib.parse.parse_qs(url.query)
            driver = next(
                (
                    d
                    for d in operator.drivers.values()
                    if parts[:3] == ["containerLogs", operator.namespace, d.pod]
                ),
                None,
            )
            if driver is None or parts[3:] != [DRIVER_CONTAINER]:
                self.send_error(404, "no such container")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            follow = query.get("follow", ["false"])[0] == "true"
            stamps = query.get("timestamps", ["false"])[0] == "true"
            since = query.get("sinceTime", [""])[0]
            sent = 0
            while True:
                with driver.changed:
                    if follow and sent == len(driver.lines) and not driver.reported:
                        driver.changed.wait(1)
                    batch = driver.lines[sent:]
                    sent = len(driver.lines)
                    # A followed log ends once the container's end is in the pod's status.
                    done = driver.reported and sent == len(driver.lines)
                for stamp, text in batch:
                    if since and stamp[:19] < since[:19]:
                        continue
                    self.wfile.write(((f"{stamp} " if stamps else "") + text).encode())
                self.wfile.flush()
                if not follow or done or operator._stop.is_set():
                    return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    pki = operator.server.workdir / "pki"
    context.load_cert_chain(pki / "apiserver.crt", pki / "apiserver.key")
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.daemon_threads = True
    return server


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not after {timeout:.0f} s")
        time.sleep(0.2)


# -- the Spark Operator's admission webhook ----------------------------------------------------

WEBHOOK_NAME = "validate-sparkapplication.sparkoperator.k8s.io"


class QuotaWebhook:
    """The Spark Operator's validating webhook with resource quota enforcement
    (`webhook.resourceQuotaEnforcement.enable` in its chart): a SparkApplication whose driver
    and initial executors do not fit in what the namespace's ResourceQuotas have left is
    refused at creation, with the webhook's message.

    Served over HTTPS on 127.0.0.1 (its own self-signed certificate, given to the API server as
    the caBundle) and registered as a ValidatingWebhookConfiguration: the API server calls it
    for every SparkApplication created in `namespace`, as in a cluster.
    """

    def __init__(self, server: ApiServer, namespace: str) -> None:
        self.api = server.client()
        self.namespace = namespace
        self.workdir = server.workdir / "webhook"
        self.refusals: list[str] = []
        cert, key = _self_signed_certificate(self.workdir)
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self._http.socket = context.wrap_socket(self._http.socket, server_side=True)
        self._http.daemon_threads = True
        self._ca = base64.b64encode(cert.read_bytes()).decode()

    def start(self) -> QuotaWebhook:
        threading.Thread(target=self._http.serve_forever, name="webhook", daemon=True).start()
        port = self._http.server_address[1]
        self.api.apply(
            {
                "apiVersion": "admissionregistration.k8s.io/v1",
                "kind": "ValidatingWebhookConfiguration",
                "metadata": {"name": "spark-operator-webhook"},
                "webhooks": [
                    {
                        "name": WEBHOOK_NAME,
                        "clientConfig": {
                            "url": f"https://127.0.0.1:{port}/validate-sparkapplication",
                            "caBundle": self._ca,
                        },
                        "rules": [
                            {
                                "apiGroups": ["sparkoperator.k8s.io"],
                                "apiVersions": ["v1beta2"],
                                "operations": ["CREATE"],
                                "resources": ["sparkapplications"],
                            }
                        ],
                        "namespaceSelector": {
                            "matchLabels": {"kubernetes.io/metadata.name": self.namespace}
                        },
                        "failurePolicy": "Fail",
                        "sideEffects": "None",
                        "admissionReviewVersions": ["v1"],
                        "timeoutSeconds": 10,
                    }
                ],
            }
        )
        return self

    def stop(self) -> None:
        path = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        with contextlib.suppress(KubeError):
            self.api.request("DELETE", f"{path}/spark-operator-webhook")
        self._http.shutdown()
        self._http.server_close()

    def refusal(self, application: dict[str, Any]) -> str | None:
        """Why the application does not fit, or None."""
        wanted = application_requests(application)
        path = f"/api/v1/namespaces/{self.namespace}/resourcequotas"
        for quota in self.api.request("GET", path)["items"]:
            hard, used = quota["spec"]["hard"], quota.get("status", {}).get("used", {})
            for key, asked in wanted.items():
                if key not in hard:
                    continue
                left = _quantity(hard[key]) - _quantity(used.get(key, "0"))
                if asked > left:
                    return (
                        f"failed to validate resource quota: the application requests "
                        f"{_format(key, asked)} of {key}, ResourceQuota "
                        f"{quota['metadata']['name']} has {_format(key, left)} left "
                        f"of {hard[key]}"
                    )
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        webhook = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, _format: str, *_args: Any) -> None:
                return

            def do_POST(self) -> None:
                review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                request = review["request"]
                why = webhook.refusal(request["object"])
                response: dict[str, Any] = {"uid": request["uid"], "allowed": why is None}
                if why is not None:
                    webhook.refusals.append(why)
                    response["status"] = {"code": 422, "message": why}
                body = json.dumps(
                    {
                        "apiVersion": "admission.k8s.io/v1",
                        "kind": "AdmissionReview",
                        "response": response,
                    }
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


def application_requests(application: dict[str, Any]) -> dict[str, float]:
    """What the driver pod and the initial executor pods of an application request."""
    spec = application["spec"]
    totals = {"pods": 0.0, "requests.cpu": 0.0, "requests.memory": 0.0}
    executors = int(spec["executor"].get("instances", 1))
    for role, count in (("driver", 1), ("executor", executors)):
        component = spec[role]
        totals["pods"] += count
        totals["requests.cpu"] += count * float(component.get("cores", 1))
        totals["requests.memory"] += count * _quantity(
            _pod_memory(str(component.get("memory", "1g")))
        )
    return totals


def _self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 (its own CA) and its key, as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "spark-operator-webhook")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "webhook.crt", directory / "webhook.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path
