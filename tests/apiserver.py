"""A real kube-apiserver on 127.0.0.1 for the `k8s` tests, built from the Go module proxy.

- kube-apiserver: a wrapper go.mod requires k8s.io/kubernetes at `kube_apiserver` of
  k8s/versions.yaml; that module's `./staging/src/k8s.io/*` replace lines become the published
  `k8s.io/* v0.<minor>.<patch>` of the same release. Built once, with kine (6-10 minutes cold
  on two cores; tests.kube.go_build_flags), cached outside the repository by version and
  reused; the version is stamped in.
- kine (SQLite) is its storage instead of etcd (`go install github.com/k3s-io/kine@<kine>`).
- Everything listens on 127.0.0.1 only; stop() ends both processes and frees the ports.

No controller manager, scheduler or kubelet runs: tests/spark_operator.py plays the parts
they and the Spark Operator would play, through this API server.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import yaml

from tests.kube import CACHE, VERSIONS, GoToolError, go_build_flags, run_go

KUBERNETES_MODULE = "k8s.io/kubernetes"
KINE_MODULE = "github.com/k3s-io/kine"
ADMIN_TOKEN = "retailmax-test-admin"  # group system:masters, this test server only
READY_TIMEOUT = 180.0
STOP_TIMEOUT = 20.0
THROTTLE_RETRIES = 10
_STAGING = re.compile(r"^\s*(k8s\.io/[\w.-]+) => \./staging/src/\1\s*$")


class ApiServerError(RuntimeError):
    """The API server could not be built or started; says which and why in one line (a failed
    `go` command raises tests.kube.GoToolError instead)."""


def wrapper_go_mod(upstream: str, version: str) -> str:
    """The go.mod that builds k8s.io/kubernetes@version from published modules only."""
    staging_version = "v0." + version.removeprefix("v1.")
    go_line = next(line for line in upstream.splitlines() if line.startswith("go "))
    modules = sorted({m.group(1) for line in upstream.splitlines() if (m := _STAGING.match(line))})
    if not modules:
        raise ApiServerError(f"{KUBERNETES_MODULE}@{version}: no ./staging replace lines found")
    replaces = "\n".join(f"\t{m} => {m} {staging_version}" for m in modules)
    return (
        "module retailmax.local/kube-apiserver-build\n\n"
        f"{go_line}\n\nrequire {KUBERNETES_MODULE} {version}\n\nreplace (\n{replaces}\n)\n"
    )


def _stamped_version(binary: Path) -> str:
    result = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    return result.stdout.strip()


def kube_apiserver_binary() -> Path:
    """kube-apiserver at the pinned release: from the cache, else built into it."""
    version = VERSIONS["kube_apiserver"]
    binary = CACHE / "bin" / f"kube-apiserver-{version}"
    if binary.is_file() and _stamped_version(binary) == f"Kubernetes {version}":
        return binary
    build = CACHE / "build" / f"kube-apiserver-{version}"
    build.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOFLAGS": "-mod=mod"}
    what = f"building kube-apiserver {version}"
    info = json.loads(
        run_go(
            ["mod", "download", "-json", f"{KUBERNETES_MODULE}@{version}"],
            what=what,
            cwd=build,
            env=env,
        )
    )
    (build / "go.mod").write_text(wrapper_go_mod(Path(info["GoMod"]).read_text(), version))
    major, minor = version.removeprefix("v").split(".")[:2]
    stamp = {
        "gitVersion": version,
        "gitMajor": major,
        "gitMinor": minor,
        "gitTreeState": "clean",
    }
    ldflags = [f"-X k8s.io/component-base/version.{k}={v}" for k, v in stamp.items()]
    partial = binary.with_name(binary.name + ".partial")
    binary.parent.mkdir(parents=True, exist_ok=True)
    target = f"{KUBERNETES_MODULE}/cmd/kube-apiserver"
    build_args = ["build", *go_build_flags(*ldflags), "-o", str(partial), target]
    run_go(build_args, what=what, cwd=build, env=env)
    partial.replace(binary)  # a build cut short never leaves a binary behind
    return binary


def kine_binary() -> Path:
    """kine at the pinned version: from the cache, else `go install`ed into it."""
    version = VERSIONS["kine"]
    binary = CACHE / "bin" / f"kine-{version}"
    if binary.is_file():
        return binary
    build = CACHE / "build" / f"kine-{version}"
    build.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GOBIN": str(build), "CGO_ENABLED": "1"}
    what = f"building kine {version}"
    run_go(
        ["install", *go_build_flags(), f"{KINE_MODULE}@{version}"], what=what, cwd=build, env=env
    )
    binary.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(build / "kine"), binary)
    return binary


def missing_tool() -> str | None:
    """Why the API server cannot run here (no Go toolchain and nothing cached), else None."""
    cached = all(
        (CACHE / "bin" / f"{name}-{VERSIONS[key]}").is_file()
        for name, key in (("kube-apiserver", "kube_apiserver"), ("kine", "kine"))
    )
    if cached or shutil.which("go"):
        return None
    return "no Go toolchain (go) to build kube-apiserver and kine, and none cached"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_is_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


class KubeError(RuntimeError):
    """An API call refused: the HTTP status and the server's own message."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status
        self.message = message


