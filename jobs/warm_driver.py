"""The local backend's warm driver: one process, one Spark session, every task's `retailmax` run.

On the local backend a spark-submit per Airflow task pays the JVM's start, the session's and
Delta's log replay of every table it touches, each time, for seconds of work (docs/performance.md).
With `spark.local_driver: warm` (conf/local.yaml) the first task of a DAG run starts this
driver; it and every later task send it their `retailmax` arguments over a Unix socket and it
runs them one at a time, in its main thread, through the same `jobs.cli.main` that spark-submit
and the SparkApplications run. The job code does not know which it runs on. The Kubernetes
backend keeps one SparkApplication per task.

    python -m jobs.warm_driver run -- run sales --date 2024-03-04 --stores 1-25
    python -m jobs.warm_driver status     # pid, runs, log of the driver for this conf and code
    python -m jobs.warm_driver stop

- One driver per (Python, Spark conf, source of `jobs/`): a changed conf or a code change starts a
  new driver for the next task; the old one ends after `warm_idle_minutes` without a run.
- The task's `RETAILMAX_*` variables (conf, roots, salt) are set for its run only.
- Runs are serial: at most one job at a time uses the session, as the local pool's one slot
  has it anyway. A task that arrives meanwhile waits for its turn.
- What a run leaves cached (a run that fails or is cancelled does not reach its `unpersist`)
  is dropped when it ends, so that the next run starts with the session's cache empty.
- A client that goes away (the task killed, its timeout) has its Spark jobs cancelled until the
  run ends; a driver whose JVM has died answers no further run and exits, and the next task
  starts a new one.
- The JVM's own log (Spark's warnings) is the driver's log file, printed at each run's start.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import io
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from jobs.cli import exit_now, stop_spark
from jobs.cli import main as retailmax
from jobs.errors import JOB_ERROR_PREFIX, ExitCode
from jobs.settings import PROJECT_ROOT, Settings, load_settings

PACKAGE = Path(__file__).resolve().parent
# Where the sockets, locks and logs live: per user, never on a network (a Unix socket only).
DIR_VAR = "RETAILMAX_WARM_DIR"
FORWARDED_PREFIX = "RETAILMAX_"
START_TIMEOUT_SECONDS = 120.0
CANCEL_EVERY_SECONDS = 0.5
LOG_TAIL_LINES = 20
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

log = logging.getLogger("retailmax.warm_driver")


class WarmDriverError(Exception):
    """The warm driver could not be started or reached, or ended during a run."""


def warm_dir() -> Path:
    """The folder of the drivers' sockets, locks and logs (RETAILMAX_WARM_DIR overrides it)."""
    override = os.environ.get(DIR_VAR)
    if override:
        return Path(override)
    return Path(tempfile.gettempdir()) / f"retailmax-warm-{os.getuid()}"


def warm_settings(settings: Settings) -> Settings:
    """The settings the warm driver's session starts with: `warm_java_options` for its JVM."""
    spark = settings.spark.model_copy(
        update={"driver_java_options": settings.spark.warm_java_options}
    )
    return settings.model_copy(update={"spark": spark})


