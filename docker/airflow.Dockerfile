# The Airflow image (k8s/helm/airflow-values.yaml): the official Airflow 3.3.2 image with this
# project at /opt/airflow/retailmax — the DAGs, the jobs package that builds them, conf/ and the
# SparkApplication templates in k8s/. It submits Spark work; it runs none itself.
#
#   docker build -f docker/airflow.Dockerfile -t registry.retailmax.internal/data/retailmax-airflow:0.1.0 .
FROM apache/airflow:3.3.2-python3.11
USER 0
RUN mkdir -p /opt/airflow/retailmax && chown 50000:0 /opt/airflow/retailmax
USER 50000
WORKDIR /opt/airflow/retailmax
COPY --chown=50000:0 docker/airflow-requirements.lock docker/airflow-requirements.lock
RUN pip install --no-cache-dir -r docker/airflow-requirements.lock
COPY --chown=50000:0 pyproject.toml README.md ./
COPY --chown=50000:0 jobs ./jobs
COPY --chown=50000:0 dags ./dags
COPY --chown=50000:0 conf ./conf
COPY --chown=50000:0 k8s ./k8s
# Editable: the project root (k8s/, conf/) stays beside the package, as in a checkout.
RUN pip install --no-cache-dir --no-deps -e .
