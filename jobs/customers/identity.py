"""Identity resolution: which source records are one person, under a key that does not move.

Rules (deterministic, the same across sources and runs): two records are the same person when
they share the standardised email, or the standardised phone, or when a CRM record names the
loyalty card of a loyalty record. Links are transitive: A = B by email and B = C by phone make
A, B and C one customer (connected components of the record–value graph, found by
min-label propagation with Spark joins).

Keys are stable: a component that holds records seen before keeps the smallest of their keys
(when a new link joins two known customers, the larger key is retired); a component of new
records only gets `CUS-` + the first 16 hex digits of SHA-256 of its smallest record id, so a
re-run gives the same keys. A link, once made, is not undone by a later change of email or
phone: the record keeps its key (splitting a customer is a data steward's decision).
"""

from __future__ import annotations

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

KEY_PREFIX = "CUS-"
MAX_ROUNDS = 50  # one round crosses one shared value: chains longer than this are refused


def links(records_df: DataFrame) -> DataFrame:
    """(record_id, value): each record to the identifying values it holds.

    `records_df` has record_id, email, phone and loyalty_card (for a loyalty record its own
    card, for a CRM record the card CRM recorded), all standardised, null when unknown.
    """
    edges = [
        records_df.where(F.col(column).isNotNull()).select(
            "record_id", F.concat(F.lit(f"{column}:"), F.col(column)).alias("value")
        )
        for column in ("email", "phone", "loyalty_card")
    ]
    result = edges[0]
    for edge in edges[1:]:
        result = result.unionByName(edge)
    return result.distinct()


def components(records_df: DataFrame) -> DataFrame:
    """(record_id, component): component = the smallest record id it is linked to."""
    edges = links(records_df).localCheckpoint()
    labels = records_df.select("record_id", F.col("record_id").alias("component"))
    for _ in range(MAX_ROUNDS):
        by_value = (
            edges.join(labels, "record_id").groupBy("value").agg(F.min("component").alias("c"))
        )
        proposed = edges.join(by_value, "value").groupBy("record_id").agg(F.min("c").alias("c"))
        updated = (
            labels.join(proposed, "record_id", "left")
            .select(
                "record_id", F.least("component", F.coalesce("c", "component")).alias("component")
            )
            .localCheckpoint()
        )
        changed = updated.join(labels, ["record_id", "component"], "left_anti").limit(1).count()
        labels = updated
        if changed == 0:
            return labels
    raise RuntimeError(f"identity resolution did not converge in {MAX_ROUNDS} rounds")


def assign_keys(records_df: DataFrame, known_df: DataFrame) -> DataFrame:
    """(record_id, customer_key) for the batch's records and the known ones.

    `known_df` holds the identities of earlier runs: record_id, customer_key and the
    identifying values (email, phone, loyalty_card) each record had; a known record absent
    from this batch still links what it linked before, one in the batch links with its new
    values.
    """
    columns = ["record_id", "email", "phone", "loyalty_card"]
    absent_df = known_df.join(records_df.select("record_id"), "record_id", "left_anti")
    grouped = components(records_df.select(*columns).unionByName(absent_df.select(*columns)))
    keyed = grouped.join(known_df.select("record_id", "customer_key"), "record_id", "left")
    kept = keyed.groupBy("component").agg(F.min("customer_key").alias("kept_key"))
    new_key = F.concat(F.lit(KEY_PREFIX), F.substring(F.sha2(F.col("component"), 256), 1, 16))
    return grouped.join(kept, "component").select(
        "record_id", F.coalesce("kept_key", new_key).alias("customer_key")
    )
