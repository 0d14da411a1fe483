"""The kubernetes backend's operator: a SparkApplication rendered from k8s/ per task."""

from __future__ import annotations

from typing import Any

from airflow.providers.cncf.kubernetes.operators.spark_kubernetes import SparkKubernetesOperator


class SparkApplicationOperator(SparkKubernetesOperator):
    """SparkKubernetesOperator whose manifest is rendered with the job's arguments and conf.

    `k8s/spark-application.yaml` reads `task.application_args` (rendered first) and
    `task.manifest` (image, resources, service account from conf).
    """

    # application_args first: the manifest template reads them already rendered.
    template_fields = ["application_args", *SparkKubernetesOperator.template_fields]  # noqa: RUF012

    def __init__(
        self, *, application_args: list[str], manifest: dict[str, Any], **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.application_args = application_args
        self.manifest = manifest
