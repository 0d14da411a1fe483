"""Offline checks of the Kubernetes side, with the real schemas.

- The SparkApplication CRD comes from the Spark Operator's published Go module, at the version
  k8s/versions.yaml deploys, fetched with `go mod download` into Go's module cache (outside
  the repository; later runs reuse it, offline). Its openAPIV3Schema is made strict: an object
  that lists its properties accepts no other (what `kubectl apply --validate=strict` does).
- Built-in kinds are validated by kubernetes-validate (the Kubernetes OpenAPI schemas).
- kustomize (built once from the Go module proxy, cached by version) renders the overlays.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shlex
import shutil
import subprocess
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from airflow.providers.cncf.kubernetes.operators.custom_object_launcher import (
    CustomObjectLauncher,
)
from jsonschema import Draft7Validator

from jobs.orchestration.dags import BUILDERS
from jobs.settings import PROJECT_ROOT, Settings

K8S_DIR = PROJECT_ROOT / "k8s"
VERSIONS = yaml.safe_load((K8S_DIR / "versions.yaml").read_text())
SPARK_OPERATOR_MODULE = "github.com/kubeflow/spark-operator/v2"
KUSTOMIZE_MODULE = "sigs.k8s.io/kustomize/kustomize/v5"
CRD_PATH = "config/crd/bases/sparkoperator.k8s.io_sparkapplications.yaml"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "retailmax"
MAX_NAME = 63
AIRFLOW_SUFFIX = 9  # "-" + 8 random characters (SparkKubernetesOperator)
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class GoToolError(RuntimeError):
    """A Go command for the test tools failed, or Go is missing; names the command, one line."""


def run_go(
    args: list[str], *, what: str, cwd: Path | None = None, env: dict[str, str] | None = None
) -> str:
    """Runs `go args` for `what` (e.g. "building kine v0.13.5"); its stdout, else GoToolError."""
    if shutil.which("go") is None:
        raise GoToolError(f"{what}: the Go toolchain (go) is not installed")
    result = subprocess.run(
        ["go", *args],
        cwd=cwd,
        env=os.environ.copy() if env is None else env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = result.stderr.strip().splitlines()[-5:]
        raise GoToolError(f"{what}: {shlex.join(['go', *args])} failed: {' | '.join(tail)}")
    return result.stdout


@cache
def spark_operator_dir() -> Path:
    """The Spark Operator module's files at the deployed version (Go's module cache)."""
    module = f"{SPARK_OPERATOR_MODULE}@{VERSIONS['spark_operator']}"
    what = f"fetching the Spark Operator's CRD ({module})"
    return Path(json.loads(run_go(["mod", "download", "-json", module], what=what))["Dir"])


def go_build_flags(*ldflags: str) -> list[str]:
    """How the test tools (kube-apiserver, kine, kustomize) are compiled.

    A new machine waits for that compile, so their own code and their modules' are compiled
    without optimisation or inlining (`all=-N -l`), while the standard library, which does every
    request's TLS, HTTP and JSON, stays optimised (`std=`: of two patterns, the later wins).
    `-s -w` leaves out the symbol table and DWARF. Measured in docs/performance.md.
    """
    return [
        "-gcflags",
        "all=-N -l",
        "-gcflags",
        "std=",
        "-ldflags",
        " ".join(["-s", "-w", *ldflags]),
    ]


@cache
def kustomize() -> Path:
    """The kustomize binary at the pinned version, built once into the cache."""
    version = VERSIONS["kustomize"]
    binary = CACHE / "bin" / f"kustomize-{version}"
    if not binary.is_file():
        build_dir = CACHE / "build" / f"kustomize-{version}"
        build_dir.mkdir(parents=True, exist_ok=True)
        run_go(
            ["install", *go_build_flags(), f"{KUSTOMIZE_MODULE}@{version}"],
            what=f"building kustomize {version}",
            env={**os.environ, "GOBIN": str(build_dir)},
        )
        binary.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(build_dir / "kustomize"), binary)
    return binary


def kustomize_build(folder: Path) -> list[dict[str, Any]]:
    """The objects `kustomize build folder` renders."""
    result = subprocess.run(
        [str(kustomize()), "build", str(folder)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"kustomize build {folder} failed: {result.stderr.strip()}")
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _strict(schema: dict[str, Any]) -> dict[str, Any]:
    """An OpenAPI v3 (Kubernetes structural) schema as a JSON Schema refusing unknown fields."""
    out = {k: v for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    out.pop("description", None)
    if schema.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and "type" in out:
        out["type"] = [out["type"], "null"]
    if "properties" in out:
        out["properties"] = {k: _strict(v) for k, v in out["properties"].items()}
        if not schema.get("x-kubernetes-preserve-unknown-fields"):
            out.setdefault("additionalProperties", False)
    if isinstance(out.get("additionalProperties"), dict):
        out["additionalProperties"] = _strict(out["additionalProperties"])
    if isinstance(out.get("items"), dict):
        out["items"] = _strict(out["items"])
    for key in ("allOf", "anyOf", "oneOf"):
        if key in schema:
            out[key] = [_strict(s) for s in schema[key]]
    return out


@cache
def spark_application_validator() -> Draft7Validator:
    """The strict validator of sparkoperator.k8s.io/v1beta2 SparkApplication."""
    crd = yaml.safe_load((spark_operator_dir() / CRD_PATH).read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1beta2")
    return Draft7Validator(_strict(version["schema"]["openAPIV3Schema"]))


def _field(path: list[Any]) -> str:
    return ".".join(str(part) for part in path) or "(root)"


def spark_application_errors(body: dict[str, Any], suffix: int = AIRFLOW_SUFFIX) -> list[str]:
    """Every problem of a SparkApplication, each naming its field; [] when it is valid.

    `suffix` is what Airflow will still append to metadata.name (0 for a submitted body).
    """
    errors = []
    for error in spark_application_validator().iter_errors(body):
        path = list(error.absolute_path)
        if error.validator == "additionalProperties":
            known = set(error.schema.get("properties", {}))
            for name in sorted(set(error.instance) - known):
                errors.append(f"{_field([*path, name])}: unknown field")
        else:
            errors.append(f"{_field(path)}: {error.message}")
    name = str(body.get("metadata", {}).get("name", ""))
    if not DNS_LABEL.match(name):
        errors.append(f"metadata.name: {name!r} is not a valid Kubernetes name")
    if len(name) + suffix > MAX_NAME:
        errors.append(
            f"metadata.name: {name!r} is {len(name)} characters, {len(name) + suffix} with "
            f"Airflow's random suffix: more than {MAX_NAME}"
        )
    if body.get("kind") != "SparkApplication":
        errors.append(f"kind: {body.get('kind')!r} is not SparkApplication")
    if body.get("apiVersion") != "sparkoperator.k8s.io/v1beta2":
        errors.append(f"apiVersion: {body.get('apiVersion')!r} is not sparkoperator.k8s.io/v1beta2")
    return sorted(errors)


def builtin_errors(obj: dict[str, Any]) -> list[str]:
    """Problems of a built-in object against the Kubernetes OpenAPI schema (strict)."""
    import kubernetes_validate
    from kubernetes_validate.utils import ValidationError

    try:
        kubernetes_validate.validate(obj, VERSIONS["kubernetes"], strict=True)
    except ValidationError as exc:
        where = f"{obj.get('kind')}/{obj.get('metadata', {}).get('name')}"
        return [f"{where} {_field(list(exc.path))}: {exc.message}"]
    return []


def manifests(folder: Path) -> list[dict[str, Any]]:
    """Every object of the YAML files directly in folder (kustomization files excluded)."""
    objects: list[dict[str, Any]] = []
    for path in sorted(folder.glob("*.yaml")):
        if path.name != "kustomization.yaml":
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    return objects


SHARD_ARGS = ["run", "sales", "--date", "2024-03-04", "--stores", "1-25"]


def spark_tasks(settings: Settings) -> list[Any]:
    """Every Spark task of every DAG, rendered as Airflow renders it (shards unmapped)."""
    tasks = []
    for build in BUILDERS:
        dag = build(settings)
        task: Any
        for task in dag.tasks:
            if task.task_id == "sales":
                task = task.unmap({**task.partial_kwargs, "application_args": SHARD_ARGS})
                task.dag = dag
            if type(task).__name__ == "SparkApplicationOperator":
                tasks.append(rendered(task, dag))
    return tasks


def rendered(task: Any, dag: Any) -> Any:
    """The task with its templated fields rendered for 2024-03-04 (10:00-10:15 batches)."""
    context: Any = {
        "ds": "2024-03-04",
        "data_interval_start": datetime(2024, 3, 4, 10, 0, tzinfo=UTC),
        "data_interval_end": datetime(2024, 3, 4, 10, 15, tzinfo=UTC),
        "task": task,
        "dag": dag,
    }
    task.render_template_fields(context)
    return task


def submitted_body(task: Any, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The body SparkKubernetesOperator.execute() would send, built by its own code up to the
    API call: name with the random suffix, the task's labels, the launcher's body."""
    sent: dict[str, Any] = {}

    def start_spark_job(launcher: CustomObjectLauncher, **_: Any) -> tuple[None, None]:
        sent["body"] = copy.deepcopy(launcher.body)
        launcher.pod_spec = None
        return None, None

    monkeypatch.setattr(CustomObjectLauncher, "start_spark_job", start_spark_job)
    task.__dict__.update(client=None, custom_obj_api=None)  # no cluster: nothing is called
    task.find_spark_job = lambda *_args, **_kwargs: None
    ti = SimpleNamespace(dag_id=task.dag.dag_id, task_id=task.task_id, map_index=0, try_number=1)
    context = {"ti": ti, "run_id": "scheduled__2024-03-04T00:00:00+00:00", "dag": task.dag}
    task.name = task.create_job_name()
    task._setup_spark_configuration(context)
    return sent["body"]
