"""retail_daily through real Airflow (`airflow dags test`, SQLite, local backend: every Spark
task runs in the warm driver, conf/local.yaml's default): gold rows as an independent
computation says, re-runs change nothing, and a failure reaches a real SMTP server and a real
webhook receiver on 127.0.0.1 with what broke."""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from jobs import warm_driver
from jobs.inventory.tables import STOCK_LEVELS, STOCK_MOVEMENTS
from jobs.orchestration.local_airflow import dags_test, local_airflow_env, migrate
from jobs.orchestration.receivers import Inbox, alert_receivers
from jobs.sales.tables import ALL_TABLES
from jobs.settings import Settings
from tests.airflow_runs import (
    DAY,
    NO_DATA_DAY,
    Run,
    assert_gold_equals_pandas,
    assert_shards_alerted_without_landing_data,
    run_conf,
)
from tests.pos_oracle import expected_daily_store_sales, expected_online_net_sales
from tests.tables import delta_tables, snapshot

pytestmark = pytest.mark.slow

TABLES = [spec.name for spec in (*ALL_TABLES, STOCK_MOVEMENTS, STOCK_LEVELS)]


@dataclass
class World:
    root: Path
    lake: Path
    home: Path
    settings: Settings
    base_env: dict[str, str]

    def run(self, day: date) -> Run:
        """One `airflow dags test retail_daily <day>` with the alert receivers listening."""
        inbox: Inbox
        with alert_receivers() as inbox:
            env = local_airflow_env(
                self.settings, self.home, inbox.smtp_port, inbox.webhook_url, base=self.base_env
            )
            log_path = self.root / f"dags_test_{day}_{len(list(self.root.glob('*.log')))}.log"
            progress: list[str] = []
            with log_path.open("w") as out:
                code = dags_test(
                    "retail_daily", str(day), env, stdout=out, progress=progress.append
                )
        return Run(code, log_path.read_text(), list(inbox.emails), list(inbox.posts), progress)


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, clean_landing: Path, local_settings: Settings
) -> Iterator[World]:
    """A conf dir (shards of 2 stores, no retries, small Spark), a fresh AIRFLOW_HOME, migrated;
    the warm driver the first task starts has its socket here and is stopped at the end."""
    root = tmp_path_factory.mktemp("airflow_run")
    settings, base = run_conf("local", root, clean_landing, {"master": "local[2]"})
    assert settings.spark.local_driver == "warm"
    base[warm_driver.DIR_VAR] = str(root / "warm")
    world = World(root, root / "lake", root / "airflow", local_settings, base)
    migrate(local_settings, local_airflow_env(local_settings, world.home, base=base))
    yield world
    warm_driver.stop_all(root / "warm")


@pytest.fixture(scope="module")
def first_run(world: World) -> Run:
    return world.run(DAY)


def test_retail_daily_succeeds_without_alerts(first_run: Run) -> None:
    assert first_run.code == 0, first_run.log[-4000:]
    assert (first_run.emails, first_run.posts) == ([], [])


def test_each_tasks_end_is_reported_as_it_happens(first_run: Run) -> None:
    # What `make demo` prints while a day runs, read from the real `airflow dags test` output.
    shards = sorted(first_run.progress[1:3])
    assert first_run.progress[:1] + shards + first_run.progress[3:] == [
        "plan_sales_shards ended",
        "sales[0] ended",
        "sales[1] ended",
        "sales_gold ended",
        "inventory_daily ended",
        "promotions ended",
        "daily_report ended",
    ]


def test_one_warm_driver_ran_every_spark_task_of_the_day(first_run: Run) -> None:
    # Each task logs the driver's pid and its run number; six Spark tasks, one process.
    runs = re.findall(r"warm driver pid (\d+), run (\d+)", first_run.log)
    assert len({pid for pid, _ in runs}) == 1
    assert sorted(int(run) for _, run in runs) == [1, 2, 3, 4, 5, 6]


def test_gold_rows_equal_an_independent_computation(
    first_run: Run, world: World, clean_landing: Path
) -> None:
    assert_gold_equals_pandas(world.lake, clean_landing, DAY)


