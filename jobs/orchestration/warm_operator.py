"""The local backend's operator with `spark.local_driver: warm`: the task's `retailmax` run goes
to the warm driver (jobs/warm_driver.py) instead of a spark-submit of its own."""

from __future__ import annotations

from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowException

from jobs.errors import JOB_ERROR_PREFIX

SHOWN_ERROR_LINES = 5


class WarmDriverOperator(BaseOperator):
    """Runs `retailmax <application_args>` in the warm driver; its output is the task's log.

    Fails like SparkSubmitOperator on a non-zero exit, with the job's one-line reason in the
    exception (the failure alerts quote it)."""

    template_fields = ("application_args",)
    ui_color = "#f4a460"

    def __init__(self, *, application_args: list[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.application_args = application_args

    def execute(self, context: Context) -> None:  # noqa: ARG002 (Airflow's signature)
        from jobs.warm_driver import run

        errors: list[str] = []

        def show(line: str) -> None:
            self.log.info("%s", line)
            if line.startswith(JOB_ERROR_PREFIX):
                errors.append(line)

        arguments = [str(arg) for arg in self.application_args]
        code = run(arguments, out=show)
        if code != 0:
            reasons = "\n".join(errors[-SHOWN_ERROR_LINES:])
            raise AirflowException(
                f"retailmax {' '.join(arguments)} exited with code {code} in the warm driver"
                + (f"\n{reasons}" if reasons else "")
            )
