"""How long the DAG files take to parse, as the DAG processor sees them (Airflow already loaded).

The peer is a minimal one-task DAG file parsed in the same process and run; the budget is 2 s
per file (issue #7). Each file is parsed in a fresh interpreter, so the first file does not
pay for the others' imports, nor they for its.

    .venv/bin/python -m benchmarks.dag_parse [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUDGET_SECONDS = 2.0
PEER_DAG = '''"""Airflow DAG: the smallest real DAG file, the peer of the benchmark."""
from datetime import datetime

from airflow.providers.standard.operators.empty import EmptyOperator
from airflow.sdk import DAG

with DAG(dag_id="peer", schedule="@daily", start_date=datetime(2024, 3, 1)):
    EmptyOperator(task_id="noop")
'''
PARSE_ONE = """
import json, sys, time
t0 = time.perf_counter()
import airflow.sdk  # the DAG processor has Airflow loaded before it parses any file
from airflow.dag_processing.dagbag import DagBag
t1 = time.perf_counter()
bag = DagBag(dag_folder=sys.argv[1])
stats = bag.dagbag_stats
assert not bag.import_errors, bag.import_errors
print(json.dumps({"airflow_import": t1 - t0, "parse": stats[0].duration.total_seconds(),
                  "pyspark_imported": "pyspark" in sys.modules}))
"""


def parse_seconds(path: Path, env: dict[str, str]) -> dict[str, float]:
    """One fresh interpreter: import Airflow, then parse the single DAG file at `path`."""
    done = subprocess.run(
        [sys.executable, "-c", PARSE_ONE, str(path)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    """Prints the parse time of every DAG file, its ratio to the peer, and the budget."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per file, best kept")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "AIRFLOW_HOME": home, "AIRFLOW__CORE__LOAD_EXAMPLES": "False"}
        peer = Path(home) / "peer_dag.py"
        peer.write_text(PEER_DAG)
        files = [peer, *sorted((PROJECT_ROOT / "dags").glob("*.py"))]
        best: dict[str, dict[str, float]] = {}
        for path in files:
            runs = [parse_seconds(path, env) for _ in range(args.repeat)]
            best[path.name] = min(runs, key=lambda run: run["parse"])
    peer_seconds = best["peer_dag.py"]["parse"]
    print(f"{'file':<20} {'parse s':>8} {'x peer':>7}  pyspark  (budget {BUDGET_SECONDS:.0f} s)")
    for name, run in best.items():
        ratio = run["parse"] / peer_seconds
        flag = "" if run["parse"] < BUDGET_SECONDS else "  OVER BUDGET"
        print(
            f"{name:<20} {run['parse']:>8.3f} {ratio:>7.1f}  {run['pyspark_imported']!s:<7}{flag}"
        )
    airflow_import = min(run["airflow_import"] for run in best.values())
    print(f"(importing Airflow itself, before any DAG file: {airflow_import:.2f} s)")


if __name__ == "__main__":
    main()
