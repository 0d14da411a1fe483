"""`retailmax`: generate landing data and run jobs; an error ends with one line and an exit code."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import NoReturn

from jobs.context import RunContext
from jobs.errors import (
    JOB_ERROR_PREFIX,
    BadArgumentError,
    ExitCode,
    MissingInputError,
    RetailMaxError,
)
from jobs.registry import JOBS, Argument, JobSpec, jobs_taking
from jobs.selection import parse_shard, parse_store_list
from jobs.settings import Settings, load_settings

log = logging.getLogger("retailmax")
# In a Kubernetes container the kubelet mounts this file; what a failing job writes there
# becomes the container's termination message, which Airflow's failure (and the alert) shows.
TERMINATION_LOG = "RETAILMAX_TERMINATION_LOG"
DEFAULT_TERMINATION_LOG = "/dev/termination-log"


def _date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date YYYY-MM-DD") from None


def _instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"'{text}' is not a timestamp like 2024-03-04T10:15:00+00:00"
        ) from None
    # Naive means UTC; the jobs compare UTC instants.
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not 0.0 <= value < 0.5:
        raise argparse.ArgumentTypeError(f"{value} is not a rate in [0, 0.5)")
    return value


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be at least 1")
    return value


def _jobs(argument: Argument) -> str:
    """`sales` or `a, b`: the jobs that take `argument`, for help and errors."""
    return ", ".join(jobs_taking(argument))


def build_parser() -> argparse.ArgumentParser:
    """The argument parser; `retailmax --help` lists the jobs."""
    width = max(len(name) for name in JOBS)
    jobs_help = "\n".join(f"  {spec.name:<{width}}  {spec.summary}" for spec in JOBS.values())
    parser = argparse.ArgumentParser(
        prog="retailmax",
        description="RetailMax lakehouse pipelines.",
        epilog=f"jobs (retailmax run JOB):\n{jobs_help}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    generate = commands.add_parser(
        "generate", help="write deterministic, realistic landing data for every source"
    )
    generate.add_argument("--stores", type=_positive, default=20, help="stores (default 20)")
    generate.add_argument("--days", type=_positive, default=1, help="days (default 1)")
    generate.add_argument(
        "--start",
        type=_date,
        default=date(2024, 3, 4),
        help="first business date (default 2024-03-04)",
    )
    generate.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    generate.add_argument(
        "--anomalies",
        type=_rate,
        default=0.0,
        help="share of POS lines to corrupt, e.g. 0.01 (default 0)",
    )
    generate.add_argument("--skus", type=_positive, default=5000, help="catalogue size")
    generate.add_argument(
        "--lines-per-store",
        type=_positive,
        default=20_000,
        help="mean POS lines per store and day (default 20000)",
    )
    generate.add_argument(
        "--landing",
        type=Path,
        default=None,
        help="landing root (default: paths.landing_root of the conf)",
    )
    generate.add_argument("--env", default=None, help="conf environment (default RETAILMAX_ENV)")
    generate.add_argument("--no-progress", action="store_true", help="no progress bar")

    run = commands.add_parser("run", help="run one job for one business date")
    run.add_argument("job", choices=sorted(JOBS), metavar="JOB", help=", ".join(sorted(JOBS)))
    for_request = _jobs(Argument.REQUEST)
    run.add_argument(
        "--date", type=_date, help=f"business date YYYY-MM-DD ({for_request}: default today)"
    )
    scope = run.add_mutually_exclusive_group()
    for_stores = _jobs(Argument.STORES)
    scope.add_argument("--stores", help=f"{for_stores}: store ids, e.g. 1-50,72 (default: all)")
    scope.add_argument("--shard", help=f"{for_stores}: shard I/N of the stores, e.g. 2/8")
    for_window = _jobs(Argument.WINDOW)
    run.add_argument(
        "--since", type=_instant, help=f"{for_window}: first movement instant of the batch (incl.)"
    )
    run.add_argument("--until", type=_instant, help=f"{for_window}: end of the batch (excluded)")
    run.add_argument("--request", metavar="FILE", help=f"{for_request}: the request (JSON)")
    run.add_argument("--env", default=None, help="conf environment (default RETAILMAX_ENV)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `retailmax` console script and `python -m jobs`."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("py4j").setLevel(logging.WARNING)  # its shutdown chatter would follow
    args = build_parser().parse_args(argv)
    try:
        if args.command == "generate":
            return _generate(args)
        return _run(args)
    except RetailMaxError as exc:
        _report_failure(str(exc))
        return int(exc.exit_code)
    except Exception as exc:  # unexpected: the traceback goes to the log, the reason is one line
        log.exception("%s failed", args.command)
        _report_failure(one_line(exc))
        return int(ExitCode.FAILURE)


def entry() -> NoReturn:
    """The `retailmax` console script and `python -m jobs`: main(), then the process ends with
    main's exit code at once.

    deltalake 1.6.6 (the newest) sometimes aborts the interpreter's finalization after all the
    work is done: "terminate called without an active exception", SIGABRT, exit code 134
    (measured: 1 run in 40 of `retailmax run report` on a busy machine). Native threads its
    readers started are still joinable when the runtime's static objects are destroyed at
    exit, and C++ calls std::terminate. Nothing is left to do at that point, so the job's own
    code must not be replaced by that abort: Spark is stopped (event logs, temp files), the
    streams and logs are flushed, and os._exit skips the finalization."""
    code = main()
    stop_spark()
    exit_now(code)


def stop_spark() -> None:
    """Stops this process's Spark session, if it started one."""
    if "pyspark" in sys.modules:
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()


