"""Errors that end a run with one line for the operator, and the exit code that goes with each."""

from __future__ import annotations

from enum import IntEnum

# How the CLI starts the one line it prints (and writes as a container's termination message)
# when a job fails; the alerts and the kubernetes operator find the job's reason by it.
JOB_ERROR_PREFIX = "retailmax: error: "


class ExitCode(IntEnum):
    """Process exit codes of the `retailmax` CLI; Airflow and the alerts read them."""

    OK = 0
    FAILURE = 1
    BAD_ARGUMENTS = 2
    MISSING_INPUT = 3
    DATA_QUALITY_GATE = 4


class RetailMaxError(Exception):
    """Base error: its message is one line that says what broke, printed as is by the CLI."""

    exit_code: ExitCode = ExitCode.FAILURE


class ConfigError(RetailMaxError):
    """A conf file or environment override is missing, unknown or of the wrong type."""

    exit_code = ExitCode.BAD_ARGUMENTS


class BadArgumentError(RetailMaxError):
    """A command-line argument (date, store list, shard) does not parse."""

    exit_code = ExitCode.BAD_ARGUMENTS


class MissingInputError(RetailMaxError):
    """The landing data a job needs for its date is not there."""

    exit_code = ExitCode.MISSING_INPUT


class DataQualityGateError(RetailMaxError):
    """A data-quality threshold from conf was breached (valid data is still written)."""

    exit_code = ExitCode.DATA_QUALITY_GATE


class RuntimeSetupError(RetailMaxError):
    """The Spark/Delta runtime is not installed as `make setup` leaves it (jars missing, ...)."""

    exit_code = ExitCode.FAILURE
