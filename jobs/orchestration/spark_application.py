"""The kubernetes backend's operator: a SparkApplication rendered from k8s/ per task."""

from __future__ import annotations

from typing import Any

from airflow.providers.cncf.kubernetes.operators.custom_object_launcher import (
    CustomObjectLauncher,
)
from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator

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
