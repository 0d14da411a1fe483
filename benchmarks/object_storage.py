"""One retail_daily day on S3 buckets against the same day on local disk, in the same run.

    .venv/bin/python -m benchmarks.object_storage                # 10 stores x 500 lines
    .venv/bin/python -m benchmarks.object_storage --stores 20 --lines-per-store 1000

Both runs are the same process model: one driver for the whole day (tests/bucket_day.py, as
tests/test_object_storage.py runs it), conf/kubernetes.yaml, the image's jar set, local[2].
Only the roots differ. In one run the landing zone and the lake are folders. In the other they
are buckets of moto's S3 server on 127.0.0.1, reached through s3a:// (Delta's S3 default
LogStore, one driver at a time) and pyarrow. So the ratio is the price of the object-store
protocol over a local disk. It is not S3's latency: moto answers in about a millisecond, where
S3 takes tens. The peer, DuckDB, computes the day's store sales from the local POS files: the
floor of the day's main aggregate, not the same work.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from moto.server import ThreadedMotoServer

from benchmarks.day import duckdb_day
from jobs.spark import BASE_JVM_OPTIONS
from tests.bucket_day import run_day
from tests.s3 import aws_env, create_bucket, image_jars, s3a_endpoint_conf, upload_folder

DAY = date(2024, 3, 4)


def timed_day(
    landing_root: str, lake_root: str, conf: dict[str, str], env: dict[str, str]
) -> float:
    """Wall seconds of tests/bucket_day.py on these roots (JVM start included)."""
    started = time.perf_counter()
    done = run_day(DAY, landing_root, lake_root, conf, env)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"the day on {lake_root} failed: {done.stderr[-2000:]}")
    codes = json.loads(done.stdout.strip().splitlines()[-1])["codes"]
    print(f"  {lake_root}: {len(codes)} steps, {seconds:.1f} s")
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.object_storage")
    parser.add_argument("--stores", type=int, default=10)
    parser.add_argument("--lines-per-store", type=int, default=500)
    args = parser.parse_args(argv)

    from jobs.generate import GenerateOptions, generate

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-s3-"))
    landing = work / "landing"
    generate(
        GenerateOptions(
            landing,
            stores=args.stores,
            days=1,
            start=DAY,
            seed=42,
            lines_per_store=args.lines_per_store,
            progress=False,
        )
    )
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    for name in ("bench-landing", "bench-lake"):
        create_bucket(endpoint, name)
    upload_folder(endpoint, landing, "bench-landing", "prod")
    conf = {
        "spark.master": "local[2]",
        "spark.driver.memory": "2g",
        "spark.ui.enabled": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.extraJavaOptions": " ".join(BASE_JVM_OPTIONS),
        "spark.jars": ",".join(str(jar) for jar in image_jars()),
        **s3a_endpoint_conf(endpoint),
    }
    env = aws_env(endpoint)
    print(f"one retail_daily day, {args.stores} stores x {args.lines_per_store} lines, {DAY}:")
    disk = timed_day(str(landing), str(work / "lake"), conf, env)
    bucket = timed_day("s3a://bench-landing/prod", "s3a://bench-lake/prod", conf, env)
    peer = duckdb_day(landing, DAY)
    print(
        f"bucket / disk: {bucket / disk:.2f}x; DuckDB's store sales of the same files: "
        f"{peer:.2f} s (bucket day {bucket / peer:.0f}x, disk day {disk / peer:.0f}x)"
    )
    server.stop()
    shutil.rmtree(work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
