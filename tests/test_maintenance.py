"""The maintenance job: OPTIMIZE compacts the recent days only, VACUUM removes what it replaced."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from pyspark.sql import SparkSession

from jobs.context import RunContext
from jobs.maintenance import run
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


def test_optimize_compacts_recent_days_and_vacuum_removes_the_replaced_files(
    spark: SparkSession, local_settings: Settings, lake: Path
) -> None:
    path = GOLD_DAILY_STORE_SALES.path(str(lake))
    for store_id in (1, 2, 3):  # three appends: three small files per day
        rows = [gold_row(DAY, store_id), gold_row(OLD_DAY, store_id)]
        frame = spark.createDataFrame(rows, GOLD_DAILY_STORE_SALES.schema)
        frame.write.format("delta").mode("append").partitionBy("sale_date").save(path)
    before = snapshot(lake, "gold.daily_store_sales")
    folder = Path(path)
    old_partition = f"sale_date={OLD_DAY}"
    assert len([f for f in parquet_files(folder) if f.startswith(old_partition)]) == 3

    paths = local_settings.paths.model_copy(update={"lake_root": str(lake)})
    orchestration = local_settings.orchestration.model_copy(
        update={"vacuum_retention_hours": 0, "optimize_days": 7}
    )
    settings = local_settings.model_copy(update={"paths": paths, "orchestration": orchestration})
    figures = run(RunContext(settings, DAY))

    # By hand: only sale_date=DAY is within 7 days; its 3 files become 1.
    assert figures == {"tables": 1, "files_compacted": 3}
    after = parquet_files(folder)
    assert len([f for f in after if f.startswith(f"sale_date={DAY}")]) == 1
    assert len([f for f in after if f.startswith(old_partition)]) == 3
    assert snapshot(lake, "gold.daily_store_sales").equals(before)
