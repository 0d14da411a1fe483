# RetailMax jobs image: Spark 4.2 (pyspark), Java 17, the jobs package and the Delta jars,
# all baked in at build time; nothing is downloaded when a pod starts.
# Hardening, the object-storage jars and the image lint come with issue #8.

# Stage 1: fetch the JVM jars listed in jobs/jars.txt (the same list `make setup` uses).
FROM maven:3.9.9-eclipse-temurin-17 AS jars
WORKDIR /build
COPY jobs/jars.txt jobs/jars.txt
RUN grep -v '^#' jobs/jars.txt | sed '/^$/d' | while read -r coordinate; do \
      mvn -q -B org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy \
        -Dartifact="$coordinate" -DoutputDirectory=/build/jars; \
    done

# Stage 2: the runtime.
FROM python:3.11.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless=17.* tini=0.19.* \
 && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    RETAILMAX_ENV=kubernetes \
    RETAILMAX_CONF_DIR=/opt/retailmax/conf
WORKDIR /opt/retailmax
COPY pyproject.toml README.md ./
COPY jobs ./jobs
COPY conf ./conf
RUN pip install --no-cache-dir . \
 && python -c "import pyspark, pathlib; assert any((pathlib.Path(pyspark.__file__).parent / 'jars').glob('spark-core_*.jar'))"
# conf/kubernetes.yaml says jars: image; they go on Spark's own classpath.
COPY --from=jars /build/jars/ /usr/local/lib/python3.11/site-packages/pyspark/jars/
RUN useradd --uid 185 --create-home --shell /usr/sbin/nologin spark
USER 185
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["retailmax", "--help"]
