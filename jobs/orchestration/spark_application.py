"""The kubernetes backend's operator: a SparkApplication rendered from k8s/ per task.

SparkKubernetesOperator (cncf-kubernetes provider) submits the application and follows its
driver pod. What this subclass adds is for the paths a cluster takes when something goes
wrong, so that a failed task's first line is what broke, not how the provider noticed it:

- the API server refuses the application (an admission webhook, a policy, a name taken):
  `SparkApplication <name> was refused by the API server (HTTP 4xx): <the server's message>`;
- the Spark Operator could not submit it (SUBMISSION_FAILED, e.g. the driver pod over the
  namespace's quota): `SparkApplication <name> was not submitted: <the operator's message>`
  (the provider would leave its wait loop and fail later on a 404 for the driver pod);
- the operator is resubmitting it (PENDING_RERUN): wait for the new driver instead of
  following a pod that is gone;
- the driver failed: the driver container's termination message (the job's
  `retailmax: error: ...` line) first, then the provider's words;
- the task's execution_timeout ended it: that first (the provider's cleanup raises "Pod ...
  returned a failure" over Airflow's timeout);
- the already-checked label the provider puts on a failed driver pod is best effort, as its
  signature says (`reraise=False`): the provider's own override raises anyway.

After any end the application is deleted when delete_on_termination is set (its driver pod
goes with it: the pod is owned by the application).
"""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any

from airflow.providers.cncf.kubernetes.operators.custom_object_launcher import (
    CustomObjectLauncher,
)
from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator
from airflow.providers.cncf.kubernetes.utils.container import get_container_termination_message
from airflow.providers.common.compat.sdk import AirflowException
from kubernetes.client import ApiException

from jobs.errors import JOB_ERROR_PREFIX

# Top-level spec fields SparkKubernetesOperator adds that the v1beta2 CRD does not define.
UNDECLARED_SPEC_FIELDS = ("labels",)
# Spark Operator v2 application states (api/v1beta2): before a driver runs, and at the ends.
WAITING_STATES = frozenset({"", "SUBMITTED", "PENDING_RERUN", "INVALIDATING"})
NOT_SUBMITTED = "SUBMISSION_FAILED"
POLL_SECONDS = 2


class SparkApplicationFailed(AirflowException):
    """The application did not run to completion; the message's first line says why."""


def submittable_body(body: dict[str, Any]) -> dict[str, Any]:
    """The body without fields the SparkApplication CRD does not declare.

    With reattach_on_restart the provider copies the task's labels (dag_id, task_id, run_id,
    try_number, map_index) to spec.labels as well as to spec.driver.labels and
    spec.executor.labels. The CRD has no spec.labels: an API server with strict field
    validation rejects the object, a lenient one drops the field with a warning. The driver
    and executor labels, which are what reattaching looks for, stay.
    """
    for field in UNDECLARED_SPEC_FIELDS:
        body.get("spec", {}).pop(field, None)
    return body


def api_error_message(error: ApiException) -> str:
    """The API server's own message (its Status body), on one line."""
    with contextlib.suppress(ValueError, TypeError):
        message = json.loads(error.body or "").get("message")
        if message:
            return " ".join(str(message).split())
    return " ".join(str(error.reason or error).split())


def job_error_line(text: str) -> str | None:
    """The job's own `retailmax: error: ...` line in a text (the provider's error carries the
    termination message it read), or None."""
    return next((line.strip() for line in text.splitlines() if JOB_ERROR_PREFIX in line), None)


