"""`make demo`: a few days of about 50 stores with anomalies, run by real Airflow, summarised.

1. `retailmax generate` into the landing root (anomalies included);
2. `airflow dags test retail_daily D` for each day (SQLite in .airflow/, local backend), with
   a local SMTP server and webhook receiver on 127.0.0.1 standing in for on-call's inboxes;
3. per-table row counts (read with deltalake, not Spark), quarantined lines, the alerts that
   arrived, and the path of each daily report.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

from jobs.orchestration.local_airflow import DEFAULT_HOME, dags_test, local_airflow_env, migrate
from jobs.orchestration.plan import table_uri
from jobs.orchestration.receivers import Inbox, alert_receivers
from jobs.registry import JOBS, lake_table_names
from jobs.report import report_path
from jobs.settings import load_settings

DEMO_JOBS = ("sales", "sales-gold", "inventory", "promotions")  # the Spark steps of retail_daily
DEMO_TABLES = lake_table_names(JOBS[job] for job in DEMO_JOBS)


def table_rows(lake_root: str, table: str) -> int | None:
    """Rows of a lake table, counted by the deltalake reader; None when it does not exist."""
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return int(DeltaTable(table_uri(lake_root, table)).to_pyarrow_table().num_rows)
    except TableNotFoundError:
        return None


def print_summary(lake_root: str, days: list[date], inbox: Inbox) -> None:
    """What the demo produced."""
    print("\nDelta tables (rows, read back with deltalake):")
    for table in DEMO_TABLES:
        rows = table_rows(lake_root, table)
        print(f"  {table:<26} {'missing' if rows is None else f'{rows:>10,}'}")
    quarantined = table_rows(lake_root, "quarantine.sales_lines") or 0
    print(f"quarantined POS lines: {quarantined:,} (rule per line in quarantine.sales_lines)")
    print(f"alerts raised: {len(inbox.emails)} e-mail(s), {len(inbox.posts)} webhook call(s)")
    for post in inbox.posts:
        print(f"  - {post.get('text', '').splitlines()[0]}")
    feeds = sorted(Path(lake_root, "feeds", "ecommerce_availability").glob("as_of=*"))
    if feeds:
        print(f"availability feeds: {len(feeds)}, the latest {feeds[-1]}")
    print("daily reports:")
    for day in days:
        path = Path(report_path(lake_root, day))
        print(f"  {path}{'' if path.is_file() else '  (not written: that run failed)'}")
    print(f"lake: {lake_root}")


def _progress(started: float) -> Callable[[str], None]:
    """Prints each task's end with the seconds since the run started."""

    def show(event: str) -> None:
        print(f"  {time.perf_counter() - started:5.0f}s  {event}", flush=True)

    return show


def main(argv: list[str] | None = None) -> int:
    """Generates, runs retail_daily per day through Airflow, prints the summary."""
    parser = argparse.ArgumentParser(prog="python -m jobs.orchestration.demo")
    parser.add_argument("--stores", type=int, default=50)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 3, 4))
    parser.add_argument("--anomalies", type=float, default=0.002)
    parser.add_argument("--lines-per-store", type=int, default=2000)
    args = parser.parse_args(argv)

    from jobs.generate import GenerateOptions, generate

    settings = load_settings()
    days = [args.start + timedelta(days=offset) for offset in range(args.days)]
    generate(
        GenerateOptions(
            landing=Path(settings.landing_root),
            stores=args.stores,
            days=args.days,
            start=args.start,
            anomalies=args.anomalies,
            lines_per_store=args.lines_per_store,
            progress=False,
        )
    )
    print(f"landing: {args.stores} stores x {args.days} days in {settings.landing_root}")
    logs = DEFAULT_HOME / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    failed = 0
    with alert_receivers() as inbox:
        env = local_airflow_env(settings, DEFAULT_HOME, inbox.smtp_port, inbox.webhook_url)
        migrate(settings, env)
        for day in days:
            log_file = logs / f"retail_daily_{day}.log"
            started = time.perf_counter()
            print(f"retail_daily {day}: running (log {log_file})", flush=True)
            with log_file.open("w") as out:
                code = dags_test(
                    "retail_daily", str(day), env, stdout=out, progress=_progress(started)
                )
            status = "success" if code == 0 else f"FAILED (exit {code})"
            seconds = time.perf_counter() - started
            print(f"retail_daily {day}: {status} in {seconds:.0f}s - log {log_file}", flush=True)
            failed += code != 0
        print_summary(settings.lake_root, days, inbox)
    if settings.spark.local_driver == "warm":
        from jobs.warm_driver import stop

        if stop(settings):
            print("warm driver stopped (it ran every Spark task of the demo)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
