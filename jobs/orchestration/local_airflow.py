"""The embedded Airflow: a project-local AIRFLOW_HOME with SQLite, these DAGs, local connections.

`python -m jobs.orchestration.local_airflow migrate | test DAG DATE | standalone`; the Makefile's
`demo` and `airflow` targets and the end-to-end tests all go through here.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from jobs.settings import PROJECT_ROOT, Settings, load_settings

DEFAULT_HOME = PROJECT_ROOT / ".airflow"
AIRFLOW = str(Path(sys.executable).parent / "airflow")
# Where the demo points alerts when no receiver runs: a closed port, so a failure is visible
# in the task log instead of reaching anybody.
UNREACHABLE = ("127.0.0.1", 9)
SALT_VARIABLE = "RETAILMAX_PII_SALT"  # jobs.customers reads it; an exported one wins
# What `airflow dags test` logs when a task it ran has ended (whatever its state).
TASK_ENDED = re.compile(r"\[DAG TEST\] end task task_id=(\S+) map_index=(-?\d+)")


def local_pii_salt(home: Path) -> str:
    """This machine's salt for the customers job: made once, kept in AIRFLOW_HOME (not git)."""
    path = home / "pii_salt"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_hex(32))
    return path.read_text().strip()


def _conn_var(conn_id: str) -> str:
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def local_airflow_env(
    settings: Settings,
    home: Path = DEFAULT_HOME,
    smtp_port: int | None = None,
    webhook_url: str | None = None,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of every local Airflow command: home, DAGs, connections, no examples."""
    env = dict(os.environ if base is None else base)
    bin_dir = str(Path(sys.executable).parent)
    smtp_host, closed_port = UNREACHABLE
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
            "AIRFLOW__API__BASE_URL": "http://localhost:8080",
            "AIRFLOW__API__HOST": "127.0.0.1",  # the UI on this machine only
            "PATH": f"{bin_dir}{os.pathsep}{env.get('PATH', '')}",
            _conn_var(settings.orchestration.spark_conn_id): json.dumps(
                {"conn_type": "spark", "host": settings.spark.master or "local[*]"}
            ),
            _conn_var(settings.alerts.smtp_conn_id): json.dumps(
                {
                    "conn_type": "smtp",
                    "host": smtp_host,
                    "port": smtp_port or closed_port,
                    "extra": {"disable_tls": True, "disable_ssl": True, "retry_limit": 0},
                }
            ),
        }
    )
    env.setdefault(SALT_VARIABLE, local_pii_salt(home))
    if settings.alerts.webhook_conn_id:
        url = webhook_url or f"http://{smtp_host}:{closed_port}/alerts"
        env[_conn_var(settings.alerts.webhook_conn_id)] = json.dumps(
            {"conn_type": "http", "host": url}
        )
    return env


def migrate(settings: Settings, env: Mapping[str, str]) -> None:
    """Creates or upgrades the SQLite metadata DB and the pool that caps Spark applications."""
    subprocess.run([AIRFLOW, "db", "migrate"], env=env, check=True, stdout=subprocess.DEVNULL)
    orchestration = settings.orchestration
    subprocess.run(
        [
            AIRFLOW,
            "pools",
            "set",
            orchestration.pool,
            str(orchestration.pool_slots),
            "Spark applications running at once (conf orchestration.pool_slots)",
        ],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )


def dags_test(
    dag_id: str,
    logical_date: str,
    env: Mapping[str, str],
    stdout: IO[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> int:
    """`airflow dags test DAG DATE`: one real DAG run, every task in turn; its exit code.

    With `progress`, the output is also read line by line and the end of each task (as
    `airflow dags test` logs it) is passed on as `task_id[map_index] ended`."""
    command = [AIRFLOW, "dags", "test", dag_id, logical_date]
    if progress is None:
        return subprocess.run(command, env=env, stdout=stdout, stderr=subprocess.STDOUT).returncode
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    assert process.stdout is not None
    for line in process.stdout:
        if stdout is not None:
            stdout.write(line)
        if match := TASK_ENDED.search(line):
            task_id, map_index = match.groups()
            progress(f"{task_id}{'' if map_index == '-1' else f'[{map_index}]'} ended")
    return process.wait()


def main(argv: list[str] | None = None) -> int:
    """`migrate`, `test DAG DATE`, or `standalone` (the UI on http://localhost:8080)."""
    args = sys.argv[1:] if argv is None else argv
    settings = load_settings()
    home = Path(os.environ.get("RETAILMAX_AIRFLOW_HOME", DEFAULT_HOME))
    env = local_airflow_env(settings, home)
    if args[:1] == ["migrate"]:
        migrate(settings, env)
        return 0
    if args[:1] == ["test"] and len(args) == 3:
        migrate(settings, env)
        return dags_test(args[1], args[2], env)
    if args[:1] == ["standalone"]:
        migrate(settings, env)
        print(
            f"Airflow UI: http://localhost:8080 - user admin, password in {home}/"
            "simple_auth_manager_passwords.json.generated",
            flush=True,
        )
        os.execve(AIRFLOW, [AIRFLOW, "standalone"], env)
    print(
        "usage: python -m jobs.orchestration.local_airflow migrate | test DAG DATE | standalone",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