class SparkApplicationOperator(SparkKubernetesOperator):
    """SparkKubernetesOperator whose manifest is rendered with the job's arguments and conf.

    `k8s/spark-applications/<job>.yaml` reads `task.application_args` (rendered first) and
    `task.manifest` (image, resources, service account, ... from conf).
    """

    # application_args first: the manifest template reads them already rendered.
    template_fields = ["application_args", *SparkKubernetesOperator.template_fields]  # noqa: RUF012

    def __init__(
        self, *, application_args: list[str], manifest: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.application_args = application_args
        self.manifest = manifest

    def get_or_create_spark_crd(self, launcher: CustomObjectLauncher, context: Any) -> Any:
        """Submits a body the CRD accepts (see submittable_body); a refusal, a failed
        submission or a rerun end or wait here, with the reason first."""
        submittable_body(launcher.body)
        try:
            pod = super().get_or_create_spark_crd(launcher, context)
        except ApiException as refused:
            raise SparkApplicationFailed(
                f"SparkApplication {self.name} was refused by the API server "
                f"(HTTP {refused.status}): {api_error_message(refused)}"
            ) from refused
        if pod is not None and pod.metadata.name == f"{self.name}-driver":  # not reattached
            self._wait_for_driver(launcher)
        return pod

    def _application_state(self, launcher: CustomObjectLauncher) -> tuple[str, str]:
        status = self.custom_obj_api.get_namespaced_custom_object_status(
            group=launcher.api_group,
            version=launcher.api_version,
            namespace=self.namespace,
            plural=launcher.plural,
            name=self.name,
        ).get("status", {})
        state = status.get("applicationState", {})
        return str(state.get("state", "")), str(state.get("errorMessage", "")).strip()

    def _wait_for_driver(self, launcher: CustomObjectLauncher) -> None:
        """Past the provider's loop (which leaves on any state but SUBMITTED): wait while the
        operator resubmits, and fail with its message if the submission failed."""
        deadline = time.monotonic() + float(self.startup_timeout_seconds)
        state, message = self._application_state(launcher)
        while state in WAITING_STATES and time.monotonic() < deadline:
            self.log.info("SparkApplication %s is %s: waiting for its driver", self.name, state)
            time.sleep(POLL_SECONDS)
            state, message = self._application_state(launcher)
        if state == NOT_SUBMITTED:
            raise SparkApplicationFailed(
                f"SparkApplication {self.name} was not submitted: {message or 'no reason given'}"
            )
        if state in WAITING_STATES:
            raise SparkApplicationFailed(
                f"SparkApplication {self.name} still {state} after "
                f"{self.startup_timeout_seconds} s: no driver started"
            )

    def patch_already_checked(self, pod: Any, *, reraise: bool = True) -> None:
        """The provider's label patch, best effort when the caller says so (cleanup does)."""
        try:
            super().patch_already_checked(pod, reraise=True)
        except Exception as exc:
            if reraise:
                raise
            self.log.warning("could not label driver pod %s as checked: %s", pod, exc)

    def execute(self, context: Any) -> Any:
        """The provider's submit/watch/complete; on failure the reason first, nothing left.

        A driver that fails before the provider has seen it running (its first state check
        comes 10 s after the submission) ends in the provider's "Spark Job Failed. Error
        stack: driver container failed with ExitCode: N": the Spark Operator's words, not the
        job's, and the application is left behind. Here the driver container's termination
        message (the job's `retailmax: error: ...` line, written to /dev/termination-log)
        comes first, and the application is deleted as after any other end when
        delete_on_termination is set.
        """
        try:
            return super().execute(context)
        except Exception as exc:
            reason = (
                self._driver_termination_message()
                or job_error_line(str(exc))
                or self._timed_out(exc)
            )
            launcher = getattr(self, "launcher", None)
            if self.delete_on_termination and launcher is not None:
                with contextlib.suppress(Exception):  # the failure below is what matters
                    launcher.delete_spark_job(spark_job_name=self.name)
            if reason and not str(exc).startswith(reason):
                raise SparkApplicationFailed(f"{reason}\n{exc}") from exc
            raise

    def _timed_out(self, exc: BaseException) -> str | None:
        """The task's execution_timeout, when it is what ended the task: the provider's cleanup
        then raises "Pod ... returned a failure" over it, which is not what happened."""
        cause: BaseException | None = exc
        while cause is not None:
            if type(cause).__name__ == "AirflowTaskTimeout":
                return (
                    f"timed out after {self.execution_timeout} (the task's execution_timeout); "
                    f"SparkApplication {self.name} deleted"
                )
            cause = cause.__context__
        return None

    def _driver_termination_message(self) -> str | None:
        """What the driver container left as its termination message, if it ended."""
        with contextlib.suppress(Exception):  # no pod (never created, already deleted): None
            pod = self.client.read_namespaced_pod(f"{self.name}-driver", self.namespace)
            message = get_container_termination_message(pod, self.BASE_CONTAINER_NAME)
            return str(message).strip() if message else None
        return None
