"""Benchmark of silver.customers' SCD2 MERGE: N source records into a base of N customers.

    .venv/bin/python -m benchmarks.customers --customers 5000000

Setup (not timed, Spark on local[2]): silver.customers with N current customers (the job's
table, written by its own MERGE into an empty table: one version each; with `--history`,
every customer has moved once before, so the table also holds N closed versions), and the
day's image
of N customers as the job hands it to the MERGE (after survivorship), materialised as
Parquet: `--changed` of them with a new postcode, `--new` new customer keys in place of as
many known ones (which the MERGE then closes as merged away), the rest unchanged.

Timed, each from a copy of the same base:
1. MERGE: jobs.customers.load.load_customers, the job's one MERGE (close + insert changed,
   insert new, close retired, leave unchanged rows alone), with what the Delta history says
   it rewrote.
2. Full rewrite: the same SCD2 result computed with DataFrame joins and written over the
   whole table (mode overwrite, one commit) — what the job would do without MERGE.
3. The peer, DuckDB (2 threads): the same full-rewrite SCD2 in SQL, from the base table's
   Parquet files (listed by deltalake) and the image, to Parquet — without a transaction log.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from benchmarks.common import local_env

DAY0, DAY1, DAY = date(2024, 3, 3), date(2024, 3, 4), date(2024, 3, 5)
CORES = 2

DUCKDB_SCD2 = """
COPY (
  WITH base AS (SELECT * REPLACE (is_current::BOOLEAN AS is_current)
               FROM read_parquet($base, hive_partitioning = true)),
       image AS (SELECT * FROM read_parquet($image)),
       cur AS (SELECT * FROM base WHERE is_current)
  -- history and unchanged current rows stay as they are
  SELECT b.* FROM base b
  LEFT JOIN image i USING (customer_key)
  WHERE NOT b.is_current OR i.attributes_hash = b.attributes_hash
  UNION ALL
  -- changed or merged-away current rows are closed
  SELECT b.* REPLACE (DATE '{day}' AS valid_to, false AS is_current) FROM base b
  LEFT JOIN image i USING (customer_key)
  WHERE b.is_current AND (i.customer_key IS NULL OR i.attributes_hash <> b.attributes_hash)
  UNION ALL
  -- changed and new customers get a current version
  SELECT i.*, DATE '{day}' AS valid_from, NULL::DATE AS valid_to, true AS is_current
  FROM image i LEFT JOIN cur c USING (customer_key)
  WHERE c.customer_key IS NULL OR c.attributes_hash <> i.attributes_hash
) TO '{target}' (FORMAT parquet)
"""


def image_frame(spark: Any, customers: int, changed: float, new: float, moves: int) -> Any:
    """N customers' surviving attributes as the job computes them, hashed like the job:
    `moves` earlier moves of everyone, then `changed` of them move again, `new` are new."""
    from pyspark.sql import functions as F

    from jobs.customers.transforms import attributes_hash

    ids = spark.range(customers)
    moved = (F.abs(F.hash("id", F.lit(7))) % 1_000_000) < int(changed * 1_000_000)
    replaced = (F.abs(F.hash("id", F.lit(11))) % 1_000_000) < int(new * 1_000_000)
    key_id = F.when(replaced, F.col("id") + customers).otherwise(F.col("id"))
    postcode = (F.col("id") + moves + F.when(moved, 1).otherwise(0)) % 95000 + 1000
    return ids.select(
        F.concat(F.lit("CUS-"), F.lpad(F.hex(key_id), 16, "0")).alias("customer_key"),
        F.concat(F.lit("First"), (F.col("id") % 977).cast("string")).alias("first_name"),
        F.concat(F.lit("Last"), (F.col("id") % 3001).cast("string")).alias("last_name"),
        F.concat(F.lit("c"), F.col("id").cast("string"), F.lit("@example.fr")).alias("email"),
        F.concat(F.lit("+336"), F.lpad((F.col("id") % 100_000_000).cast("string"), 8, "0")).alias(
            "phone"
        ),
        F.lpad(postcode.cast("string"), 5, "0").alias("postcode"),
        F.lit("Paris").alias("city"),
        F.date_add(F.lit(date(1950, 1, 1)), (F.col("id") % 20000).cast("int")).alias("birth_date"),
        (F.col("id") % 500 + 1).cast("int").alias("home_store_id"),
    ).withColumn("attributes_hash", attributes_hash())


def full_rewrite(spark: Any, image_df: Any, path: str) -> None:
    """The SCD2 result with joins, written over the whole table in one commit."""
    from pyspark.sql import functions as F

    from jobs.customers.tables import CUSTOMERS

    base = spark.read.format("delta").load(path)
    image = image_df.alias("i")
    joined = base.alias("b").join(image, "customer_key", "left")
    same = F.col("i.attributes_hash") == F.col("b.attributes_hash")
    columns = [f.name for f in CUSTOMERS.schema]
    kept = joined.where(~F.col("b.is_current") | F.coalesce(same, F.lit(False))).select("b.*")
    closed = (
        joined.where(F.col("b.is_current") & ~F.coalesce(same, F.lit(False)))
        .select("b.*")
        .withColumn("valid_to", F.lit(DAY))
        .withColumn("is_current", F.lit(False))
    )
    current = base.where("is_current").select("customer_key", "attributes_hash").alias("c")
    opened = (
        image.join(current, "customer_key", "left")
        .where(
            F.col("c.attributes_hash").isNull()
            | (F.col("c.attributes_hash") != F.col("i.attributes_hash"))
        )
        .select("i.*")
        .withColumn("valid_from", F.lit(DAY))
        .withColumn("valid_to", F.lit(None).cast("date"))
        .withColumn("is_current", F.lit(True))
    )
    result = kept.select(*columns).unionByName(closed.select(*columns))
    result = result.unionByName(opened.select(*columns))
    # Reading and overwriting the same table: Delta's snapshot isolation allows it.
    result.write.format("delta").mode("overwrite").save(path)


def main() -> int:
    """Prints the figures of one run."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=5_000_000)
    parser.add_argument("--changed", type=float, default=0.01, help="share with a new postcode")
    parser.add_argument("--new", type=float, default=0.005, help="share of new customer keys")
    parser.add_argument(
        "--history", action="store_true", help="every customer has one closed version already"
    )
    parser.add_argument("--driver-memory", default="12g")
    args = parser.parse_args()

    import duckdb
    from deltalake import DeltaTable

    from jobs.customers import load
    from jobs.customers.tables import CUSTOMERS
    from jobs.spark import get_spark

    work = Path(tempfile.mkdtemp(prefix="retailmax-bench-customers-"))
    try:
        _, settings = local_env(
            work, work / "landing", work / "base", CORES, args.driver_memory, jit_tiers=True
        )
        spark = get_spark(settings, app_name="retailmax-bench-customers")
        started = time.perf_counter()
        load.load_customers(
            spark, image_frame(spark, args.customers, 0.0, 0.0, 0), str(work / "base"), DAY0
        )
        if args.history:  # everyone moved once: N closed versions, N current ones
            load.load_customers(
                spark, image_frame(spark, args.customers, 1.0, 0.0, 0), str(work / "base"), DAY1
            )
        moves = 1 if args.history else 0
        image_frame(spark, args.customers, args.changed, args.new, moves).write.parquet(
            str(work / "image")
        )
        image_df = spark.read.parquet(str(work / "image"))
        setup = time.perf_counter() - started

        figures: dict[str, float] = {}
        rows: dict[str, int] = {}
        for name in ("merge", "rewrite"):
            lake = work / name
            shutil.copytree(work / "base", lake)
            path = CUSTOMERS.path(str(lake))
            started = time.perf_counter()
            if name == "merge":
                load.load_customers(spark, image_df, str(lake), DAY)
            else:
                full_rewrite(spark, image_df, path)
            figures[name] = time.perf_counter() - started
            if name == "merge":
                metrics = DeltaTable(path).history(1)[0]["operationMetrics"]
            rows[name] = spark.read.format("delta").load(path).count()
        spark.stop()

        connection = duckdb.connect()
        connection.execute(f"SET threads TO {CORES}")
        base_files = DeltaTable(CUSTOMERS.path(str(work / "base"))).file_uris()
        started = time.perf_counter()
        connection.execute(
            DUCKDB_SCD2.format(day=DAY.isoformat(), target=work / "duckdb.parquet"),
            {"base": base_files, "image": str(work / "image" / "*.parquet")},
        )
        figures["duckdb"] = time.perf_counter() - started
        duck_rows = connection.execute(
            f"SELECT count(*) FROM read_parquet('{work / 'duckdb.parquet'}')"
        ).fetchone()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"silver.customers SCD2, local[{CORES}], driver {args.driver_memory}")
    history = args.customers if args.history else 0
    print(
        f"  base customers (current rows)  {args.customers:>12,}   + {history:,} closed "
        f"versions (setup {setup:.0f} s)"
    )
    print(
        f"  source records (the image)     {args.customers:>12,}   "
        f"({args.changed:.1%} changed, {args.new:.1%} new keys)"
    )
    print(
        f"  MERGE (load_customers)        {figures['merge']:>10.1f} s   "
        f"rows after {rows['merge']:,}; updated {int(metrics['numTargetRowsUpdated']):,}, inserted "
        f"{int(metrics['numTargetRowsInserted']):,}, files rewritten "
        f"{int(metrics['numTargetFilesRemoved'])}"
    )
    print(
        f"  full rewrite (Spark, overwrite) {figures['rewrite']:>9.1f} s   "
        f"rows after {rows['rewrite']:,}"
    )
    print(
        f"  DuckDB {duckdb.__version__} full rewrite   {figures['duckdb']:>10.1f} s   "
        f"rows {duck_rows[0] if duck_rows else 0:,}"
    )
    print(f"MERGE / full rewrite: {figures['merge'] / figures['rewrite']:.2f}")
    print(f"MERGE / DuckDB:       {figures['merge'] / figures['duckdb']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
