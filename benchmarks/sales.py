"""Benchmark of `retailmax run sales` (one date, every store) against DuckDB on the same files.

    .venv/bin/python -m benchmarks.sales --stores 500

Generates clean landing data (no anomalies, so that a plain aggregate is the right answer),
runs the whole-date sales job on local[2] in a child process, then DuckDB (2 threads) computing
daily_store_sales from the same CSV files, and checks both give the same figures. Printed:
wall times, rows per second per core, peak RSS of the job's process tree, the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from benchmarks.common import local_env, retailmax_command, run_measured

DAY = date(2024, 3, 5)
CORES = 2
DUCKDB_SQL = """
SELECT sale_date::DATE AS sale_date, store_id::INT AS store_id,
       count(DISTINCT transaction_id) AS transactions, count(*) AS lines,
       coalesce(sum(quantity) FILTER (WHERE quantity > 0), 0) AS units_sold,
       coalesce(-sum(quantity) FILTER (WHERE quantity < 0), 0) AS units_returned,
       coalesce(sum(quantity * unit_price) FILTER (WHERE quantity > 0), 0) AS gross_sales,
       coalesce(sum(coalesce(discount_amount, 0)), 0) AS discounts,
       coalesce(-sum(quantity * unit_price) FILTER (WHERE quantity < 0), 0) AS returns_value
FROM read_csv('{files}', hive_partitioning = true, header = true,
              types = {{'unit_price': 'DECIMAL(12,2)', 'discount_amount': 'DECIMAL(12,2)',
                        'quantity': 'INTEGER'}})
GROUP BY ALL
"""


def run_job(env: dict[str, str]) -> tuple[float, int]:
    """Runs the job; returns (wall seconds, peak RSS in MiB of the process and its children)."""
    return run_measured(
        retailmax_command("run", "sales", "--date", DAY.isoformat()), env, "sales job"
    )


def main() -> int:
    """Prints the figures of one run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--driver-memory", default="8g")
    args = parser.parse_args()
    import duckdb
    from deltalake import DeltaTable

    from jobs.generate import GenerateOptions, generate

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-sales-"))
    try:
        landing, lake = work / "landing", work / "lake"
        counts = generate(
            GenerateOptions(landing, stores=args.stores, days=1, start=DAY, progress=False)
        ).counts
        env, _ = local_env(work, landing, lake, CORES, args.driver_memory, jit_tiers=True)
        job_s, job_mib = run_job(env)

        duckdb.execute(f"SET threads TO {CORES}")
        started = time.perf_counter()
        files = f"{landing}/pos/*/*/*.csv*"
        peer = duckdb.execute(DUCKDB_SQL.format(files=files)).fetchall()
        duck_s = time.perf_counter() - started

        gold = DeltaTable(str(lake / "gold" / "daily_store_sales")).to_pandas()
        ours = {
            (int(r.store_id), int(r.lines), Decimal(str(r.gross_sales))) for r in gold.itertuples()
        }
        theirs = {(int(r[1]), int(r[3]), Decimal(str(r[6]))) for r in peer}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = counts["pos_lines"]
    print(f"sales job, {args.stores} stores x 1 day, local[{CORES}], whole date (all tables)")
    print(f"  POS lines              {lines:>12,}")
    print(f"  wall time              {job_s:>12.1f} s")
    print(f"  lines per second/core  {lines / job_s / CORES:>12,.0f}")
    print(f"  peak RSS (process tree){job_mib:>12,} MiB")
    print(f"DuckDB {duckdb.__version__}, {CORES} threads: daily_store_sales from the same files")
    print(f"  wall time              {duck_s:>12.1f} s")
    print(f"  lines per second/core  {lines / duck_s / CORES:>12,.0f}")
    print(f"ratio sales job / DuckDB: {job_s / duck_s:.1f}x")
    print(f"same figures (store, lines, gross_sales): {ours == theirs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