def exit_now(code: int) -> NoReturn:
    """Flushes the logs and streams, then ends the process with `code` at once, skipping the
    interpreter's finalization (see entry)."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def one_line(exc: BaseException) -> str:
    """An unexpected error in one line: for an error raised in Spark's JVM, the message of its
    root cause (not Py4J's "An error occurred while calling o1091.save")."""
    java = getattr(exc, "java_exception", None)
    if java is not None:  # py4j.protocol.Py4JJavaError
        try:
            root = java
            while root.getCause() is not None and root.getCause() != root:
                root = root.getCause()
            name = str(root.getClass().getSimpleName())
            message = str(root.getMessage() or "").strip()
        except Exception:  # the JVM may be gone; fall back to Python's text below
            name, message = type(exc).__name__, ""
        if message:
            return f"{name}: {message.splitlines()[0]}"
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def _report_failure(reason: str) -> None:
    """The one-line reason on stderr, and as the termination message inside a container."""
    line = f"{JOB_ERROR_PREFIX}{reason}"
    print(line, file=sys.stderr)
    termination_log = Path(os.environ.get(TERMINATION_LOG, DEFAULT_TERMINATION_LOG))
    if termination_log.is_file():  # present only where the kubelet (or a test) provides it
        try:
            termination_log.write_text(line + "\n")
        except OSError as exc:
            log.warning("could not write the termination message to %s: %s", termination_log, exc)


def _generate(args: argparse.Namespace) -> int:
    from jobs.generate import GenerateOptions, generate

    landing = args.landing or Path(load_settings(args.env).landing_root)
    started = time.perf_counter()
    result = generate(
        GenerateOptions(
            landing=landing,
            stores=args.stores,
            days=args.days,
            start=args.start,
            seed=args.seed,
            anomalies=args.anomalies,
            skus=args.skus,
            lines_per_store=args.lines_per_store,
            progress=not args.no_progress,
        )
    )
    seconds = time.perf_counter() - started
    counts = ", ".join(f"{name}={rows:,}" for name, rows in sorted(result.counts.items()))
    print(f"landing data written to {landing} in {seconds:.1f}s: {counts}")
    print(f"manifest: {result.manifest_path}")
    return int(ExitCode.OK)


def _check_arguments(spec: JobSpec, args: argparse.Namespace) -> None:
    """Each optional argument only for the jobs whose spec takes it; one line otherwise."""
    given = {
        Argument.STORES: bool(args.stores or args.shard),
        Argument.WINDOW: bool(args.since or args.until),
        Argument.REQUEST: bool(args.request),
    }
    for argument, present in given.items():
        if present and argument not in spec.arguments:
            takers = jobs_taking(argument)
            verb = "applies" if argument == Argument.REQUEST else "apply"
            noun = "job" if len(takers) == 1 else "jobs"
            raise BadArgumentError(f"{argument} {verb} to the {', '.join(takers)} {noun} only")
    if args.since and args.until and args.since >= args.until:
        raise BadArgumentError(f"--since {args.since} is not before --until {args.until}")
    if Argument.REQUEST in spec.arguments:
        if not args.request:
            raise BadArgumentError(f"{spec.name} needs --request FILE (a JSON erasure request)")
        if args.date is None:
            args.date = datetime.now(UTC).date()
    if args.date is None:
        raise BadArgumentError(f"job {spec.name} needs --date YYYY-MM-DD")


def _run(args: argparse.Namespace) -> int:
    spec = JOBS[args.job]
    _check_arguments(spec, args)
    stores = parse_store_list(args.stores) if args.stores else None
    shard = parse_shard(args.shard) if args.shard else None
    settings = load_settings(args.env)
    _check_landing(settings, spec, args.date)
    job = spec.load()
    context = RunContext(
        settings=settings,
        run_date=args.date,
        stores=stores,
        shard=shard,
        started_at=datetime.now(UTC),
        since=args.since.replace(tzinfo=None) if args.since else None,
        until=args.until.replace(tzinfo=None) if args.until else None,
        request=args.request,
    )
    scope = f"request {args.request}" if args.request else context.describe_scope()
    log.info("run %s for %s (%s) on %s", spec.name, args.date, scope, settings.env)
    figures = job(context)
    shown = ", ".join(f"{name}={value}" for name, value in (figures or {}).items())
    print(f"{spec.name} {args.date} ({scope}) done: {shown}")
    print(f"lake: {settings.lake_root}")
    return int(ExitCode.OK)


def _check_landing(settings: Settings, spec: JobSpec, run_date: date) -> None:
    """Fails with one line when a local landing folder the job needs for the date is absent."""
    root = settings.landing_root
    if "://" in root:
        return  # object storage: the job itself reports what it cannot list
    for pattern in spec.landing_inputs:
        folder = Path(root) / pattern.format(date=run_date.isoformat())
        if not folder.is_dir():
            raise MissingInputError(
                f"no landing data for {spec.name} on {run_date}: {folder} does not exist"
            )
