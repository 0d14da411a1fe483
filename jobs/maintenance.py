"""Job `maintenance`: weekly OPTIMIZE of the recent partitions and VACUUM of every lake table.

OPTIMIZE compacts the small files that many shards and re-runs leave; only the last
`orchestration.optimize_days` days are rewritten, so its cost does not grow with history.
VACUUM removes files no longer referenced and older than `vacuum_retention_hours` (conf;
Delta refuses less than 168 h unless its safety check is turned off, which we never do).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from pyspark.sql import types as T

from jobs.context import RunContext
from jobs.inventory.tables import QUARANTINE_STOCK_MOVEMENTS, STOCK_LEVELS, STOCK_MOVEMENTS
from jobs.lake import TableSpec
from jobs.sales.tables import ALL_TABLES as SALES_TABLES
from jobs.spark import get_spark

log = logging.getLogger(__name__)

MAINTAINED_TABLES: tuple[TableSpec, ...] = (
    *SALES_TABLES,
    STOCK_MOVEMENTS,
    QUARANTINE_STOCK_MOVEMENTS,
    STOCK_LEVELS,
)


def _recent_days(spec: TableSpec, since: object, until: object) -> str | None:
    """The OPTIMIZE predicate of a date-partitioned table; None (whole table) otherwise."""
    first = spec.partition_by[0] if spec.partition_by else None
    field = next((f for f in spec.schema.fields if f.name == first), None)
    if field is None or not isinstance(field.dataType, T.DateType):
        return None
    return f"{first} >= '{since}' AND {first} <= '{until}'"


def run(context: RunContext) -> dict[str, Any]:
    """OPTIMIZE then VACUUM each existing table; returns the tables and files compacted."""
    from delta.tables import DeltaTable

    settings = context.settings
    orchestration = settings.orchestration
    spark = get_spark(settings, app_name=f"retailmax-maintenance-{context.run_date}")
    since = context.run_date - timedelta(days=orchestration.optimize_days - 1)
    figures: dict[str, Any] = {"tables": 0, "files_compacted": 0}
    for spec in MAINTAINED_TABLES:
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
        table.vacuum(float(orchestration.vacuum_retention_hours))
        figures["tables"] += 1
        figures["files_compacted"] += int(metrics[0]) if metrics else 0
        log.info("maintenance: %s optimized since %s, vacuumed", spec.name, since)
    return figures