def test_mapped_shards_are_named_by_store_range(first_run: Run, world: World) -> None:
    with sqlite3.connect(world.home / "airflow.db") as db:
        rows = db.execute(
            "SELECT map_index, rendered_map_index, state FROM task_instance "
            "WHERE dag_id = 'retail_daily' AND task_id = 'sales' ORDER BY map_index"
        ).fetchall()
    assert rows == [(0, "stores 1-2", "success"), (1, "stores 3-4", "success")]


def test_every_table_the_day_wrote_is_one_maintenance_maintains(
    first_run: Run, world: World
) -> None:
    from jobs.maintenance import lake_tables

    written = delta_tables(world.lake)
    # By hand: sales 4 + sales-gold 3 + inventory 6 + promotions 4 tables.
    assert len(written) == 17
    assert written - {spec.name for spec in lake_tables()} == set()


def test_the_daily_report_is_written_with_the_days_net_sales(
    first_run: Run, world: World, clean_landing: Path
) -> None:
    report = world.lake / "reports" / "daily" / f"date={DAY}" / "index.html"
    # From the landing files, not from another job's table: the stores' lines (the POS
    # oracle) and the web shop's orders (read by hand from the contract).
    stores = expected_daily_store_sales(clean_landing).loc[str(DAY)].net_sales
    total = sum(Decimal(str(v)) for v in stores) + expected_online_net_sales(clean_landing, DAY)
    card = 'data-item="All channels" data-metric="net_sales">'
    assert f"{card}{total:,.2f}</div>" in report.read_text()


def _rendered_commands(home: Path, day: date) -> list[list[str]]:
    """The `retailmax` arguments of each Spark task of the day's run, as Airflow rendered them,
    in the order the tasks started."""
    with sqlite3.connect(home / "airflow.db") as db:
        rows = db.execute(
            "SELECT r.rendered_fields FROM rendered_task_instance_fields r "
            "JOIN dag_run d ON d.dag_id = r.dag_id AND d.run_id = r.run_id "
            "JOIN task_instance t ON t.dag_id = r.dag_id AND t.task_id = r.task_id "
            "AND t.run_id = r.run_id AND t.map_index = r.map_index "
            "WHERE r.dag_id = 'retail_daily' AND date(d.logical_date) = ? ORDER BY t.start_date",
            (str(day),),
        ).fetchall()
    fields = [json.loads(row) for (row,) in rows]
    return [task["application_args"] for task in fields if "application_args" in task]


def test_a_rerun_of_the_same_logical_date_leaves_the_tables_unchanged(
    first_run: Run, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The re-run is every task of the first run again, with the arguments Airflow rendered for
    # it, sent to the warm driver the first run's tasks used, as the local operator sends them:
    # a second `airflow dags test` would add Airflow's own minute for the same check.
    commands = _rendered_commands(world.home, DAY)
    assert [args[:2] for args in commands] == [
        ["run", "sales"],
        ["run", "sales"],
        ["run", "sales-gold"],
        ["run", "inventory"],
        ["run", "promotions"],
        ["run", "report"],
    ]
    before = {name: snapshot(world.lake, name) for name in TABLES}
    for name, value in world.base_env.items():
        if name.startswith("RETAILMAX_"):
            monkeypatch.setenv(name, value)
    lines: list[str] = []
    codes = [warm_driver.run([str(arg) for arg in args], out=lines.append) for args in commands]
    assert codes == [0] * len(commands), lines[-30:]
    first_pids = set(re.findall(r"warm driver pid (\d+)", first_run.log))
    assert set(re.findall(r"warm driver pid (\d+)", "\n".join(lines))) == first_pids
    for name in TABLES:
        pd.testing.assert_frame_equal(snapshot(world.lake, name), before[name], obj=name)


def test_a_failed_shard_alerts_by_email_and_webhook_with_what_broke(
    first_run: Run, world: World, clean_landing: Path
) -> None:
    assert_shards_alerted_without_landing_data(world.run(NO_DATA_DAY), clean_landing, NO_DATA_DAY)
