"""The local jar set, written out by hand from jobs/jars.lock's `local` lines: delta-spark and
delta-storage, and what delta-spark pulls in that pyspark does not ship."""

LOCAL_JARS = [
    "delta-spark_4.2_2.13-4.4.0.jar",
    "delta-storage-4.4.0.jar",
    "unitycatalog-client-0.6.0.jar",
    "unitycatalog-hadoop-0.6.0.jar",
    "delta-kernel-api-4.4.0.jar",
    "shims-0.9.25.jar",
    "jackson-datatype-jdk8-2.21.2.jar",
    "delta-kernel-defaults-4.4.0.jar",
    "javax.annotation-api-1.3.2.jar",
    "delta-kernel-unitycatalog-4.4.0.jar",
]
