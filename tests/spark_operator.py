"""A test controller playing the Spark Operator (and the rest of a one-node cluster) through a
real kube-apiserver, so that SparkKubernetesOperator's submit/watch/complete path runs for real.

Who does what in a cluster, and what this does in their place:
- The Spark Operator (v2.5.1) sees a new SparkApplication: state SUBMITTED, creates the driver
  pod `<name>-driver` (labels, service account, security contexts, resources and env of
  spec.driver, owned by the application), then RUNNING, and COMPLETED or FAILED when the
  driver ends, with the error message the operator writes
  ("driver container failed with ExitCode: N, Reason: Error").
- The scheduler binds the pod to the one node, `retailmax-test-node`.
- The kubelet runs the driver: here `spark-submit` of the same main file and arguments on
  local Spark (the same job, the same Delta tables); it reports the container's states, its
  termination message (what the job wrote to /dev/termination-log, here the file named by
  RETAILMAX_TERMINATION_LOG), and serves the container's log over HTTPS, which the API server
  proxies to Airflow (`kubectl logs`).
- The garbage collector deletes the driver pod once its SparkApplication is deleted.
- The quota controller recomputes the namespace's ResourceQuota usage from the pods that are
  not finished (admission only ever adds to it).

Every object goes through the API server, so its admission (Pod Security `restricted`,
ResourceQuota, LimitRange, ServiceAccount) and RBAC apply as in a cluster.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
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


class SparkOperatorDouble:
    """Runs SparkApplications of one namespace; start() / stop(), or use as a context manager.

    `command(main_file, arguments)` is the local spark-submit command line of a driver, `env`
    its environment (the kubelet's part: the pod's plain `env` values are added to it).
    """

    def __init__(
        self,
        server: ApiServer,
        namespace: str,
        workdir: Path,
        command: Callable[[Path, list[str]], list[str]],
        env: Mapping[str, str],
    ) -> None:
        self.server = server
        self.api: Client = server.client()
        self.namespace = namespace
        self.workdir = workdir
        self.command = command
        self.env = dict(env)
        self.drivers: dict[str, Driver] = {}
        self.refused: dict[str, str] = {}  # application -> why its driver pod was refused
        self.applications_seen: list[dict[str, Any]] = []
        self.errors: list[str] = []
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
            if driver.process.poll() is None:
                driver.process.kill()
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
        capacity = {"cpu": "8", "memory": "64Gi", "pods": "110"}
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
        applications = {a["metadata"]["name"]: a for a in self.api.request("GET", path)["items"]}
        for name, application in applications.items():
            if name not in self.drivers and name not in self.refused:
                self.applications_seen.append(application)
                self._submit(application)
        changed = False
        for name, driver in self.drivers.items():
            if driver.ended.is_set() and not driver.reported and name in applications:
                self._finish(driver)
                changed = True
            if name not in applications and not driver.collected:
                self._collect(driver)
                changed = True
        if changed:
            publish_quota_usage(self.api, self.namespace)

    def _status(self, name: str, status: dict[str, Any]) -> None:
        path = APPLICATIONS.format(namespace=self.namespace)
        self.api.request("PATCH", f"{path}/{name}/status", {"status": status}, content_type=MERGE)

    def _submit(self, application: dict[str, Any]) -> None:
        name = application["metadata"]["name"]
        pod = f"{name}-driver"
        self._status(
            name,
            {
                "applicationState": {"state": "SUBMITTED"},
                "submissionID": str(uuid.uuid4()),
                "submissionAttempts": 1,
                "lastSubmissionAttemptTime": _now(),
                "driverInfo": {"podName": pod},
            },
        )
        pods = f"/api/v1/namespaces/{self.namespace}/pods"
        try:
            self.api.request("POST", pods, driver_pod(application, pod))
        except KubeError as refused:  # e.g. over quota, or not allowed by Pod Security
            self.refused[name] = refused.message
            state = {"state": "SUBMISSION_FAILED", "errorMessage": refused.message}
            self._status(name, {"applicationState": state})
            return
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
        spec = application["spec"]
        main_file = PROJECT_ROOT / spec["mainApplicationFile"].removeprefix(IMAGE_ROOT)
        termination_log = self.workdir / f"{pod}.termination-log"
        termination_log.touch()  # as the kubelet mounts /dev/termination-log
        env = {**self.env, **_plain_env(spec["driver"].get("env", []))}
        env["RETAILMAX_TERMINATION_LOG"] = str(termination_log)
        process = subprocess.Popen(
            self.command(main_file, list(spec.get("arguments", []))),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        driver = Driver(name, pod, process, termination_log, _now())
        self.drivers[name] = driver
        threading.Thread(target=driver.read_output, name=f"log-{pod}", daemon=True).start()
        self._pod_status(
            pod,
            {
                "phase": "Running",
                "hostIP": "127.0.0.1",
                "podIP": "127.0.0.1",
                "startTime": driver.started,
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [
                    _container(spec, ready=True, state={"running": {"startedAt": driver.started}})
                ],
            },
        )
        self._status(
            name,
            {
                "applicationState": {"state": "RUNNING"},
                "sparkApplicationId": f"spark-{uuid.uuid4().hex}",
                "driverInfo": {"podName": pod},
            },
        )

    def _pod_status(self, pod: str, status: dict[str, Any]) -> None:
        path = f"/api/v1/namespaces/{self.namespace}/pods/{pod}/status"
        self.api.request("PATCH", path, {"status": status}, content_type=MERGE)

    def _finish(self, driver: Driver) -> None:
        code = driver.process.returncode
        failed = code != 0
        reason = "Error" if failed else "Completed"
        terminated = {
            "exitCode": code,
            "reason": reason,
            "startedAt": driver.started,
            "finishedAt": _now(),
        }
        if message := driver.termination_log.read_text().strip():
            terminated["message"] = message
        spec = next(
            a["spec"] for a in self.applications_seen if a["metadata"]["name"] == driver.application
        )
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
        state: dict[str, Any] = {"state": "FAILED" if failed else "COMPLETED"}
        if failed:
            state["errorMessage"] = (
                f"driver container failed with ExitCode: {code}, Reason: {reason}"
            )
        self._status(driver.application, {"applicationState": state, "terminationTime": _now()})
        with driver.changed:
            driver.reported = True
            driver.changed.notify_all()

    def _collect(self, driver: Driver) -> None:
        """The garbage collector's part: the application is gone, so is its driver pod."""
        if driver.process.poll() is None:
            driver.process.kill()
        try:
            self.api.request("DELETE", f"/api/v1/namespaces/{self.namespace}/pods/{driver.pod}")
        except KubeError as exc:
            if exc.status != 404:
                raise
        driver.collected = True


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
    """The driver pod the Spark Operator creates from spec.driver (v2.5.1's labels)."""
    meta, spec = application["metadata"], application["spec"]
    driver = spec["driver"]
    labels = {
        **driver.get("labels", {}),
        "spark-role": "driver",
        "spark-app-name": meta["name"],
        "sparkoperator.k8s.io/app-name": meta["name"],
        "sparkoperator.k8s.io/launched-by-spark-operator": "true",
    }
    cores = str(driver.get("coreLimit") or driver.get("cores", 1))
    memory = _pod_memory(str(driver.get("memory", "1g")))
    mounts = driver.get("volumeMounts", [])
    mounted = {mount["name"] for mount in mounts}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "labels": labels,
            "ownerReferences": [
                {
                    "apiVersion": application["apiVersion"],
                    "kind": "SparkApplication",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                }
            ],
        },
        "spec": {
            "serviceAccountName": driver["serviceAccount"],
            "restartPolicy": "Never",
            "securityContext": driver.get("podSecurityContext", {}),
            "volumes": [v for v in spec.get("volumes", []) if v["name"] in mounted],
            "containers": [
                {
                    "name": DRIVER_CONTAINER,
                    "image": spec["image"],
                    "args": ["driver", spec["mainApplicationFile"], *spec.get("arguments", [])],
                    "env": driver.get("env", []),
                    "resources": {
                        "requests": {"cpu": str(driver.get("cores", 1)), "memory": memory},
                        "limits": {"cpu": cores, "memory": memory},
                    },
                    "securityContext": driver.get("securityContext", {}),
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
