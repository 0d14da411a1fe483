"""`python -m benchmarks.phases run JOB ...`: the `retailmax` CLI with a per-phase profile.
`python -m benchmarks.phases --steps '[["run", "sales", ...], ...]'`: the steps one after the
other in this process, on one session started as the warm driver starts its own
(`warm_java_options`), one `PHASES ` line per step: the warm driver's shape, without its socket.

Runs jobs.cli.main in this process after wrapping the calls where a job spends its time: the
Spark session start, every Delta write (save, MERGE) and every action that brings a result to
the driver (count, collect, first, isEmpty, toPandas). Each call is charged to the nearest
frame of the `jobs` package that made it. At exit, one JSON line on stderr prefixed
`PHASES ` holds {"phases": [[label, seconds], ...], "process": seconds since interpreter
start}. The jobs themselves know nothing of this: it is for benchmarks/day.py only.
"""

from __future__ import annotations

import atexit
import functools
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

JOBS_DIR = str(Path(__file__).resolve().parent.parent / "jobs")
PREFIX = "PHASES "
_phases: list[tuple[str, float]] = []
_depth = 0


def _caller() -> str:
    """`module.function:line` of the innermost jobs/ frame below this wrapper."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code.co_filename.startswith(JOBS_DIR):
            module = Path(frame.f_code.co_filename).relative_to(JOBS_DIR).with_suffix("")
            return f"{'.'.join(module.parts)}.{frame.f_code.co_name}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "?"


def _timed(kind: str, function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _depth
        if _depth:  # an action inside a timed call (e.g. collect inside toPandas)
            return function(*args, **kwargs)
        label, started = f"{kind} {_caller()}", time.perf_counter()
        _depth += 1
        try:
            return function(*args, **kwargs)
        finally:
            _depth -= 1
            _phases.append((label, time.perf_counter() - started))

    return wrapper


def install(report_at_exit: bool = True) -> None:
    """Wraps the session start, Delta writes and driver actions."""
    from delta.tables import DeltaMergeBuilder, DeltaTable, DeltaTableBuilder
    from pyspark.sql import DataFrameReader, DataFrameWriter, SparkSession
    from pyspark.sql.classic.dataframe import DataFrame

    targets: list[tuple[Any, str, str]] = [
        (SparkSession.Builder, "getOrCreate", "session"),
        (DataFrameWriter, "save", "write"),
        *((DataFrameReader, name, f"read.{name}") for name in ("load", "csv", "json")),
        (DeltaMergeBuilder, "execute", "merge"),
        (DeltaTableBuilder, "execute", "create"),
        (SparkSession, "createDataFrame", "createDataFrame"),
        *((DataFrame, name, name) for name in ("count", "collect", "first", "isEmpty")),
        (DataFrame, "toPandas", "toPandas"),
    ]
    for owner, name, kind in targets:
        setattr(owner, name, _timed(kind, getattr(owner, name)))
    for name in ("isDeltaTable", "forPath"):  # class methods: wrap the underlying function
        function = getattr(DeltaTable, name).__func__
        setattr(DeltaTable, name, classmethod(_timed(name, function)))
    if report_at_exit:
        atexit.register(_report)


def _report() -> None:
    import psutil

    process = time.time() - psutil.Process().create_time()
    line = json.dumps({"phases": _phases, "process": process})
    print(PREFIX + line, file=sys.stderr, flush=True)


def run_steps(steps: list[list[str]]) -> int:
    """Each step's `retailmax` arguments in turn on one warm-driver session; a PHASES line each
    (the first step's includes the session start)."""
    from jobs.cli import main
    from jobs.warm_driver import start_session

    started = time.perf_counter()
    start_session()
    for arguments in steps:
        code = main(arguments)
        wall = time.perf_counter() - started
        line = json.dumps({"step": arguments, "wall": wall, "phases": _phases, "code": code})
        print(PREFIX + line, file=sys.stderr, flush=True)
        if code != 0:
            return code
        _phases.clear()
        started = time.perf_counter()
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--steps"]:
        install(report_at_exit=False)
        from jobs.cli import exit_now

        exit_now(run_steps(json.loads(sys.argv[2])))  # as the warm driver ends
    install()
    from jobs.cli import main

    sys.exit(main(sys.argv[1:]))
