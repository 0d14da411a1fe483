"""What the business reads, as transforms: e-commerce availability, replenishment alerts
(jobs.inventory.load writes them, with the availability feed file).

available_to_sell = stock of the warehouses that serve e-commerce - safety stock - the units of
open online orders, and never below 0 for the site; the parts stay in the table, so a negative
warehouse balance is visible, not hidden by the floor. Replenishment uses the sales velocity of
the ledger: reorder when on hand covers less than lead time + safety days of sales, up to one
review period more. Negative stock is always an alert of its own.
"""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta
from typing import Any

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from jobs.inventory.tables import ECOMMERCE_AVAILABILITY, REPLENISHMENT_ALERTS
from jobs.orders import latest_order_states
from jobs.settings import InventorySettings

log = logging.getLogger(__name__)

SALES_TYPES = ("SALE", "RETURN", "SHIPMENT")  # what velocity counts, net of returns
REASON_NEGATIVE = "negative_stock"
REASON_REORDER = "below_reorder_point"


def open_reservations(orders_df: DataFrame, until: datetime | None) -> DataFrame:
    """(sku, reserved_units) of the orders whose latest state before `until` is PLACED."""
    if until is not None:
        orders_df = orders_df.where(F.col("updated_ts") < F.lit(until))
    return (
        orders_df.transform(latest_order_states)
        .where(F.col("status") == "PLACED")
        .select(F.explode("items").alias("item"))
        .groupBy(F.col("item.sku").alias("sku"))
        .agg(F.sum("item.quantity").cast("long").alias("reserved_units"))
    )


def availability(
    levels_df: DataFrame,
    warehouses_df: DataFrame,
    products_df: DataFrame,
    reservations_df: DataFrame,
    conf: InventorySettings,
    as_of: datetime,
) -> DataFrame:
    """One row per product: what the web site may sell, with the figures it comes from."""
    ecommerce_df = warehouses_df.where(F.col("serves_ecommerce")).select("location_id")
    stock_df = (
        levels_df.join(F.broadcast(ecommerce_df), "location_id", "left_semi")
        .groupBy("sku")
        .agg(F.sum("on_hand").cast("long").alias("warehouse_on_hand"))
    )
    safety: Any = F.lit(conf.safety_stock_units)
    for category, units in sorted(conf.safety_stock_by_category.items()):
        safety = F.when(F.col("category") == category, F.lit(units)).otherwise(safety)
    return (
        products_df.select("sku", "category")
        .join(stock_df, "sku", "left")
        .join(reservations_df, "sku", "left")
        .select(
            "sku",
            F.coalesce("warehouse_on_hand", F.lit(0)).cast("long").alias("warehouse_on_hand"),
            safety.cast("long").alias("safety_stock"),
            F.coalesce("reserved_units", F.lit(0)).cast("long").alias("reserved_units"),
        )
        .withColumn(
            "available_to_sell",
            F.greatest(
                F.col("warehouse_on_hand") - F.col("safety_stock") - F.col("reserved_units"),
                F.lit(0).cast("long"),
            ),
        )
        .withColumn("as_of", F.lit(as_of.replace(tzinfo=None)))
        .select(*ECOMMERCE_AVAILABILITY.schema.fieldNames())
    )


def _ceil_days(units: Any, days: int, velocity_days: int) -> Any:
    """ceil(units x days / velocity_days) in integers: no floating-point rounding at the edge."""
    return F.floor((units * F.lit(days) + F.lit(velocity_days - 1)) / F.lit(velocity_days))


def replenishment_alerts(
    levels_df: DataFrame, ledger_df: DataFrame, conf: InventorySettings, alert_date: date
) -> DataFrame:
    """Keys below their reorder point (with sales), and every key with negative stock.

    ledger_df holds the movements of the velocity window (velocity_days up to alert_date).
    """
    units_df = (
        ledger_df.where(F.col("movement_type").isin(*SALES_TYPES))
        .groupBy("location_id", "sku")
        .agg(F.greatest(-F.sum("quantity"), F.lit(0)).cast("long").alias("units"))
    )
    days = conf.velocity_days
    cover = conf.lead_time_days + conf.safety_days
    units = F.coalesce(F.col("units"), F.lit(0).cast("long"))
    return (
        levels_df.select("location_id", "sku", "on_hand")
        .join(units_df, ["location_id", "sku"], "left")
        .withColumn("avg_daily_units", units.cast("double") / F.lit(days))
        .withColumn("reorder_point", _ceil_days(units, cover, days).cast("long"))
        # Each term is whole units: the reorder point, then the review period's cover on top.
        .withColumn(
            "order_up_to",
            (F.col("reorder_point") + _ceil_days(units, conf.review_days, days)).cast("long"),
        )
        .withColumn(
            "reason",
            F.when(F.col("on_hand") < 0, F.lit(REASON_NEGATIVE)).when(
                (units > 0) & (F.col("on_hand") <= F.col("reorder_point")), F.lit(REASON_REORDER)
            ),
        )
        .where(F.col("reason").isNotNull())
        .withColumn(
            "suggested_order_qty",
            F.greatest(
                F.col("order_up_to") - F.greatest("on_hand", F.lit(0).cast("long")),
                F.lit(0).cast("long"),
            ),
        )
        .withColumn("alert_date", F.lit(alert_date))
        .select(*REPLENISHMENT_ALERTS.schema.fieldNames())
    )


def velocity_window(ledger_df: DataFrame, conf: InventorySettings, alert_date: date) -> DataFrame:
    """The ledger partitions of the velocity_days up to alert_date."""
    first = alert_date - timedelta(days=conf.velocity_days - 1)
    return ledger_df.where(F.col("movement_date").between(F.lit(first), F.lit(alert_date)))
