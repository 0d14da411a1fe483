"""The local backend's warm driver (jobs/warm_driver.py), a real one: one process and session
running runs one after another with each run's own roots, exit codes and one-line reasons
passed back, a cancelled run's cache dropped, a dead driver replaced by the next run, and a new
driver for changed code or conf.
The Airflow side (six tasks of a day in one driver) is in test_airflow_run.py."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from jobs import warm_driver
from jobs.errors import JOB_ERROR_PREFIX, ExitCode
from jobs.settings import PROJECT_ROOT, Settings
from tests.airflow_runs import DAY, run_conf
from tests.conftest import TEST_JVM_OPTIONS
from tests.pos_oracle import expected_daily_store_sales
from tests.tables import table

STARTED = re.compile(r"warm driver pid (\d+), run (\d+)")


@dataclass
class Driver:
    root: Path
    settings: Settings
    env: dict[str, str]  # RETAILMAX_* of the runs: conf dir, env, warm dir

    def run(self, argv: list[str], monkeypatch: pytest.MonkeyPatch, lake: Path) -> list[str]:
        """`retailmax argv` in the warm driver with `lake` as the lake root; its lines, and
        the exit code as the last element."""
        for name, value in {**self.env, "RETAILMAX_LAKE_ROOT": str(lake)}.items():
            monkeypatch.setenv(name, value)
        lines: list[str] = []
        code = warm_driver.run(argv, out=lines.append)
        return [*lines, str(code)]


@pytest.fixture(scope="module")
def driver(tmp_path_factory: pytest.TempPathFactory, clean_landing: Path) -> Iterator[Driver]:
    """A conf dir for small runs (local[1], the first JIT tier: short runs); stopped at the end."""
    root = tmp_path_factory.mktemp("warm_driver")
    settings, base = run_conf(
        "local",
        root,
        clean_landing,
        {"master": "local[1]", "warm_java_options": TEST_JVM_OPTIONS},
    )
    env = {name: value for name, value in base.items() if name.startswith("RETAILMAX_")}
    env[warm_driver.DIR_VAR] = str(root / "warm")
    yield Driver(root, settings, env)
    warm_driver.stop_all(root / "warm")


def _pid(lines: list[str]) -> int:
    found = [STARTED.search(line) for line in lines]
    pids = {int(match.group(1)) for match in found if match}
    assert len(pids) == 1, lines
    return pids.pop()


def test_runs_with_their_own_lake_roots_share_one_driver(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, clean_landing: Path
) -> None:
    shard = ["run", "sales", "--date", str(DAY), "--stores", "1-2"]
    first = driver.run(shard, monkeypatch, driver.root / "lake_a")
    second = driver.run(shard, monkeypatch, driver.root / "lake_b")
    assert (first[-1], second[-1]) == ("0", "0"), first[-30:] + second[-30:]
    assert _pid(first) == _pid(second)
    # Each run wrote its own lake, with the lines pandas counts in the landing files.
    expected = expected_daily_store_sales(clean_landing).loc[str(DAY)]
    for lake in ("lake_a", "lake_b"):
        lines = table(driver.root / lake, "silver.sales_lines")
        assert lines.groupby("store_id").size().to_dict() == {
            store: int(expected.loc[store, "lines"]) for store in (1, 2)
        }


def test_a_failed_run_returns_its_exit_code_and_reason_and_the_driver_serves_on(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = driver.run(["run", "sales", "--date", "2024-03-09"], monkeypatch, driver.root / "l")
    assert missing[-1] == str(int(ExitCode.MISSING_INPUT))
    assert missing[-2].startswith(f"{JOB_ERROR_PREFIX}no landing data for sales on 2024-03-09")
    bad = driver.run(["run", "sales", "--date", "tomorrow"], monkeypatch, driver.root / "l")
    assert bad[-1] == str(int(ExitCode.BAD_ARGUMENTS))
    assert "'tomorrow' is not a date YYYY-MM-DD" in bad[-2]
    assert _pid(missing) == _pid(bad)


def test_a_driver_that_died_is_replaced_by_the_next_run(
    driver: Driver, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = driver.run(["run", "sales", "--date", "nope"], monkeypatch, driver.root / "l")
    pid = _pid(before)
    os.kill(pid, signal.SIGKILL)  # as the kernel's OOM killer would
    os.waitpid(pid, 0)  # this process's run started the driver: it is its child
    assert list((driver.root / "warm").glob("*.sock")), "the dead driver's socket is left"
    after = driver.run(["run", "sales", "--date", "nope"], monkeypatch, driver.root / "l")
    assert after[-1] == str(int(ExitCode.BAD_ARGUMENTS))
    assert _pid(after) != pid


def test_a_killed_task_has_its_run_cancelled_and_a_rerun_ends_right(
    driver: Driver, monkeypatch: pytest.MonkeyPatch, clean_landing: Path
) -> None:
    lake = driver.root / "lake_killed"
    shard = ["run", "sales", "--date", str(DAY), "--stores", "1-4"]
    driver.run(["run", "sales", "--date", "nope"], monkeypatch, lake)  # the driver is up
    found = warm_driver.status()
    assert found is not None
    log = Path(found["log"])
    # The task's process, as Airflow runs it, killed once its run has started (its timeout).
    client = subprocess.Popen(
        [sys.executable, "-m", "jobs.warm_driver", "run", "--", *shard],
        env={**os.environ},
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert client.stdout is not None
    started = next(line for line in client.stdout if STARTED.search(line))
    client.kill()
    client.wait()
    run = STARTED.search(started).group(2)  # type: ignore[union-attr]
    ended = re.compile(rf"^run {run}: exit (\d+)$", re.MULTILINE)
    deadline = time.monotonic() + 120
    while not ended.search(log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    code = ended.search(log.read_text())
    assert code is not None and code.group(1) != "0", "the killed task's run was not cancelled"
    # The cancelled run never reached its unpersist: the driver dropped what it had cached.
    after = warm_driver.status()
    assert after is not None and after["runs"] == int(run), after
    assert after["cache_empty"] is True, "the cancelled run's cached frames outlived it"
    rerun = driver.run(shard, monkeypatch, lake)
    assert rerun[-1] == "0", rerun[-30:]
    expected = expected_daily_store_sales(clean_landing).loc[str(DAY)]
    lines = table(lake, "silver.sales_lines")
    assert lines.groupby("store_id").size().to_dict() == {
        store: int(count) for store, count in expected["lines"].items()
    }


def test_changed_code_or_session_conf_gets_its_own_driver_and_roots_do_not(
    local_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package = tmp_path / "jobs"
    package.mkdir()
    (package / "sales.py").write_text("RULES = 10\n")
    monkeypatch.setattr(warm_driver, "PACKAGE", package)
    key = warm_driver.driver_key(local_settings)
    other_lake = local_settings.paths.model_copy(update={"lake_root": str(tmp_path / "lake")})
    assert warm_driver.driver_key(local_settings.model_copy(update={"paths": other_lake})) == key
    spark = local_settings.spark.model_copy(update={"shuffle_partitions": 3})
    assert warm_driver.driver_key(local_settings.model_copy(update={"spark": spark})) != key
    (package / "sales.py").write_text("RULES = 11\n")
    assert warm_driver.driver_key(local_settings) != key