def driver_key(settings: Settings) -> str:
    """What a driver is reused for: this Python environment, the session's conf, and the
    source of `jobs/`. The landing and lake roots are not part of it: they are each run's."""
    from jobs.spark import spark_conf

    settings = warm_settings(settings)
    digest = hashlib.sha256()
    digest.update(sys.prefix.encode())  # the environment (the venv), however Python was called
    digest.update(str(settings.spark.master).encode())
    digest.update(json.dumps(spark_conf(settings), sort_keys=True).encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def _paths(key: str) -> tuple[Path, Path, Path]:
    folder = warm_dir()
    return folder / f"{key}.sock", folder / f"{key}.lock", folder / f"{key}.log"


def _send(connection: socket.socket, message: dict[str, Any]) -> None:
    connection.sendall(json.dumps(message).encode() + b"\n")


# The client: what a task runs.


def run(
    argv: list[str],
    out: Callable[[str], None] = print,
    settings: Settings | None = None,
) -> int:
    """Runs `retailmax <argv>` in the warm driver for this conf and code, starting it if none
    runs; `out` gets each line the run prints. Returns the run's exit code."""
    settings = settings or load_settings()
    key = driver_key(settings)
    connection = _connect_or_start(key, settings)
    _, _, log_path = _paths(key)
    env = {name: value for name, value in os.environ.items() if name.startswith(FORWARDED_PREFIX)}
    with connection, connection.makefile("rb") as replies:
        _send(connection, {"op": "run", "argv": argv, "env": env})
        for line in replies:
            message = json.loads(line)
            if "out" in message:
                out(message["out"])
            elif "started" in message:
                pid, number = message["started"], message["run"]
                out(f"warm driver pid {pid}, run {number} (JVM log: {log_path})")
            elif "exit" in message:
                return int(message["exit"])
    tail = _log_tail(log_path)
    out(f"{JOB_ERROR_PREFIX}the warm driver ended during the run; its log {log_path} ends:\n{tail}")
    return int(ExitCode.FAILURE)


def status(settings: Settings | None = None) -> dict[str, Any] | None:
    """The driver for this conf and code: pid, runs so far, log; None when none runs."""
    socket_path, _, log_path = _paths(driver_key(settings or load_settings()))
    reply = _ask(socket_path, "status")
    return None if reply is None else {**reply, "log": str(log_path), "socket": str(socket_path)}


def stop(settings: Settings | None = None) -> bool:
    """Stops the driver for this conf and code (after its current run); False when none ran."""
    socket_path, _, _ = _paths(driver_key(settings or load_settings()))
    return _ask(socket_path, "stop") is not None


def stop_all(folder: Path | None = None) -> int:
    """Stops every driver with a socket in `folder` (default: warm_dir()); how many stopped."""
    sockets = sorted((folder or warm_dir()).glob("*.sock"))
    return sum(_ask(socket_path, "stop") is not None for socket_path in sockets)


def _ask(socket_path: Path, op: str) -> dict[str, Any] | None:
    """The driver's reply to `op` (status, stop); None when no driver listens there."""
    try:
        connection = _connect(socket_path)
    except OSError:
        return None
    with connection, connection.makefile("rb") as replies:
        _send(connection, {"op": op})
        reply: dict[str, Any] = json.loads(replies.readline() or b"{}")
    return reply


def _connect(path: Path) -> socket.socket:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(str(path))
    except OSError:
        connection.close()
        raise
    return connection


def _connect_or_start(key: str, settings: Settings) -> socket.socket:
    """A connection to the running driver; under a lock, so that two tasks start one driver."""
    socket_path, lock_path, log_path = _paths(key)
    socket_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return _connect(socket_path)
        except OSError:  # none yet, or a socket left by a driver that died
            socket_path.unlink(missing_ok=True)
        idle = str(settings.spark.warm_idle_minutes * 60)
        with log_path.open("a") as log_file:
            process = subprocess.Popen(
                [sys.executable, "-m", "jobs.warm_driver", "serve", "--key", key, "--idle", idle],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
                start_new_session=True,  # outlives the task that started it
            )
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise WarmDriverError(
                    f"the warm driver exited with code {process.returncode} while starting; "
                    f"its log {log_path} ends:\n{_log_tail(log_path)}"
                )
            try:
                return _connect(socket_path)
            except OSError:
                if time.monotonic() > deadline:
                    process.kill()
                    raise WarmDriverError(
                        f"the warm driver did not start within {START_TIMEOUT_SECONDS:.0f} s; "
                        f"see {log_path}"
                    ) from None
                time.sleep(0.1)


def _log_tail(path: Path) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:])
    except OSError:
        return "(no log)"


# The driver.


class _Lines(io.TextIOBase):
    """A text stream that sends each complete line to the client (dropped once it has gone)."""

    def __init__(self, connection: socket.socket) -> None:
        self._connection = connection
        self._pending = ""
        self._lock = threading.Lock()
        self.gone = False

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            self._pending += text
            *lines, self._pending = self._pending.split("\n")
            for line in lines:
                self._emit(line)
        return len(text)

    def flush(self) -> None:
        with self._lock:
            if self._pending:
                self._emit(self._pending)
                self._pending = ""

    def _emit(self, line: str) -> None:
        if self.gone:
            return
        try:
            _send(self._connection, {"out": line})
        except OSError:
            self.gone = True


class _CurrentStderr(logging.Handler):
    """Log records go to whatever sys.stderr is: the client during a run, the log file between."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(self.format(record) + "\n")
        except Exception:
            self.handleError(record)


@contextlib.contextmanager
def _task_environment(env: dict[str, str]) -> Iterator[None]:
    """The task's RETAILMAX_* variables for the run, the driver's own afterwards."""
    own = {name: value for name, value in os.environ.items() if name.startswith(FORWARDED_PREFIX)}
    for name in own:
        del os.environ[name]
    os.environ.update({k: v for k, v in env.items() if k.startswith(FORWARDED_PREFIX)})
    try:
        yield
    finally:
        for name in [n for n in os.environ if n.startswith(FORWARDED_PREFIX)]:
            del os.environ[name]
        os.environ.update(own)


def _cancel_while_gone(connection: socket.socket, lines: _Lines, done: threading.Event) -> None:
    """When the client goes away mid-run, cancels the run's Spark jobs until the run ends."""
    try:
        while not done.is_set() and connection.recv(1):
            pass
    except OSError:
        pass
    if done.is_set():
        return
    lines.gone = True
    log.warning("the client went away: cancelling the run's Spark jobs")
    from pyspark import SparkContext

    while not done.wait(CANCEL_EVERY_SECONDS):
        context = SparkContext._active_spark_context
        if context is not None:
            context.cancelAllJobs()


