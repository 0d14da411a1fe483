"""The sales job as Airflow runs it: separate processes, each with its own Spark session.

Two shards run at the same time against the same (empty) lake; a run killed with SIGKILL
between two Delta commits is re-run. Expected figures come from tests/pos_oracle.py.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
import yaml
from deltalake import DeltaTable

from jobs.settings import relocated_conf
from tests.conftest import TEST_JVM_OPTIONS
from tests.pos_oracle import check_landing

DAY = date(2024, 3, 4)
RETAILMAX = Path(sys.executable).parent / "retailmax"


def process_env(tmp_path: Path, landing: Path, lake: Path) -> dict[str, str]:
    """A conf dir for child processes: one core each, a loose gate, absolute paths."""
    conf = relocated_conf("local", landing, lake)
    conf["spark"]["master"] = "local[1]"
    conf["spark"]["driver_memory"] = "1g"
    conf["spark"]["driver_java_options"] = TEST_JVM_OPTIONS
    conf["quality"] = {"max_reject_rate": 1.0, "max_missing_store_files": 100}
    conf_dir = tmp_path / "conf"
    conf_dir.mkdir(exist_ok=True)
    (conf_dir / "local.yaml").write_text(yaml.safe_dump(conf))
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "JAVA_HOME", "LANG")}
    return {**keep, "RETAILMAX_CONF_DIR": str(conf_dir)}


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [str(RETAILMAX), "run", "sales", "--date", DAY.isoformat(), *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def finish(process: subprocess.Popen[str]) -> None:
    output, _ = process.communicate(timeout=600)
    assert process.returncode == 0, output[-3000:]


def per_store(lake: Path, table: str, metric: str | None = None) -> dict[int, int]:
    df = DeltaTable(str(lake / table)).to_pandas()
    df = df[df.sale_date.astype(str) == DAY.isoformat()]
    if metric is not None:
        df = df[df.metric == metric]
        return {int(k): int(v) for k, v in df.groupby("store_id").value.sum().items()}
    return {int(k): int(v) for k, v in df.groupby("store_id").size().items()}


def expected(landing: Path, name: str) -> dict[int, int]:
    _, figures = check_landing(landing)
    return {store: f[name] for (day, store), f in figures.items() if day == DAY.isoformat()}


def assert_every_line_is_there(lake: Path, landing: Path) -> None:
    """Silver, bronze and the reconciliation hold every store's lines, as the oracle counts."""
    silver = {k: v for k, v in per_store(lake, "silver/sales_lines").items() if k != 0}
    assert silver == expected(landing, "valid_distinct")
    assert per_store(lake, "bronze/pos_lines") == expected(landing, "input_lines")
    assert per_store(lake, "ops/dq_results", "input_lines") == expected(landing, "input_lines")
    assert per_store(lake, "quarantine/sales_lines") == {
        k: v for k, v in expected(landing, "quarantined").items() if v
    }


@pytest.mark.slow
def test_two_shards_at_once_on_the_same_tables_lose_nothing(
    dirty_landing: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    env = process_env(tmp_path, dirty_landing, lake)
    first, second = start(env, "--stores", "1-2"), start(env, "--stores", "3-5")
    finish(first)
    finish(second)

    assert_every_line_is_there(lake, dirty_landing)
    history = DeltaTable(str(lake / "silver/sales_lines")).history()
    writes = [h for h in history if h["operation"] == "WRITE"]
    assert len(writes) == 2  # one commit per shard, neither retried away nor lost


@pytest.mark.slow
def test_a_run_killed_between_two_commits_then_rerun_ends_right(
    dirty_landing: Path, tmp_path: Path
) -> None:
    lake = tmp_path / "lake"
    env = process_env(tmp_path, dirty_landing, lake)
    bronze_commit = lake / "bronze/pos_lines/_delta_log/00000000000000000001.json"
    process = start(env)
    deadline = time.monotonic() + 300
    while not bronze_commit.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bronze_commit.exists(), "the run never committed bronze"
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert not (lake / "silver/sales_lines/_delta_log/00000000000000000001.json").exists()

    finish(start(env))
    assert_every_line_is_there(lake, dirty_landing)
