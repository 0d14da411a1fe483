"""The maintenance job: OPTIMIZE compacts the recent days only, VACUUM removes what it replaced,
every table a job writes is maintained, and Delta's retention check stays on."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from pyspark.sql import SparkSession

from jobs.context import RunContext
from jobs.maintenance import run
from jobs.registry import JOBS, lake_tables
from jobs.sales.tables import GOLD_DAILY_STORE_SALES
from jobs.settings import Settings
from tests.tables import snapshot

DAY = date(2024, 3, 10)
OLD_DAY = date(2024, 2, 1)  # outside the 7 days OPTIMIZE looks at


def gold_row(day: date, store_id: int) -> tuple:
    money = Decimal("10.00")
    return (day, store_id, 1, 1, 1, 0, money, Decimal("0.00"), Decimal("0.00"), money)


def parquet_files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*.parquet")}


def three_appends(spark: SparkSession, path: str) -> None:
    """Three appends: three small files in each of DAY's and OLD_DAY's partitions."""
    for store_id in (1, 2, 3):
        rows = [gold_row(DAY, store_id), gold_row(OLD_DAY, store_id)]
        frame = spark.createDataFrame(rows, GOLD_DAILY_STORE_SALES.schema)
        frame.write.format("delta").mode("append").partitionBy("sale_date").save(path)


def maintenance_settings(settings: Settings, lake: Path, retention_hours: int) -> Settings:
    paths = settings.paths.model_copy(update={"lake_root": str(lake)})
    orchestration = settings.orchestration.model_copy(
        update={"vacuum_retention_hours": retention_hours, "optimize_days": 7}
    )
    return settings.model_copy(update={"paths": paths, "orchestration": orchestration})


def test_optimize_compacts_recent_days_and_vacuum_removes_the_replaced_files(
    spark: SparkSession, local_settings: Settings, lake: Path
) -> None:
    path = GOLD_DAILY_STORE_SALES.path(str(lake))
    three_appends(spark, path)
    before = snapshot(lake, "gold.daily_store_sales")
    folder = Path(path)
    old_partition = f"sale_date={OLD_DAY}"
    assert len([f for f in parquet_files(folder) if f.startswith(old_partition)]) == 3

    # A zero-hour retention in conf: maintenance writes it into the table's retention, which
    # Delta applies (a non-zero VACUUM argument alone is ignored by Delta 4), check on.
    figures = run(RunContext(maintenance_settings(local_settings, lake, 0), DAY))

    # By hand: only sale_date=DAY is within 7 days; its 3 files become 1.
    assert figures == {"tables": 1, "files_compacted": 3}
    after = parquet_files(folder)
    assert len([f for f in after if f.startswith(f"sale_date={DAY}")]) == 1
    assert len([f for f in after if f.startswith(old_partition)]) == 3
    assert snapshot(lake, "gold.daily_store_sales").equals(before)


def test_the_conf_retention_is_the_tables_and_a_shorter_vacuum_is_refused(
    spark: SparkSession, local_settings: Settings, lake: Path
) -> None:
    from delta.tables import DeltaTable

    path = GOLD_DAILY_STORE_SALES.path(str(lake))
    three_appends(spark, path)
    run(RunContext(maintenance_settings(local_settings, lake, 200), DAY))
    detail = DeltaTable.forPath(spark, path).detail().first()
    assert detail is not None
    properties = detail["properties"]
    assert properties["delta.deletedFileRetentionDuration"] == "interval 200 hours"
    # OPTIMIZE replaced DAY's 3 files by 1; all 200 hours younger, nothing was deleted.
    assert len([f for f in parquet_files(Path(path)) if f.startswith(f"sale_date={DAY}")]) == 4
    # Delta's retention check is on in the tests as in production: a zero-hour VACUUM of a
    # table that keeps 200 hours is refused.
    with pytest.raises(Exception, match="DELTA_VACUUM_RETENTION_PERIOD_TOO_SHORT"):
        DeltaTable.forPath(spark, path).vacuum(0.0)


def test_every_table_a_job_writes_is_maintained() -> None:
    # The 23 tables, listed by hand from docs/architecture.md's table list.
    expected = {
        "bronze.pos_lines",
        "quarantine.sales_lines",
        "silver.sales_lines",
        "ops.dq_results",
        "gold.daily_store_sales",
        "gold.daily_sales_summary",
        "gold.daily_store_sku_sales",
        "silver.stock_movements",
        "quarantine.stock_movements",
        "silver.stock_levels",
        "gold.ecommerce_availability",
        "gold.replenishment_alerts",
        "ops.stock_reconciliation",
        "quarantine.customer_records",
        "silver.customer_records",
        "silver.customers",
        "silver.customer_consents",
        "gold.customer_360",
        "ops.customer_erasures",
        "gold.product_velocity",
        "gold.promotion_candidates",
        "gold.campaign_performance",
        "gold.daily_sales_report",
    }
    assert {table.name for table in lake_tables()} == expected
    assert JOBS["maintenance"].writes == ()  # it rewrites files, not data: no asset update