@dataclass
class Client:
    """A small REST client for one identity (a bearer token)."""

    server: str
    token: str
    ca_file: Path

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        params: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> Any:
        url = self.server + path + ("?" + urllib.parse.urlencode(params) if params else "")
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)
        request.add_header("Authorization", f"Bearer {self.token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", content_type)
        context = ssl.create_default_context(cafile=str(self.ca_file))
        for attempt in range(THROTTLE_RETRIES + 1):
            try:
                with urllib.request.urlopen(request, context=context, timeout=30) as response:
                    text = response.read().decode()
                break
            except urllib.error.HTTPError as error:
                detail = error.read().decode()
                # 429 (e.g. "storage is (re)initializing" just after a CRD is created): wait
                # as the server asks and try again, as client-go does.
                if error.code == 429 and attempt < THROTTLE_RETRIES:
                    time.sleep(float(error.headers.get("Retry-After") or 1))
                    continue
                try:
                    message = json.loads(detail).get("message", detail)
                except ValueError:
                    message = detail
                raise KubeError(error.code, message) from None
        return json.loads(text) if text.startswith(("{", "[")) else text

    def resource_path(self, api_version: str, kind: str, namespace: str | None = None) -> str:
        """The collection path of a kind, found by discovery (namespaced or not)."""
        base = f"/api/{api_version}" if "/" not in api_version else f"/apis/{api_version}"
        listing = self.request("GET", base)
        resource = next(
            (r for r in listing["resources"] if r["kind"] == kind and "/" not in r["name"]), None
        )
        if resource is None:
            raise KubeError(404, f"the server has no kind {kind} in {api_version}")
        if resource["namespaced"]:
            return f"{base}/namespaces/{namespace or 'default'}/{resource['name']}"
        return f"{base}/{resource['name']}"

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False) -> Any:
        """Server-side apply with strict field validation (an unknown field is refused)."""
        meta = obj["metadata"]
        path = self.resource_path(obj["apiVersion"], obj["kind"], meta.get("namespace"))
        params = {"fieldManager": "retailmax", "fieldValidation": "Strict", "force": "true"}
        if dry_run:
            params["dryRun"] = "All"
        return self.request(
            "PATCH",
            f"{path}/{meta['name']}",
            obj,
            params=params,
            content_type="application/apply-patch+yaml",
        )

    def kubeconfig(self, path: Path, user: str) -> Path:
        """A kubeconfig for this identity (what Airflow's kubernetes connection points at)."""
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "retailmax-test",
                    "cluster": {"server": self.server, "certificate-authority": str(self.ca_file)},
                }
            ],
            "users": [{"name": user, "user": {"token": self.token}}],
            "contexts": [{"name": user, "context": {"cluster": "retailmax-test", "user": user}}],
            "current-context": user,
        }
        path.write_text(yaml.safe_dump(config))
        return path


