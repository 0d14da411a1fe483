"""A retail_daily day at demo scale, step by step, as the local Airflow runs it.

    .venv/bin/python -m benchmarks.day                  # 50 stores x 2,000 lines, as make demo
    .venv/bin/python -m benchmarks.day --driver submit  # a spark-submit per step, with phases
    .venv/bin/python -m benchmarks.day --stores 50 --json day.json

Generates two days like `make demo` (anomalies included), runs day 1 (the lake's first day,
the opening stock included), then day 2. The figure the issue targets is day 2's total.

- `--driver warm` (local.yaml's default): every step is a run in the warm driver, sent by the
  same client the local operator calls (`jobs.warm_driver.run`). Each day starts its own
  driver, as a daily DAG run does (the driver stops when idle between days): the day's total
  includes one JVM start and one log replay per table.
- `--driver submit`: each step's command line is the one Airflow's SparkSubmitHook builds from
  the operator factory's arguments (same master, jars, driver memory, conf, environment); only
  the application is benchmarks/phases.py, which runs the same CLI and records where the time
  goes (session start, Delta writes, driver actions).
- `--driver warm --keep-driver`: day 2 runs in the driver day 1 started, as under the
  scheduler: inventory_sync's batches every 15 minutes keep it from idling out
  (`warm_idle_minutes`: 20), so a daily run finds it warm. Day 2's total then has no JVM start.
- `--driver warm --profile`: the day's steps in one process per day on one session started as
  the warm driver starts its own, with the same per-phase profile (benchmarks/phases.py
  `--steps`): the warm driver's work without its socket.

The peer is DuckDB computing the day's store sales from the same POS files (the floor of the
day's main aggregate, not the same work).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from benchmarks.common import local_env, run_warm
from benchmarks.phases import PREFIX
from jobs.settings import PROJECT_ROOT, Settings
from jobs.warm_driver import stop_all

PHASES_APP = str(PROJECT_ROOT / "benchmarks" / "phases.py")
START = date(2024, 3, 4)
SHOWN_PHASES = 6


def steps(day: date, stores: int, per_shard: int) -> list[tuple[str, list[str]]]:
    """retail_daily's Spark steps for `day`, in order: (job, CLI arguments)."""
    shards = [
        (first, min(first + per_shard - 1, stores)) for first in range(1, stores + 1, per_shard)
    ]
    sales = [
        ("sales", ["run", "sales", "--date", str(day), "--stores", f"{a}-{b}"]) for a, b in shards
    ]
    rest = ["sales-gold", "inventory", "promotions", "report"]
    return [*sales, *((job, ["run", job, "--date", str(day)]) for job in rest)]


def submit_command(
    settings: Settings, job: str, arguments: list[str]
) -> tuple[list[str], dict[str, str]]:
    """The spark-submit command line Airflow's SparkSubmitHook builds for this step, and the
    environment variables the operator adds to the process."""
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    from jobs.orchestration.factory import _local_submit_args

    kwargs = _local_submit_args(settings, job)
    kwargs.pop("application")
    hook = SparkSubmitHook(**kwargs, application_args=[*arguments, "--env", "local"])
    command: list[str] = hook._build_spark_submit_command(PHASES_APP)
    return command, kwargs["env_vars"]


def run_step(command: list[str], env: dict[str, str]) -> dict[str, Any]:
    """Runs one step; its wall time, and its phases as benchmarks/phases.py reported them."""
    env = {**env, "PYTHONPATH": str(PROJECT_ROOT)}
    started = time.perf_counter()
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command[-6:])} failed:\n{result.stderr[-3000:]}")
    # spark-submit passes the Python process's stderr on to its own stdout
    output = result.stdout + result.stderr
    reports = [line for line in output.splitlines() if line.startswith(PREFIX)]
    if not reports:
        raise SystemExit(f"no {PREFIX.strip()} line from {' '.join(command)}:\n{output[-3000:]}")
    report = json.loads(reports[-1].removeprefix(PREFIX))
    return {"wall": wall, **report}


