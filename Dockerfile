# RetailMax jobs image: Spark 4.2 (pyspark), Java 17, the jobs package, the Delta and
# object-storage jars, all baked in at build time; nothing is downloaded when a pod starts.
# The Spark Operator starts its driver and executor pods from this image
# (docker/entrypoint.sh handles Spark's `driver` and `executor` commands).
# Linted by hadolint (tests/test_image.py): every finding fails the suite.
#
#   docker build -t registry.retailmax.internal/data/retailmax-jobs:0.1.0 .

# Stage 1: the JVM jars marked `image` in jobs/jars.lock, the transitive set resolved from
# jobs/jars.txt (the list `make setup` and the object-storage tests load too). Each is copied
# as itself: the lock already holds what it needs.
FROM maven:3.9.9-eclipse-temurin-17 AS jars
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
WORKDIR /build
COPY jobs/jars.lock jobs/jars.lock
RUN awk '!/^#/ && NF >= 2 && $2 ~ /(^|,)image(,|$)/ {print $1}' jobs/jars.lock > image-jars.txt \
 && while read -r coordinate; do \
      mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        -Dartifact="$coordinate" -DoutputDirectory=/build/jars || exit 1; \
    done < image-jars.txt \
 && test "$(find /build/jars -name '*.jar' | wc -l)" -eq "$(wc -l < image-jars.txt)"

# Stage 2: the runtime.
FROM python:3.11.11-slim-bookworm
ARG SPARK_UID=185
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      openjdk-17-jre-headless=17.0.* tini=0.19.* procps=2:4.0.* \
 && rm -rf /var/lib/apt/lists/* \
 && ln -s "$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")" /usr/lib/jvm/java-17
# JAVA_HOME through a link made above: the JDK's directory is named after the architecture
# (java-17-openjdk-amd64 / -arm64). No SPARK_CONF_DIR of our own: Spark on Kubernetes sets it
# to /opt/spark/conf, where the application's own conf (sparkConf, from conf/kubernetes.yaml)
# is mounted; an image spark-defaults.conf would never be read.
ENV JAVA_HOME=/usr/lib/jvm/java-17 \
    SPARK_HOME=/usr/local/lib/python3.11/site-packages/pyspark \
    PYSPARK_PYTHON=/usr/local/bin/python3.11 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RETAILMAX_ENV=kubernetes \
    RETAILMAX_CONF_DIR=/opt/retailmax/conf
WORKDIR /opt/retailmax
# Pinned runtime packages first (a layer that changes only with the lock), then the package.
COPY docker/requirements.lock docker/requirements.lock
RUN pip install --no-cache-dir --no-deps -r docker/requirements.lock
COPY pyproject.toml README.md ./
COPY jobs ./jobs
RUN pip install --no-cache-dir --no-deps . \
 && python -c "import pathlib, pyspark; jars = pathlib.Path(pyspark.__file__).parent / 'jars'; assert any(jars.glob('spark-core_*.jar')), 'pyspark without its jars'"
# conf/kubernetes.yaml says `jars: image`: the jars go on Spark's own classpath.
COPY --from=jars /build/jars/ /usr/local/lib/python3.11/site-packages/pyspark/jars/
COPY conf ./conf
COPY docker/entrypoint.sh /opt/retailmax/entrypoint.sh
RUN useradd --uid "${SPARK_UID}" --gid 0 --no-create-home --home-dir /opt/retailmax \
      --shell /usr/sbin/nologin spark \
 && chmod 0555 /opt/retailmax/entrypoint.sh
USER 185
ENTRYPOINT ["/opt/retailmax/entrypoint.sh"]
CMD ["retailmax", "--help"]
