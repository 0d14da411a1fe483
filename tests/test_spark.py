"""The one session factory: Delta on, UTC, conf overrides; offline jars; nothing fetched on k8s."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from chispa import assert_df_equality
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from jobs.errors import RuntimeSetupError
from jobs.settings import load_settings
from jobs.spark import DELTA_CATALOG, DELTA_EXTENSION, spark_conf
from tests.jar_set import LOCAL_JARS


def test_session_has_delta_and_utc(spark: SparkSession) -> None:
    conf = spark.conf
    assert conf.get("spark.sql.extensions") == DELTA_EXTENSION
    assert conf.get("spark.sql.catalog.spark_catalog") == DELTA_CATALOG
    assert conf.get("spark.sql.session.timeZone") == "UTC"


def test_a_session_that_compiled_more_than_100_queries_keeps_the_first_ones(
    spark: SparkSession,
) -> None:
    """local.yaml's cache of generated classes (spark.sql.codegen.cache.maxEntries): with
    Spark's default of 100, the first of 120 different queries is compiled again when it comes
    back; with the conf's, it is not. (The queries' code is generated and compiled, as when
    they run, without running them.)"""
    codegen = spark._jvm.org.apache.spark.metrics.source.CodegenMetrics  # type: ignore[union-attr]
    compiles = codegen.METRIC_COMPILATION_TIME()

    def compile_query(number: int) -> None:
        # The literal is in the generated code: each number is a class of its own.
        query = spark.range(0, 1, 1, 1).select(F.col("id") * 2 + number)
        query._jdf.queryExecution().debug().codegenToSeq()

    for number in range(1, 121):
        compile_query(number)
    before = compiles.getCount()
    compile_query(1)
    assert compiles.getCount() == before
    compile_query(121)  # a new one is compiled: the count does move
    assert compiles.getCount() == before + 1


def test_local_conf_uses_the_cached_jars_only(local_settings) -> None:
    conf = spark_conf(local_settings)
    jars = conf["spark.jars"].split(",")
    assert [Path(j).name for j in jars] == LOCAL_JARS
    assert all(Path(j).is_file() for j in jars)
    assert "spark.jars.packages" not in conf


def test_kubernetes_conf_adds_no_jars_and_keeps_object_storage_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = load_settings("kubernetes")
    conf = spark_conf(settings)
    assert "spark.jars" not in conf and "spark.jars.packages" not in conf
    assert conf["spark.hadoop.fs.s3a.impl"] == "org.apache.hadoop.fs.s3a.S3AFileSystem"
    assert conf["spark.sql.shuffle.partitions"] == "64"


def test_conf_entries_and_extra_conf_override_defaults(local_settings) -> None:
    settings = local_settings.model_copy(
        update={
            "spark": local_settings.spark.model_copy(
                update={"conf": {"spark.sql.shuffle.partitions": "3"}}
            )
        }
    )
    assert spark_conf(settings)["spark.sql.shuffle.partitions"] == "3"
    assert (
        spark_conf(settings, {"spark.sql.shuffle.partitions": "5"})["spark.sql.shuffle.partitions"]
        == "5"
    )


def test_missing_jar_cache_is_a_one_line_error_naming_the_fix(local_settings, tmp_path) -> None:
    settings = local_settings.model_copy(
        update={
            "paths": local_settings.paths.model_copy(update={"jar_cache": str(tmp_path / "nojars")})
        }
    )
    with pytest.raises(RuntimeSetupError) as caught:
        spark_conf(settings)
    assert "run `make setup`" in str(caught.value)
    assert "\n" not in str(caught.value)


def test_delta_round_trip_is_exact_and_readable_without_spark(
    spark: SparkSession, lake: Path
) -> None:
    from deltalake import DeltaTable

    schema = T.StructType(
        [
            T.StructField("store_id", T.IntegerType(), True),
            T.StructField("net_sales", T.DecimalType(18, 2), True),
            T.StructField("sold_at", T.TimestampType(), True),
        ]
    )
    rows = [
        (1, Decimal("0.10"), datetime(2024, 3, 5, 13, 23, 11)),
        (2, Decimal("12345678901234.99"), None),
        (None, None, datetime(2024, 3, 31, 23, 59, 59)),
    ]
    source_df = spark.createDataFrame(rows, schema)
    path = str(lake / "silver" / "check")
    source_df.write.format("delta").partitionBy("store_id").save(path)

    assert_df_equality(
        spark.read.format("delta").load(path),
        source_df,
        ignore_row_order=True,
        ignore_column_order=True,
    )
    arrow = DeltaTable(path).to_pyarrow_table().sort_by("net_sales")
    assert arrow.column("net_sales").to_pylist() == [
        Decimal("0.10"),
        Decimal("12345678901234.99"),
        None,
    ]


def test_timestamps_with_offsets_parse_to_the_same_instant_in_utc(spark: SparkSession) -> None:
    df = spark.createDataFrame(
        [("2024-03-05T14:23:11+01:00",), ("2024-07-01T00:30:00+02:00",)], "ts string"
    )
    parsed = [row[0] for row in df.selectExpr("cast(to_timestamp(ts) as string)").collect()]
    assert parsed == ["2024-03-05 13:23:11", "2024-06-30 22:30:00"]
