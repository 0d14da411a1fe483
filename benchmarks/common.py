"""What the benchmarks share: running a command while sampling its memory; generated sales lines."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import psutil
import yaml

from jobs.settings import Settings, relocated_conf

C1_ONLY = "-XX:TieredStopAtLevel=1"  # local.yaml's driver_java_options: the JIT's first tier


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


def run_warm(arguments: list[str], settings: Settings) -> dict[str, Any]:
    """Runs `retailmax ARGUMENTS --env local` in the warm driver for settings (starting it if
    none runs), through the client the local operator calls; its wall time (no phases: they
    need spark-submit)."""
    from jobs.warm_driver import run

    lines: list[str] = []
    started = time.perf_counter()
    code = run([*arguments, "--env", "local"], out=lines.append, settings=settings)
    wall = time.perf_counter() - started
    if code != 0:
        raise SystemExit(f"{' '.join(arguments)} failed ({code}):\n" + "\n".join(lines[-30:]))
    return {"wall": wall, "phases": []}


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
    keeps the JVM's own JIT tiers instead of local.yaml's C1 only (its other options stay), as
    a driver that runs for minutes should (the at-scale benchmarks; the kubernetes image's
    JVM does too)."""
    conf = relocated_conf("local", landing, lake)
    conf["spark"].update({"master": f"local[{cores}]", "driver_memory": driver_memory})
    if jit_tiers:
        options = conf["spark"]["driver_java_options"]
        conf["spark"]["driver_java_options"] = [o for o in options if o != C1_ONLY]
    (work / "conf").mkdir(exist_ok=True)
    (work / "conf" / "local.yaml").write_text(yaml.safe_dump(conf))
    env = {**os.environ, "RETAILMAX_CONF_DIR": str(work / "conf")}
    return env, Settings.model_validate(conf)


def sales_lines_frame(
    session: Any, last_day: date, days: int, stores: range, lines: int, skus: int
) -> Any:
    """Store lines with silver.sales_lines' columns: `lines` per store-day for the `days` days
    ending on last_day and the stores of `stores` (a contiguous range), SKUs drawn with a skew
    among `skus`, 2 % returns. The same seeds every time: the same rows for the same sizes."""
    from pyspark.sql import functions as F

    index = F.col("id")
    sku_number = F.floor(F.pow(F.rand(seed=7), F.lit(3)) * skus).cast("int")
    quantity = F.when(F.rand(seed=11) < 0.02, F.lit(-1)).otherwise((index % 3 + 1).cast("int"))
    return session.range(0, len(stores) * days * lines, numPartitions=16).select(
        F.date_sub(F.lit(last_day), (index % days).cast("int")).alias("sale_date"),
        (F.floor(index / days) % len(stores) + stores.start).cast("int").alias("store_id"),
        F.lit("STORE").alias("channel"),
        F.format_string("T%d", F.floor(index / 4)).alias("transaction_id"),
        (index % 4 + 1).cast("int").alias("line_number"),
        F.lit("R1").alias("register_id"),
        F.current_timestamp().alias("transaction_ts"),
        F.format_string("SKU%06d", sku_number).alias("sku"),
        quantity.alias("quantity"),
        F.lit(5).cast("decimal(12,2)").alias("unit_price"),
        F.lit(0).cast("decimal(12,2)").alias("discount_amount"),
        (quantity * F.lit(5)).cast("decimal(18,2)").alias("net_amount"),
        F.lit(None).cast("string").alias("promo_code"),
        F.lit(None).cast("string").alias("loyalty_id"),
        F.lit("CARD").alias("payment_method"),
        F.lit(None).cast("string").alias("fulfilment_location_id"),
        F.lit("bench").alias("source_file"),
    )
