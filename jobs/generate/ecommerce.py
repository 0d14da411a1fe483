"""Online orders as JSON lines: placed, shipped from an e-commerce warehouse, or cancelled."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.contracts.ecommerce import ORDER_CHANNELS
from jobs.generate.common import (
    json_raw,
    json_string,
    local_ts_strings,
    rng_for,
    sample_weighted,
    write_bytes,
    zero_padded,
)
from jobs.generate.customers import People
from jobs.generate.reference import ECOMMERCE_WAREHOUSES, Products

STREAM_ORDERS = 30
ORDERS_PER_STORE = 8  # online orders a day per store of the network
SHIPPED_SAME_DAY, CANCELLED = 0.7, 0.04
ONLINE_PAYMENTS = ("CARD", "MOBILE", "VOUCHER")


@dataclass
class DayOrders:
    """The orders placed on one day, as the JSON fields that do not change with status."""

    order_id: pa.Array
    order_seconds: np.ndarray
    fixed_json: pa.Array  # every field but status, updated_ts and shipped_ts, as JSON text
    is_cancelled: np.ndarray
    ships_same_day: np.ndarray
    ship_seconds: np.ndarray
    items: int


def make_orders(
    seed: int, day_index: int, day: date, store_count: int, products: Products, people: People
) -> DayOrders:
    """Orders of 1-6 items; customers known by email, often by loyalty card too."""
    rng = rng_for(seed, STREAM_ORDERS, day_index)
    count = max(1, rng.poisson(ORDERS_PER_STORE * store_count))
    n_items = 1 + rng.binomial(5, 0.3, count)
    item_order = np.repeat(np.arange(count), n_items)
    line_number = np.arange(len(item_order)) - np.repeat(np.cumsum(n_items) - n_items, n_items) + 1
    sku_index = sample_weighted(rng, products.popularity_cdf, len(item_order))
    quantity = rng.geometric(0.75, len(item_order))
    items = pc.binary_join_element_wise(
        '{"line_number":',
        pc.cast(pa.array(line_number), pa.string()),
        ',"sku":',
        json_string(products.sku.take(pa.array(sku_index))),
        ',"quantity":',
        pc.cast(pa.array(quantity), pa.string()),
        ',"unit_price":',
        products.price_text.take(pa.array(sku_index)),
        ',"discount_amount":null,"promo_code":null}',
        "",
    )
    offsets = pa.array(np.concatenate([[0], np.cumsum(n_items)]), pa.int32())
    items_json = pc.binary_join(pa.ListArray.from_arrays(offsets, items), ",")
    person = pa.array(rng.integers(0, len(people.email), count))
    order_seconds = rng.integers(0, 24 * 3600, count)
    order_id = zero_padded(np.arange(1, count + 1), 6, f"W{day:%Y%m%d}-")
    fixed = pc.binary_join_element_wise(
        '{"order_id":',
        json_string(order_id),
        ',"order_ts":',
        json_string(local_ts_strings(day, order_seconds)),
        ',"channel":',
        json_string(pa.array(ORDER_CHANNELS).take(pa.array(rng.integers(0, 2, count)))),
        ',"customer_email":',
        json_string(people.email.take(person)),
        ',"loyalty_id":',
        json_string(people.loyalty_id.take(person)),
        ',"fulfilment_location_id":',
        json_string(
            pa.array(ECOMMERCE_WAREHOUSES).take(
                pa.array(rng.integers(0, len(ECOMMERCE_WAREHOUSES), count))
            )
        ),
        ',"delivery_postcode":',
        json_string(
            pc.utf8_lpad(
                pc.cast(pa.array(rng.integers(1000, 96000, count)), pa.string()),
                width=5,
                padding="0",
            )
        ),
        ',"payment_method":',
        json_string(
            pa.array(ONLINE_PAYMENTS).take(pa.array(rng.choice(3, count, p=[0.8, 0.15, 0.05])))
        ),
        ',"items":[',
        items_json,
        "]",
        "",
    )
    roll = rng.random(count)
    ship_delay = rng.integers(2 * 3600, 10 * 3600, count)
    return DayOrders(
        order_id=order_id,
        order_seconds=order_seconds,
        fixed_json=fixed,
        is_cancelled=roll < CANCELLED,
        ships_same_day=(roll >= CANCELLED)
        & (roll < CANCELLED + SHIPPED_SAME_DAY)
        & (order_seconds + ship_delay < 24 * 3600),
        ship_seconds=np.minimum(order_seconds + ship_delay, 24 * 3600 - 1),
        items=len(item_order),
    )


def _state_json(
    orders: DayOrders,
    mask: np.ndarray,
    status: str,
    day: date,
    updated_seconds: np.ndarray,
    shipped: bool,
) -> pa.Array:
    picked = pa.array(np.flatnonzero(mask))
    updated = json_string(local_ts_strings(day, updated_seconds[mask]))
    shipped_ts = updated if shipped else pa.array(["null"] * int(mask.sum()), pa.string())
    fixed = orders.fixed_json.take(picked)
    return pc.binary_join_element_wise(
        fixed,
        ',"status":"',
        status,
        '","updated_ts":',
        updated,
        ',"shipped_ts":',
        json_raw(shipped_ts),
        "}",
        "",
    )


def write_orders_day(
    landing: Path, day: date, today: DayOrders, yesterday: DayOrders | None
) -> int:
    """Today's export: today's orders in their end-of-day state, and yesterday's that shipped."""
    parts = [
        _state_json(
            today,
            today.is_cancelled,
            "CANCELLED",
            day,
            np.minimum(today.order_seconds + 1800, 24 * 3600 - 1),
            shipped=False,
        ),
        _state_json(today, today.ships_same_day, "SHIPPED", day, today.ship_seconds, True),
        _state_json(
            today,
            ~today.is_cancelled & ~today.ships_same_day,
            "PLACED",
            day,
            today.order_seconds,
            shipped=False,
        ),
    ]
    if yesterday is not None:
        late = ~yesterday.is_cancelled & ~yesterday.ships_same_day
        morning = np.full(len(yesterday.order_seconds), 9 * 3600) + (
            np.arange(len(yesterday.order_seconds)) % 7200
        )
        parts.append(_state_json(yesterday, late, "SHIPPED", day, morning, shipped=True))
    lines = pa.concat_arrays(parts)
    payload = "\n".join(lines.to_pylist()) + "\n"
    folder = landing / "ecommerce/orders" / f"export_date={day.isoformat()}"
    write_bytes(folder / "orders_001.jsonl", payload.encode())
    return len(lines)
