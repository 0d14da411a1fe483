"""The web shop's order export, shared by the jobs that read it (sales, inventory).

An order appears once per state; for an `order_id` the record with the latest `updated_ts`
is the truth (docs/data-contracts.md, `ecommerce_orders`). One transform picks it, with a
tie-break that makes the winner the same on every run.
"""

from __future__ import annotations

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

# On equal updated_ts in the same file, the state further along wins.
STATUS_ORDER = ("PLACED", "SHIPPED", "CANCELLED")


def latest_order_states(orders_df: DataFrame) -> DataFrame:
    """One row per order_id: its latest state.

    `updated_ts` must be a timestamp (the instant, whatever its offset). Ties go to the later
    export file (`source_file`, whose path holds the export date), then the status later in
    STATUS_ORDER, then the greatest record text: the winner never depends on how Spark
    partitioned the input.
    """
    status_rank = F.array_position(F.array(*map(F.lit, STATUS_ORDER)), F.col("status"))
    newest_first = Window.partitionBy("order_id").orderBy(
        F.col("updated_ts").desc_nulls_last(),
        F.col("source_file").desc_nulls_last(),
        status_rank.desc(),
        F.to_json(F.struct(*orders_df.columns)).desc(),
    )
    return (
        orders_df.withColumn("_state_rank", F.row_number().over(newest_first))
        .where(F.col("_state_rank") == 1)
        .drop("_state_rank")
    )
