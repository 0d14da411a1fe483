"""A retail_daily day in one driver process, as its tasks run it, with the lake and the landing
zone wherever RETAILMAX_ENV / RETAILMAX_*_ROOT say (`python -m tests.bucket_day --date D
--conf key=value ...`; tests/test_object_storage.py runs it against the test S3 server).

The process makes one Spark session with the session factory from the env's settings, plus the
given conf (the test's master and sizing, the image's jars, the S3A endpoint, the LogStore),
plans the sales shards as the Airflow worker does (plan_sales_shards: pyarrow lists the
landing zone), then runs every task's `retailmax run ...` through the CLI, in DAG order, on
that session. One JVM for the day instead of one per task: what is under test is the storage
path, not the process model (tests/test_k8s_apiserver.py covers that). It prints one JSON line:
the commands and their exit codes; it stops at the first that fails.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import date

from jobs.cli import main as retailmax
from jobs.orchestration.plan import job_arguments, store_shards
from jobs.settings import PROJECT_ROOT, load_settings
from jobs.spark import get_spark

DATE_STEPS = ("sales-gold", "inventory", "promotions", "report")


def run_day(
    day: date,
    landing_root: str,
    lake_root: str,
    conf: Mapping[str, str],
    env: Mapping[str, str],
) -> subprocess.CompletedProcess[str]:
    """`python -m tests.bucket_day` for `day` on these roots with conf/kubernetes.yaml, `conf`
    added to its Spark conf and `env` (the AWS variables) to this process's environment."""
    command = [sys.executable, "-m", "tests.bucket_day", "--date", str(day)]
    command += [f"--conf={key}={value}" for key, value in conf.items()]
    run_env = {
        **os.environ,
        **env,
        "RETAILMAX_ENV": "kubernetes",
        "RETAILMAX_LANDING_ROOT": landing_root,
        "RETAILMAX_LAKE_ROOT": lake_root,
        "PYSPARK_PYTHON": sys.executable,
    }
    return subprocess.run(
        command, cwd=PROJECT_ROOT, env=run_env, capture_output=True, text=True, timeout=1800
    )


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bucket_day")
    parser.add_argument("--date", type=date.fromisoformat, required=True)
    parser.add_argument("--conf", action="append", default=[], help="key=value Spark conf")
    args = parser.parse_args()
    settings = load_settings()
    get_spark(settings, "bucket-day", dict(item.split("=", 1) for item in args.conf))
    commands = [
        job_arguments("sales", args.date, shard) for shard in store_shards(settings, args.date)
    ]
    commands += [job_arguments(job, args.date) for job in DATE_STEPS]
    codes: list[int] = []
    for command in commands:
        codes.append(retailmax(command))
        if codes[-1] != 0:
            break
    print(json.dumps({"commands": commands, "codes": codes}))
    return 0 if codes == [0] * len(commands) else 1


if __name__ == "__main__":
    sys.exit(main())
