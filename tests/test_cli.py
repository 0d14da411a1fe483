"""The `retailmax` console script as an operator uses it: help, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from jobs.errors import ExitCode

RETAILMAX = Path(sys.executable).parent / "retailmax"


def retailmax(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RETAILMAX), *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_help_lists_every_job() -> None:
    result = retailmax("--help")
    assert result.returncode == 0
    table = result.stdout.split("jobs (retailmax run JOB):\n", 1)[1].splitlines()
    # The first word of each line of the jobs table, against the jobs listed by hand.
    assert sorted(line.split()[0] for line in table if line.strip()) == [
        "customers",
        "customers-erase",
        "inventory",
        "maintenance",
        "promotions",
        "report",
        "sales",
        "sales-gold",
    ]


def test_python_dash_m_jobs_is_the_same_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "jobs", "--help"], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0
    assert "generate" in result.stdout


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["run", "sales", "--date", "2024-13-01"], "not a date YYYY-MM-DD"),
        (["run", "sales"], "--date"),
        (["run", "payroll", "--date", "2024-03-05"], "invalid choice"),
        (["run", "sales", "--date", "2024-03-05", "--stores", "1-x"], "--stores: '1-x'"),
        (["run", "sales", "--date", "2024-03-05", "--shard", "9/8"], "--shard: '9/8'"),
        (
            ["run", "sales", "--date", "2024-03-05", "--stores", "1", "--shard", "1/2"],
            "not allowed with",
        ),
        (["generate", "--anomalies", "0.9"], "not a rate"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], fragment: str) -> None:
    result = retailmax(*args)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    last_line = result.stderr.strip().splitlines()[-1]
    assert fragment in last_line


def test_missing_landing_data_exits_3_naming_the_folder(tmp_path: Path) -> None:
    env = {"RETAILMAX_LANDING_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = retailmax("run", "sales", "--date", "2024-03-05", env=env)
    assert result.returncode == ExitCode.MISSING_INPUT
    assert result.stderr.strip() == (
        "retailmax: error: no landing data for sales on 2024-03-05: "
        f"{tmp_path}/pos/sale_date=2024-03-05 does not exist"
    )


def test_in_a_container_the_error_line_is_also_the_termination_message(tmp_path: Path) -> None:
    termination_log = tmp_path / "termination-log"
    termination_log.touch()  # the kubelet creates the file; the job only writes into it
    env = {
        "RETAILMAX_LANDING_ROOT": str(tmp_path),
        "RETAILMAX_TERMINATION_LOG": str(termination_log),
        "PATH": "/usr/bin:/bin",
    }
    result = retailmax("run", "sales", "--date", "2024-03-05", env=env)
    assert result.returncode == ExitCode.MISSING_INPUT
    assert termination_log.read_text() == result.stderr
    # Outside a container nothing is created.
    env["RETAILMAX_TERMINATION_LOG"] = str(tmp_path / "absent")
    retailmax("run", "sales", "--date", "2024-03-05", env=env)
    assert not (tmp_path / "absent").exists()


def test_customers_without_its_secret_salt_exits_2_before_any_write(tmp_path: Path) -> None:
    for folder in ("crm/customers", "loyalty/members"):
        (tmp_path / f"{folder}/export_date=2024-03-05").mkdir(parents=True)
    lake = tmp_path / "lake"
    env = {
        "RETAILMAX_LANDING_ROOT": str(tmp_path),
        "RETAILMAX_LAKE_ROOT": str(lake),
        "PATH": "/usr/bin:/bin",
    }
    result = retailmax("run", "customers", "--date", "2024-03-05", env=env)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "retailmax: error: RETAILMAX_PII_SALT is not set: gold.customer_360 hashes emails"
        )
    )
    assert not lake.exists()


def test_an_erasure_needs_its_request_and_nothing_else_takes_one(tmp_path: Path) -> None:
    env = {"RETAILMAX_LAKE_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = retailmax("run", "customers-erase", env=env)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    assert result.stderr.strip() == (
        "retailmax: error: customers-erase needs --request FILE (a JSON erasure request)"
    )
    result = retailmax("run", "sales", "--date", "2024-03-05", "--request", "r.json", env=env)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    assert result.stderr.strip() == (
        "retailmax: error: --request applies to the customers-erase job only"
    )


def test_a_batch_window_is_for_inventory_only_and_must_be_ordered(tmp_path: Path) -> None:
    env = {"RETAILMAX_LANDING_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    window = ("--since", "2024-03-05T10:15:00+01:00", "--until", "2024-03-05T09:00:00Z")
    result = retailmax("run", "inventory", "--date", "2024-03-05", *window, env=env)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    assert result.stderr.strip() == (
        "retailmax: error: --since 2024-03-05 09:15:00+00:00 is not before "
        "--until 2024-03-05 09:00:00+00:00"
    )
    result = retailmax("run", "sales", "--date", "2024-03-05", "--since", "2024-03-05", env=env)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    assert result.stderr.strip() == (
        "retailmax: error: --since/--until apply to the inventory job only"
    )
    result = retailmax("run", "inventory", "--date", "2024-03-05", "--shard", "1/2", env=env)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    assert result.stderr.strip() == "retailmax: error: --stores/--shard apply to the sales job only"


def test_a_bad_conf_exits_2_with_one_line(tmp_path: Path) -> None:
    # Only env is set: backend, paths, spark, sharding, quality and orchestration are missing
    # (1 named + 5).
    (tmp_path / "broken.yaml").write_text("env: broken\n")
    env = {"RETAILMAX_CONF_DIR": str(tmp_path), "RETAILMAX_ENV": "broken", "PATH": "/usr/bin"}
    result = retailmax("run", "sales", "--date", "2024-03-05", env=env)
    assert result.returncode == ExitCode.BAD_ARGUMENTS
    assert result.stderr.strip() == (
        f"retailmax: error: {tmp_path}/broken.yaml: backend: missing value (and 5 more problems)"
    )


def test_generate_writes_landing_data_and_says_where(tmp_path: Path) -> None:
    landing = tmp_path / "landing"
    result = retailmax(
        "generate",
        "--stores",
        "2",
        "--days",
        "1",
        "--skus",
        "50",
        "--lines-per-store",
        "40",
        "--landing",
        str(landing),
        "--no-progress",
    )
    assert result.returncode == 0, result.stderr
    assert f"landing data written to {landing}" in result.stdout
    manifest = json.loads((landing / "_manifest.json").read_text())
    assert manifest["counts"]["stores"] == 2
    assert sorted(p.name for p in (landing / "pos/sale_date=2024-03-04").iterdir()) == [
        "store_id=1",
        "store_id=2",
    ]


def test_a_bad_reference_value_ends_with_the_line_that_says_where_and_exit_1(
    tmp_path: Path,
) -> None:
    landing = tmp_path / "landing"
    assert (
        retailmax(
            "generate",
            "--stores",
            "2",
            "--days",
            "1",
            "--skus",
            "20",
            "--lines-per-store",
            "10",
            "--landing",
            str(landing),
            "--no-progress",
        ).returncode
        == 0
    )
    stores = landing / "reference/stores.csv"
    stores.write_text(stores.read_text().replace("\n2,", "\ntwo,"))  # not an int
    env = {
        "RETAILMAX_LANDING_ROOT": str(landing),
        "RETAILMAX_LAKE_ROOT": str(tmp_path / "lake"),
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
    }
    result = retailmax("run", "sales", "--date", "2024-03-04", env=env)
    assert result.returncode == ExitCode.FAILURE
    last = result.stderr.strip().splitlines()[-1]
    # Store 2 is the second record: line 3 of the file (the header is line 1).
    assert last == "retailmax: error: reference/stores.csv line 3: store_id 'two' is not an integer"
    assert "Traceback" not in result.stderr and "Py4J" not in result.stderr


def test_an_error_raised_in_the_jvm_is_one_line_from_its_root_cause(spark: object) -> None:
    from py4j.protocol import Py4JJavaError

    from jobs.cli import one_line

    jvm = spark._jvm  # type: ignore[attr-defined]
    with pytest.raises(Py4JJavaError) as raised:  # an exception pyspark does not convert
        jvm.java.lang.Class.forName("no.such.Klass")
    assert "An error occurred while calling" in str(raised.value)  # what Py4J would print
    assert one_line(raised.value) == "ClassNotFoundException: no.such.Klass"
    assert one_line(ValueError("first\nsecond")) == "ValueError: first"


def test_the_exit_code_is_the_jobs_own_even_if_finalization_aborts(tmp_path: Path) -> None:
    # deltalake sometimes aborts in the interpreter's finalization (SIGABRT, 134) after the
    # work is done; an atexit handler that aborts stands in for it, deterministically.
    script = (
        "import atexit, os, sys\n"
        "atexit.register(os.abort)\n"
        "sys.argv = ['retailmax', 'run', 'sales', '--date', '2024-03-05']\n"
        "from jobs.cli import entry\n"
        "entry()\n"
    )
    env = {"RETAILMAX_LANDING_ROOT": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=env
    )
    assert result.returncode == ExitCode.MISSING_INPUT, result.stderr[-500:]
    assert result.stderr.strip().endswith("pos/sale_date=2024-03-05 does not exist")
