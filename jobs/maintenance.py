"""Job `maintenance`: weekly OPTIMIZE of the recent partitions and VACUUM of every lake table.

Every table a JobSpec writes (jobs/registry.py, `lake_tables`), so a new job's tables are
maintained without an edit here. OPTIMIZE compacts the small files that many shards and
re-runs leave; only the last `orchestration.optimize_days` days of a date-partitioned table
are rewritten, so its cost does not grow with history. VACUUM removes files no longer
referenced and older than `vacuum_retention_hours` (conf).

Delta 4 ignores a VACUUM's own retention argument unless it is 0
(`spark.databricks.delta.vacuum.retentionWindowIgnore.enabled`, on by default) and keeps
each table's `delta.deletedFileRetentionDuration` instead. So this job writes the conf's
retention into that property (when it differs) and vacuums without an argument: the conf is
what Delta applies. Delta's check refusing a VACUUM shorter than that property stays on;
this job never turns it off (only customers-erase does, for its own VACUUM of an erasure).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pyspark.sql import types as T

from jobs.context import RunContext
from jobs.lake import TableSpec
from jobs.registry import lake_tables
from jobs.spark import get_spark

if TYPE_CHECKING:
    from delta.tables import DeltaTable
    from pyspark.sql import SparkSession

log = logging.getLogger(__name__)
RETENTION_PROPERTY = "delta.deletedFileRetentionDuration"


def _recent_days(spec: TableSpec, since: object, until: object) -> str | None:
    """The OPTIMIZE predicate of a date-partitioned table; None (whole table) otherwise."""
    first = spec.partition_by[0] if spec.partition_by else None
    field = next((f for f in spec.schema.fields if f.name == first), None)
    if field is None or not isinstance(field.dataType, T.DateType):
        return None
    return f"{first} >= '{since}' AND {first} <= '{until}'"


def _keep_retention(spark: SparkSession, table: DeltaTable, path: str, hours: int) -> None:
    """Sets the table's deleted-file retention to `hours` unless it already is that."""
    wanted = f"interval {hours} hours"
    current = table.detail().select("properties").first()
    if current is not None and current[0].get(RETENTION_PROPERTY) == wanted:
        return
    spark.sql(f"ALTER TABLE delta.`{path}` SET TBLPROPERTIES ('{RETENTION_PROPERTY}' = '{wanted}')")


def run(context: RunContext) -> dict[str, Any]:
    """OPTIMIZE then VACUUM each existing table; returns the tables and files compacted."""
    from delta.tables import DeltaTable

    settings = context.settings
    orchestration = settings.orchestration
    spark = get_spark(settings, app_name=f"retailmax-maintenance-{context.run_date}")
    since = context.run_date - timedelta(days=orchestration.optimize_days - 1)
    figures: dict[str, Any] = {"tables": 0, "files_compacted": 0}
    for spec in lake_tables():
        path = spec.path(settings.lake_root)
        if not DeltaTable.isDeltaTable(spark, path):
            log.info("maintenance: %s does not exist yet, skipped", spec.name)
            continue
        table = DeltaTable.forPath(spark, path)
        optimize = table.optimize()
        predicate = _recent_days(spec, since, context.run_date)
        if predicate:
            optimize = optimize.where(predicate)
        metrics = optimize.executeCompaction().select("metrics.numFilesRemoved").first()
        _keep_retention(spark, table, path, orchestration.vacuum_retention_hours)
        table.vacuum()  # the table's retention, which is the conf's
        figures["tables"] += 1
        figures["files_compacted"] += int(metrics[0]) if metrics else 0
        log.info("maintenance: %s optimized since %s, vacuumed", spec.name, since)
    return figures
