"""What the benchmarks share: running a command while sampling its process tree's memory."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import yaml

from jobs.settings import PROJECT_ROOT, Settings, load_settings


def retailmax_command(*args: str) -> list[str]:
    """`retailmax ARGS`: the console script of this venv."""
    return [str(Path(sys.executable).parent / "retailmax"), *args]


def run_measured(command: list[str], env: dict[str, str], what: str) -> tuple[float, int]:
    """Runs command; returns (wall seconds, peak RSS in MiB of the process and its children).

    The JVM of a Spark job is a grandchild of the command, hence the tree."""
    started = time.perf_counter()
    child = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    parent, peak = psutil.Process(child.pid), 0
    while child.poll() is None:
        try:
            tree = [parent, *parent.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree))
        except psutil.Error:
            pass
        time.sleep(0.5)
    seconds = time.perf_counter() - started
    if child.returncode != 0:
        tail = child.stderr.read()[-2000:] if child.stderr else ""
        raise SystemExit(f"{what} failed: {tail}")
    return seconds, peak // 2**20


def local_env(
    work: Path,
    landing: Path,
    lake: Path,
    cores: int,
    driver_memory: str,
    *,
    jit_tiers: bool = False,
) -> tuple[dict[str, str], Settings]:
    """A job run on local[cores] against landing and lake: the local conf with those paths
    and sizes, written to work/conf; the environment that picks it (RETAILMAX_CONF_DIR) for a
    child process, and the same settings for Spark in this process. `jit_tiers`: the driver
    keeps the JVM's own JIT tiers instead of local.yaml's C1 only, as a driver that runs for
    minutes should (the at-scale benchmarks; the kubernetes image's JVM does too)."""
    conf = yaml.safe_load((PROJECT_ROOT / "conf" / "local.yaml").read_text())
    local = load_settings("local")
    conf["paths"] = {
        "landing_root": str(landing),
        "lake_root": str(lake),
        "jar_cache": local.paths.jar_cache,
    }
    conf["spark"].update(
        {
            "master": f"local[{cores}]",
            "driver_memory": driver_memory,
            "class_archive": local.spark.class_archive,
        }
    )
    if jit_tiers:
        conf["spark"]["driver_java_options"] = []
    (work / "conf").mkdir(exist_ok=True)
    (work / "conf" / "local.yaml").write_text(yaml.safe_dump(conf))
    env = {**os.environ, "RETAILMAX_CONF_DIR": str(work / "conf")}
    return env, Settings.model_validate(conf)