def run_profiled_day(day_steps: list[list[str]], env: dict[str, str]) -> list[dict[str, Any]]:
    """The day's steps in one process on one warm-driver session; each step's wall and phases."""
    command = [sys.executable, "-m", "benchmarks.phases", "--steps", json.dumps(day_steps)]
    env = {**env, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    reports = [
        json.loads(line.removeprefix(PREFIX))
        for line in result.stderr.splitlines()
        if line.startswith(PREFIX)
    ]
    if result.returncode != 0 or len(reports) != len(day_steps):
        raise SystemExit(f"the profiled day failed:\n{result.stderr[-3000:]}")
    return reports


def duckdb_day(landing: Path, day: date) -> float:
    """Seconds for DuckDB (2 threads) to compute the day's net sales per store from POS files."""
    import duckdb

    started = time.perf_counter()
    connection = duckdb.connect()
    connection.execute("SET threads = 2")
    pattern = str(landing / "pos" / f"sale_date={day}" / "**" / "*.csv*")
    connection.execute(
        "SELECT store_id, count(*), sum(try_cast(quantity AS DECIMAL(12, 3)) * "
        "try_cast(unit_price AS DECIMAL(12, 2)) - try_cast(discount_amount AS DECIMAL(12, 2))) "
        f"FROM read_csv('{pattern}', header = true, all_varchar = true, "
        "hive_partitioning = false, union_by_name = true) GROUP BY store_id"
    ).fetchall()
    return time.perf_counter() - started


def print_step(arguments: list[str], figures: dict[str, Any]) -> None:
    """One line per step, then its heaviest phases."""
    by_label: dict[str, float] = defaultdict(float)
    for label, seconds in figures["phases"]:
        by_label[label] += seconds
    measured = sum(by_label.values())
    if not figures["phases"]:
        print(f"  {' '.join(arguments[1:]):<42} {figures['wall']:6.1f} s")
        return
    print(
        f"  {' '.join(arguments[1:]):<42} {figures['wall']:6.1f} s"
        f"  (in phases {measured:5.1f} s, outside {figures['wall'] - measured:5.1f} s)"
    )
    for label, seconds in sorted(by_label.items(), key=lambda kv: -kv[1])[:SHOWN_PHASES]:
        print(f"      {seconds:6.1f} s  {label}")


def parse_arguments(argv: list[str] | None) -> argparse.Namespace:
    """The command line; --keep-driver only with the warm driver's runs."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.day")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--lines-per-store", type=int, default=2000)
    parser.add_argument("--per-shard", type=int, default=25)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument(
        "--driver",
        choices=["warm", "submit"],
        help="how each step runs (default: spark.local_driver of conf/local.yaml)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="with the warm driver: one process per day with the per-phase profile",
    )
    parser.add_argument(
        "--keep-driver",
        action="store_true",
        help="with the warm driver: day 2 in the driver day 1 started (under the scheduler, "
        "inventory_sync's 15-minute batches keep it warm between daily runs)",
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--keep", action="store_true", help="keep the landing and the lake")
    args = parser.parse_args(argv)
    if args.keep_driver and (args.driver == "submit" or args.profile):
        parser.error(
            "--keep-driver is for the warm driver's runs (not --driver submit or --profile)"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    """Generates, runs two days step by step, prints the profile."""
    args = parse_arguments(argv)

    from jobs.generate import GenerateOptions, generate

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-day-"))
    landing, lake = work / "landing", work / "lake"
    generate(
        GenerateOptions(
            landing,
            stores=args.stores,
            days=2,
            start=START,
            seed=42,
            anomalies=0.002,
            lines_per_store=args.lines_per_store,
            progress=False,
        )
    )
    env, settings = local_env(work, landing, lake, args.cores, "4g")
    env.update(
        {
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW_HOME": str(work / "airflow"),
            f"AIRFLOW_CONN_{settings.orchestration.spark_conn_id.upper()}": json.dumps(
                {"conn_type": "spark", "host": f"local[{args.cores}]"}
            ),
            "RETAILMAX_PII_SALT": "benchmark-salt-0123456789",
        }
    )
    env["RETAILMAX_WARM_DIR"] = str(work / "warm")
    os.environ.update(env)  # the hook reads the connection from this process's environment
    driver = args.driver or settings.spark.local_driver
    how = "a spark-submit"
    if driver == "warm":
        how = "a run in the warm driver" + (
            ", one driver for both days" if args.keep_driver else ", a new driver each day"
        )
    print(f"each step: {how}")
    results: dict[str, Any] = {
        "stores": args.stores,
        "driver": driver,
        "keep_driver": args.keep_driver,
        "days": {},
    }
    for day in (START, START + timedelta(days=1)):
        print(f"{day} ({'first day of the lake' if day == START else 'a later day'}):")
        total = 0.0
        day_figures = []
        day_steps = steps(day, args.stores, args.per_shard)
        profiled = (
            run_profiled_day([[*a, "--env", "local"] for _, a in day_steps], env)
            if driver == "warm" and args.profile
            else None
        )
        for index, (job, arguments) in enumerate(day_steps):
            if profiled is not None:
                figures = profiled[index]
            elif driver == "warm":
                figures = run_warm(arguments, settings)
            else:
                command, step_env = submit_command(settings, job, arguments)
                figures = run_step(command, {**env, **step_env})
            print_step(arguments, figures)
            total += figures["wall"]
            day_figures.append({"step": " ".join(arguments[1:]), **figures})
        if driver == "warm" and not args.keep_driver:
            stop_all(work / "warm")  # the next day's DAG run starts its own driver
        peer = duckdb_day(landing, day)
        print(f"  total {total:.1f} s (DuckDB's store sales of the same files: {peer:.2f} s)\n")
        results["days"][str(day)] = {"total": total, "duckdb": peer, "steps": day_figures}
    if driver == "warm":
        stop_all(work / "warm")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    if args.keep:
        print(f"landing, lake and conf kept in {work}")
    else:
        shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