def _run_one(connection: socket.socket, request: dict[str, Any], runs: int) -> int:
    lines = _Lines(connection)
    done = threading.Event()
    watcher = threading.Thread(
        target=_cancel_while_gone, args=(connection, lines, done), daemon=True
    )
    watcher.start()
    argv = [str(arg) for arg in request["argv"]]
    print(f"run {runs}: retailmax {' '.join(argv)}", file=sys.stderr, flush=True)
    _send(connection, {"started": os.getpid(), "run": runs})
    saved = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = lines
    try:
        with _task_environment(request.get("env", {})):
            try:
                code = retailmax(argv)
            except SystemExit as exc:  # argparse: bad arguments
                code = exc.code if isinstance(exc.code, int) else int(ExitCode.BAD_ARGUMENTS)
    finally:
        lines.flush()
        sys.stdout, sys.stderr = saved
        done.set()
    print(f"run {runs}: exit {code}", file=sys.stderr, flush=True)
    return code


def _session_alive() -> bool:
    """False when the session's JVM has gone (killed, out of memory): the driver must end."""
    from pyspark import SparkContext

    context = SparkContext._active_spark_context
    if context is None:
        return True  # no Spark job has run yet (the report reads with deltalake)
    try:
        context._jvm.java.lang.System.currentTimeMillis()  # type: ignore[union-attr]
    except Exception:
        return False
    return True


def _cache_empty() -> bool | None:
    """Whether the session caches nothing (None before the session starts)."""
    from pyspark.sql import SparkSession

    session = SparkSession.getActiveSession()  # the jobs run in this, the main, thread
    if session is None:
        return None
    return bool(session._jsparkSession.sharedState().cacheManager().isEmpty())


def serve(key: str, idle_seconds: float) -> NoReturn:
    """Listens on the key's socket and runs one request at a time until idle for
    `idle_seconds`, asked to stop, or its JVM has gone."""
    from jobs.spark import drop_cached_frames

    root = logging.getLogger()
    root.setLevel(logging.INFO)
    handler = _CurrentStderr()
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
    root.addHandler(handler)
    logging.getLogger("py4j").setLevel(logging.WARNING)
    socket_path, _, _ = _paths(key)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(socket_path))
    listener.listen(16)
    listener.settimeout(idle_seconds)
    inode = socket_path.stat().st_ino
    log.info("warm driver %s listening on %s (pid %d)", key, socket_path, os.getpid())
    runs = 0
    try:
        while True:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                log.info("no run for %.0f s: stopping", idle_seconds)
                break
            with connection:
                connection.settimeout(None)
                request = json.loads(connection.makefile("rb").readline() or b"{}")
                op = request.get("op")
                if op == "stop":
                    _send(connection, {"stopped": os.getpid()})
                    log.info("asked to stop")
                    break
                if op == "status":
                    reply = {"pid": os.getpid(), "runs": runs, "key": key}
                    _send(connection, {**reply, "cache_empty": _cache_empty()})
                    continue
                if op != "run":
                    continue
                runs += 1
                code = _run_one(connection, request, runs)
                alive = _session_alive()
                if alive:
                    drop_cached_frames()
                with contextlib.suppress(OSError):
                    _send(connection, {"exit": code if alive else int(ExitCode.FAILURE)})
                    connection.shutdown(socket.SHUT_RDWR)  # wakes the watcher's recv
                if not alive:
                    log.error("the session's JVM has gone: stopping")
                    break
    finally:
        with contextlib.suppress(OSError):
            if socket_path.stat().st_ino == inode:  # not a newer driver's socket
                socket_path.unlink()
        with contextlib.suppress(Exception):  # its JVM may be gone already
            stop_spark()
        exit_now(0)  # as jobs.cli.entry: deltalake's native threads may abort finalization


def start_session() -> None:
    """The session, before the driver listens: the first task waits for it once."""
    from jobs.spark import get_spark

    get_spark(warm_settings(load_settings()))


def main(argv: list[str] | None = None) -> int:
    """`python -m jobs.warm_driver run -- ARGS | status | stop | serve`."""
    parser = argparse.ArgumentParser(prog="python -m jobs.warm_driver")
    commands = parser.add_subparsers(dest="command", required=True)
    run_command = commands.add_parser("run", help="run `retailmax ARGS` in the warm driver")
    run_command.add_argument("args", nargs=argparse.REMAINDER)
    commands.add_parser("status", help="the driver for this conf and code, if one runs")
    commands.add_parser("stop", help="stop the driver for this conf and code")
    serve_command = commands.add_parser("serve", help="(started by `run`) be the driver")
    serve_command.add_argument("--key", required=True)
    serve_command.add_argument("--idle", type=float, required=True, help="seconds")
    args = parser.parse_args(argv)
    if args.command == "run":
        arguments = args.args[1:] if args.args[:1] == ["--"] else args.args
        return run(arguments, out=lambda line: print(line, flush=True))
    if args.command == "status":
        found = status()
        print(json.dumps(found) if found else "no warm driver runs for this conf and code")
        return 0
    if args.command == "stop":
        print("stopped" if stop() else "no warm driver ran for this conf and code")
        return 0
    start_session()
    serve(args.key, args.idle)


if __name__ == "__main__":
    raise SystemExit(main())
