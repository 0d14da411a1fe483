"""Table creation: a race between shards is retried, anything else is not. Session confs
set for one block are put back."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.lake import ensure_table, session_conf
from jobs.sales.tables import GOLD_DAILY_STORE_SALES


def test_a_folder_of_files_that_is_no_delta_table_fails_at_once_naming_it(
    spark: SparkSession, lake: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from pyspark.errors import AnalysisException

    folder = Path(GOLD_DAILY_STORE_SALES.path(str(lake)))
    folder.mkdir(parents=True)
    (folder / "stray.csv").write_text("left here by hand\n")
    with pytest.raises(AnalysisException) as raised:
        ensure_table(spark, GOLD_DAILY_STORE_SALES, str(lake))
    assert raised.value.getCondition() == "DELTA_MISSING_DELTA_TABLE"
    assert str(folder) in str(raised.value)
    assert "raced another writer" not in caplog.text  # not retried: no race here


def test_an_error_that_is_no_race_is_raised_at_once(spark: SparkSession, lake: Path) -> None:
    from pyspark.errors import PySparkException

    bad = GOLD_DAILY_STORE_SALES.__class__(
        GOLD_DAILY_STORE_SALES.name,
        GOLD_DAILY_STORE_SALES.schema,
        ("no_such_column",),  # partitioned by a column the schema does not have
        GOLD_DAILY_STORE_SALES.comment,
    )
    with pytest.raises(PySparkException) as raised:
        ensure_table(spark, bad, str(lake))
    assert "no_such_column" in str(raised.value)


def test_a_conf_set_for_a_block_is_put_back_even_when_the_block_fails(
    spark: SparkSession,
) -> None:
    was_set, never_set = "spark.retailmax.test.was_set", "spark.retailmax.test.never_set"
    spark.conf.set(was_set, "before")
    with pytest.raises(RuntimeError), session_conf(spark, was_set, "inside"):
        assert spark.conf.get(was_set) == "inside"
        raise RuntimeError("the block fails")
    with session_conf(spark, never_set, "inside"):
        assert spark.conf.get(never_set) == "inside"
    assert (spark.conf.get(was_set), spark.conf.get(never_set, None)) == ("before", None)
    spark.conf.unset(was_set)
