"""Delta tables of the lake: where they live, how they are created, and idempotent writes."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

from pyspark.sql import types as T

if TYPE_CHECKING:
    from delta.tables import DeltaTableBuilder
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)
CREATE_ATTEMPTS = 5
# How Delta reports another writer creating the same table mid-way: its files there before its
# commit, or its log there before its first version can be read. Both seen in fresh-clone runs.
RACE_CONDITIONS = frozenset({"DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION", "DELTA_TABLE_NOT_FOUND"})


@dataclass(frozen=True)
class TableSpec:
    """A Delta table: `layer.name`, its schema (column comments in the field metadata), layout."""

    name: str
    schema: T.StructType
    partition_by: tuple[str, ...]
    comment: str
    properties: tuple[tuple[str, str], ...] = ()

    @property
    def layer(self) -> str:
        """bronze, silver, quarantine, gold or ops."""
        return self.name.split(".", 1)[0]

    def path(self, lake_root: str) -> str:
        """`<lake_root>/<layer>/<table>`: path-based tables, no metastore needed."""
        layer, table = self.name.split(".", 1)
        return f"{lake_root.rstrip('/')}/{layer}/{table}"


def column(name: str, data_type: T.DataType, comment: str, nullable: bool = True) -> T.StructField:
    """A schema field that carries its column comment (written to the Delta table)."""
    return T.StructField(name, data_type, nullable, metadata={"comment": comment})


def ensure_table(spark: SparkSession, spec: TableSpec, lake_root: str) -> str:
    """Creates the table if it does not exist (safe when shards race to create it).

    Two shards creating the same table both try to commit version 0. Delta fails the later
    with a concurrent-modification error (ProtocolChangedException: "multiple writers are
    writing to an empty directory"), or, when the other's files are there but not yet its
    commit, with DELTA_CREATE_TABLE_WITH_NON_EMPTY_LOCATION or DELTA_TABLE_NOT_FOUND. Those,
    and only those, are
    retried: the other's table is then there and accepted. Any other error is raised at once."""
    from delta.tables import DeltaTable

    path = spec.path(lake_root)
    for attempt in range(1, CREATE_ATTEMPTS + 1):
        if DeltaTable.isDeltaTable(spark, path):
            return path
        try:
            _create_builder(spark, spec, path).execute()
            return path
        except Exception as exc:
            if DeltaTable.isDeltaTable(spark, path):
                return path  # another writer's table is there: the same spec, accepted
            if not _is_concurrent_creation(exc):
                raise
            if attempt == CREATE_ATTEMPTS:
                raise RuntimeError(
                    f"could not create Delta table {spec.name} at {path} in {CREATE_ATTEMPTS} "
                    "attempts: another writer kept creating it, or the folder holds files that "
                    "are not a Delta table"
                ) from exc
            log.warning(
                "creating %s raced another writer (attempt %d): %s", spec.name, attempt, exc
            )
            time.sleep(0.5 * attempt)
    return path


def _is_concurrent_creation(exc: Exception) -> bool:
    """Delta's errors when another writer is creating the same table at the same moment."""
    from delta.exceptions import (
        ConcurrentWriteException,
        DeltaConcurrentModificationException,
        MetadataChangedException,
        ProtocolChangedException,
    )
    from pyspark.errors import AnalysisException

    concurrent = (
        ProtocolChangedException,
        MetadataChangedException,
        ConcurrentWriteException,
        DeltaConcurrentModificationException,
    )
    if isinstance(exc, concurrent):
        return True
    return isinstance(exc, AnalysisException) and exc.getCondition() in RACE_CONDITIONS


def _create_builder(spark: SparkSession, spec: TableSpec, path: str) -> DeltaTableBuilder:
    """CREATE TABLE IF NOT EXISTS at `path` with the spec's columns, layout and properties."""
    from delta.tables import DeltaTable

    builder = (
        DeltaTable.createIfNotExists(spark)
        .location(path)
        .comment(spec.comment)
        .addColumns(spec.schema)
    )
    if spec.partition_by:
        builder = builder.partitionedBy(*spec.partition_by)
    for key, value in spec.properties:
        builder = builder.property(key, value)
    return builder


def read_table(spark: SparkSession, spec: TableSpec, lake_root: str) -> DataFrame:
    """A table of the lake; before its first write, an empty frame with its schema."""
    from delta.tables import DeltaTable

    path = spec.path(lake_root)
    if not DeltaTable.isDeltaTable(spark, path):
        return spark.createDataFrame([], spec.schema)
    return spark.read.format("delta").load(path)


def sql_literal(value: date | int | str) -> str:
    """A SQL literal for a replaceWhere predicate."""
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def store_day_predicate(run_date: date, stores: Sequence[int]) -> str:
    """`sale_date = D AND store_id IN (...)`: exactly the store-days of one run."""
    ids = ", ".join(str(int(store)) for store in sorted(stores)) or "NULL"
    return f"sale_date = {sql_literal(run_date.isoformat())} AND store_id IN ({ids})"


def replace_where(
    df: DataFrame, spec: TableSpec, lake_root: str, predicate: str, cluster: bool = True
) -> None:
    """Replaces exactly the rows matching `predicate` (on partition columns) with df, atomically."""
    from pyspark.sql import functions as F

    path = spec.path(lake_root)
    ordered = df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in spec.schema])
    if cluster:  # one task writes each partition: one file per partition, not one per task
        ordered = ordered.repartition(*[ordered[c] for c in spec.partition_by])
    (ordered.write.format("delta").mode("overwrite").option("replaceWhere", predicate).save(path))


def list_folder(spark: SparkSession, path: str) -> list[str]:
    """Names of the entries of a folder (local or object storage); empty if it does not exist."""
    jvm = spark._jvm
    assert jvm is not None
    hadoop_path = jvm.org.apache.hadoop.fs.Path(path)
    fs = hadoop_path.getFileSystem(spark._jsc.hadoopConfiguration())
    if not fs.exists(hadoop_path):
        return []
    return sorted(str(status.getPath().getName()) for status in fs.listStatus(hadoop_path))


@contextlib.contextmanager
def session_conf(spark: SparkSession, key: str, value: str) -> Iterator[None]:
    """`key` is `value` in the session for the block, then what it was before (unset when it
    was not set). The session is the process's: the warm driver runs one job at a time."""
    previous = spark.conf.get(key, None)
    spark.conf.set(key, value)
    try:
        yield
    finally:
        if previous is None:
            spark.conf.unset(key)
        else:
            spark.conf.set(key, previous)
