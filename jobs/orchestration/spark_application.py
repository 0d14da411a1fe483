"""The kubernetes backend's operator: a SparkApplication rendered from k8s/ per task."""

from __future__ import annotations

import contextlib
from typing import Any

from airflow.providers.cncf.kubernetes.operators.custom_object_launcher import (
    CustomObjectLauncher,
)
from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator
from airflow.providers.cncf.kubernetes.utils.container import get_container_termination_message
from airflow.providers.common.compat.sdk import AirflowException

# Top-level spec fields SparkKubernetesOperator adds that the v1beta2 CRD does not define.
UNDECLARED_SPEC_FIELDS = ("labels",)


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
        """Submits a body the CRD accepts (see submittable_body)."""
        submittable_body(launcher.body)
        return super().get_or_create_spark_crd(launcher, context)

    def execute(self, context: Any) -> Any:
        """The provider's submit/watch/complete, and on failure the job's own reason.

        A driver that fails before the provider has seen it running (its first state check
        comes 10 s after the submission) ends in the provider's "Spark Job Failed. Error
        stack: driver container failed with ExitCode: N": the Spark Operator's words, not the
        job's, and the application is left behind. Here the driver container's termination
        message (the job's `retailmax: error: ...` line, written to /dev/termination-log) is
        added to the error, so the alert says what broke, and the application is deleted as
        after any other end when delete_on_termination is set.
        """
        try:
            return super().execute(context)
        except Exception as exc:
            message = self._driver_termination_message()
            launcher = getattr(self, "launcher", None)
            if self.delete_on_termination and launcher is not None:
                with contextlib.suppress(Exception):  # the failure below is what matters
                    launcher.delete_spark_job(spark_job_name=self.name)
            if message and message not in str(exc):
                raise AirflowException(f"{exc}\n{message}") from exc
            raise

    def _driver_termination_message(self) -> str | None:
        """What the driver container left as its termination message, if it ended."""
        with contextlib.suppress(Exception):  # no pod (never created, already deleted): None
            pod = self.client.read_namespaced_pod(f"{self.name}-driver", self.namespace)
            message = get_container_termination_message(pod, self.BASE_CONTAINER_NAME)
            return str(message).strip() if message else None
        return None