@dataclass
class ApiServer:
    """kine + kube-apiserver in `workdir`, bound to 127.0.0.1; start() waits until ready."""

    workdir: Path
    kine_port: int = 0
    port: int = 0
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def ca_file(self) -> Path:
        # --cert-dir: a self-signed CA and a serving certificate for 127.0.0.1, as one bundle.
        return self.workdir / "pki" / "apiserver.crt"

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def audit_log(self) -> Path:
        return self.workdir / "audit.log"

    def _audit_policy(self) -> Path:
        policy = {
            "apiVersion": "audit.k8s.io/v1",
            "kind": "Policy",
            "omitStages": ["RequestReceived", "ResponseStarted"],
            "rules": [
                {"level": "Metadata", "userGroups": ["system:serviceaccounts"]},
                {"level": "None"},
            ],
        }
        path = self.workdir / "audit-policy.yaml"
        path.write_text(json.dumps(policy))
        return path

    def audited_calls(self, user: str) -> list[dict[str, Any]]:
        """The audit events (ResponseComplete) of one user, e.g. a service account."""
        if not self.audit_log.exists():
            return []
        events = (json.loads(line) for line in self.audit_log.read_text().splitlines() if line)
        return [
            e for e in events if e["user"]["username"] == user and e["stage"] == "ResponseComplete"
        ]

    def client(self, token: str = ADMIN_TOKEN) -> Client:
        return Client(self.server, token, self.ca_file)

    def _spawn(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        log = (self.workdir / f"{name}.log").open("wb")
        self._logs.append(log)
        process = subprocess.Popen(
            args,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.processes.append(process)
        self.names.append(name)
        return process

    def log_tail(self, name: str, lines: int = 8) -> str:
        path = self.workdir / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return " | ".join(text.strip().splitlines()[-lines:])

    def start(self) -> ApiServer:
        kine, apiserver = kine_binary(), kube_apiserver_binary()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.kine_port, self.port = free_port(), free_port()
        key = self.workdir / "service-account.key"
        _write_signing_key(key)
        tokens = self.workdir / "tokens.csv"
        tokens.write_text(f'{ADMIN_TOKEN},retailmax-admin,uid-admin,"system:masters"\n')
        database = self.workdir / "kine" / "state.db"
        database.parent.mkdir(exist_ok=True)
        self._spawn(
            "kine",
            [
                str(kine),
                f"--listen-address=127.0.0.1:{self.kine_port}",
                f"--endpoint=sqlite://{database}?_journal=WAL&cache=shared&_busy_timeout=30000",
                "--metrics-bind-address=0",
            ],
        )
        self._wait_for(lambda: port_is_open(self.kine_port), 30, "kine")
        self._spawn(
            "kube-apiserver",
            [
                str(apiserver),
                f"--etcd-servers=http://127.0.0.1:{self.kine_port}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={self.port}",
                f"--cert-dir={self.workdir / 'pki'}",
                f"--token-auth-file={tokens}",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={key}",
                f"--service-account-signing-key-file={key}",
                "--service-cluster-ip-range=10.96.0.0/16",
                # Pod logs are read from the node's kubelet (tests/spark_operator.py serves
                # them on 127.0.0.1 for its one node).
                "--kubelet-preferred-address-types=InternalIP",
                "--profiling=false",
                # Every request of a service account (who, verb, resource, answer), one JSON
                # line each: the tests check the RBAC roles against what was actually called.
                f"--audit-policy-file={self._audit_policy()}",
                f"--audit-log-path={self.audit_log}",
                "--audit-log-format=json",
                "--v=1",
            ],
        )
        self._wait_for(self._ready, READY_TIMEOUT, "kube-apiserver")
        return self

    def _wait_for(self, ready: Any, timeout: float, name: str) -> None:
        """Until ready(); a process that exits, or the timeout, ends it with its log's tail."""
        deadline = time.monotonic() + timeout
        while not ready():
            for process_name, process in zip(self.names, self.processes, strict=True):
                if process.poll() is not None:
                    tail = self.log_tail(process_name)
                    raise ApiServerError(f"{process_name} exited ({process.returncode}): {tail}")
            if time.monotonic() > deadline:
                tail = self.log_tail(name)
                raise ApiServerError(f"{name} not ready after {timeout:.0f} s: {tail}")
            time.sleep(0.25)

    def _ready(self) -> bool:
        if not self.ca_file.exists():
            return False
        try:
            return self.client().request("GET", "/readyz") == "ok"
        except (OSError, KubeError):
            return False

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(STOP_TIMEOUT)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(STOP_TIMEOUT)
        for log in self._logs:
            log.close()

    def __enter__(self) -> ApiServer:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the test process dies, even by SIGKILL, so a
    killed test run leaves no server behind (Linux's PR_SET_PDEATHSIG)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def _write_signing_key(path: Path) -> None:
    """The RSA key that signs (and verifies) service-account tokens."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )


def main() -> int:
    """`python -m tests.apiserver`: build (or find) kube-apiserver and kine, say where."""
    started = time.monotonic()
    try:
        binaries = [kube_apiserver_binary(), kine_binary()]
    except (ApiServerError, GoToolError) as exc:
        print(f"apiserver: error: {exc}", file=sys.stderr)
        return 1
    for binary in binaries:
        print(binary)
    print(f"ready in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
