"""Benchmark of `retailmax generate` against DuckDB writing as many POS-shaped CSV rows.

    .venv/bin/python -m benchmarks.generate --stores 500 --days 1

Each side runs in its own process (so that peak memory is its own) on the same machine, in the
same run. The peer writes uniform random rows with the same 12 columns, partitioned by store
(no baskets, promotions, anomalies or other sources): it is the floor a CSV writer can reach,
not an equivalent program. Printed: wall time, POS lines, lines per second, peak RSS, ratios.
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
from pathlib import Path

CHILD_GENERATE = """
import json, sys
from datetime import date
from pathlib import Path
from jobs.generate import GenerateOptions, generate
result = generate(GenerateOptions(Path(sys.argv[1]), stores=int(sys.argv[2]),
                  days=int(sys.argv[3]), start=date(2024, 3, 5), progress=False))
print(json.dumps(result.counts))
"""

CHILD_DUCKDB = """
import sys, duckdb
rows, stores, target = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
duckdb.execute("SET threads TO 2")
duckdb.execute(f'''
COPY (
  SELECT 'T' || lpad((i % {stores} + 1)::varchar, 4, '0') || '-' || lpad(i::varchar, 8, '0')
           AS transaction_id,
         (i % 5 + 1) AS line_number, (i % {stores} + 1) AS store_id,
         'R' || lpad((i % 8 + 1)::varchar, 2, '0') AS register_id,
         strftime(TIMESTAMP '2024-03-05 08:00:00' + to_seconds((i * 7919) % 46800),
                  '%Y-%m-%dT%H:%M:%S') || '+01:00' AS transaction_ts,
         'SKU' || lpad(((i * 31) % 5000 + 1)::varchar, 6, '0') AS sku,
         (i % 3 + 1) AS quantity, ((i * 13) % 5000 / 100)::decimal(12, 2) AS unit_price,
         NULL::decimal(12, 2) AS discount_amount, NULL AS promo_code,
         CASE WHEN i % 3 = 0 THEN 'L' || lpad((i % 100000)::varchar, 9, '0') END AS loyalty_id,
         'CARD' AS payment_method
  FROM range({rows}) t(i)
) TO '{target}' (FORMAT csv, HEADER, PARTITION_BY (store_id), OVERWRITE_OR_IGNORE)
''')
"""


def run_child(code: str, *args: str) -> tuple[float, int, str]:
    """Runs Python code in a child; returns (wall seconds, its own peak RSS in MiB, stdout)."""
    started = time.perf_counter()
    with tempfile.TemporaryFile(mode="w+") as out:
        child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=out)
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        if child.returncode != 0:
            raise SystemExit(f"benchmark child failed with exit code {child.returncode}")
        out.seek(0)
        return seconds, usage.ru_maxrss // 1024, out.read()


def main() -> int:
    """Prints the figures of one run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--stores", type=int, default=500)
    parser.add_argument("--days", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-"))
    try:
        gen_s, gen_mib, out = run_child(
            CHILD_GENERATE, str(work / "landing"), str(args.stores), str(args.days)
        )
        counts = json.loads(out.strip().splitlines()[-1])
        lines = counts["pos_lines"]
        duck_s, duck_mib, _ = run_child(
            CHILD_DUCKDB, str(lines), str(args.stores), str(work / "duckdb")
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"retailmax generate --stores {args.stores} --days {args.days} (all sources)")
    print(f"  POS lines            {lines:>14,}")
    print(f"  other rows           {sum(counts.values()) - lines:>14,}")
    print(f"  wall time            {gen_s:>14.1f} s")
    print(f"  POS lines per second {lines / gen_s:>14,.0f}")
    print(f"  peak RSS             {gen_mib:>14,} MiB")
    print(f"DuckDB peer: {lines:,} random POS-shaped rows to CSV partitioned by store, 2 threads")
    print(f"  wall time            {duck_s:>14.1f} s")
    print(f"  rows per second      {lines / duck_s:>14,.0f}")
    print(f"  peak RSS             {duck_mib:>14,} MiB")
    print(f"ratio generate / DuckDB: time {gen_s / duck_s:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
