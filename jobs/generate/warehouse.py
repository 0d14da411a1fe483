"""Stock: the opening snapshot, and each day's receipts, transfers, adjustments and counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.contracts.reference import STORE_LOCATION_PREFIX
from jobs.generate.common import (
    GeneratedDay,
    csv_bytes,
    local_ts_strings,
    rng_for,
    sample_weighted,
    write_bytes,
    zero_padded,
)
from jobs.generate.reference import Products, Stores

STREAM_OPENING, STREAM_MOVEMENTS = 40, 41
# Share of the catalogue (most popular first) that each format carries.
ASSORTMENT = {"HYPER": 1.0, "SUPER": 0.5, "PROXI": 0.15}
RECEIPTS_PER_WAREHOUSE = 150
DELIVERY_LINES = {"HYPER": 120, "SUPER": 60, "PROXI": 25}
REASONS = ("DAMAGED", "THEFT", "EXPIRED", "FOUND")


def store_location(store_ids: np.ndarray) -> pa.Array:
    """Location ids of stores: STORE-<store_id>."""
    return pc.binary_join_element_wise(
        STORE_LOCATION_PREFIX, pc.cast(pa.array(store_ids), pa.string()), ""
    )


def carried_counts(stores: Stores, products: Products) -> np.ndarray:
    """How many SKUs (the most popular first) each store carries."""
    count = len(products.category)
    return np.array([max(1, int(ASSORTMENT[f] * count)) for f in stores.formats])


def carried_skus(stores: Stores, products: Products) -> tuple[np.ndarray, np.ndarray]:
    """(store index, sku index) of every SKU each store carries."""
    carried = carried_counts(stores, products)
    store_index = np.repeat(np.arange(len(carried)), carried)
    sku_index = np.arange(len(store_index)) - np.repeat(np.cumsum(carried) - carried, carried)
    return store_index, sku_index


def write_opening_stock(
    landing: Path,
    seed: int,
    start: date,
    stores: Stores,
    products: Products,
    warehouse_ids: list[str],
) -> int:
    """On-hand per location and SKU at midnight before the first day."""
    rng = rng_for(seed, STREAM_OPENING)
    store_index, sku_index = carried_skus(stores, products)
    popularity = np.diff(np.concatenate([[0.0], products.popularity_cdf]))
    depth = 5 + popularity[sku_index] * 20000 * stores.size[store_index]
    store_on_hand = rng.poisson(depth)
    n_sku = len(products.category)
    wh_sku = np.tile(np.arange(n_sku), len(warehouse_ids))
    wh_on_hand = rng.poisson(50 + popularity[wh_sku] * 400000)
    location = pa.concat_arrays(
        [
            store_location(stores.store_id[store_index]),
            pa.array(np.repeat(warehouse_ids, n_sku).tolist(), pa.string()),
        ]
    )
    sku = pa.concat_arrays(
        [products.sku.take(pa.array(sku_index)), products.sku.take(pa.array(wh_sku))]
    )
    on_hand = np.concatenate([store_on_hand, wh_on_hand])
    table = pa.table(
        {
            "location_id": location,
            "sku": sku,
            "on_hand": pc.cast(pa.array(on_hand), pa.string()),
            "snapshot_ts": local_ts_strings(start, np.zeros(len(on_hand), dtype=np.int64)),
        }
    )
    folder = landing / "warehouse/opening_stock" / f"snapshot_date={start.isoformat()}"
    write_bytes(folder / "opening_stock.csv", csv_bytes(table))
    return table.num_rows


def write_movements_day(
    landing: Path,
    generated: GeneratedDay,
    stores: Stores,
    products: Products,
    warehouse_ids: list[str],
) -> int:
    """Receipts at warehouses, deliveries to stores (out then in), adjustments and counts."""
    rng = generated.rng(STREAM_MOVEMENTS)
    day = generated.date
    cdf = products.popularity_cdf
    parts: list[dict[str, pa.Array]] = []

    # Receipts from suppliers, 04:00-12:00.
    n = RECEIPTS_PER_WAREHOUSE * len(warehouse_ids)
    wh = np.repeat(np.arange(len(warehouse_ids)), RECEIPTS_PER_WAREHOUSE)
    parts.append(
        _Movements(
            "RECEIPT",
            rng.integers(4 * 3600, 12 * 3600, n),
            pa.array(np.array(warehouse_ids)[wh].tolist(), pa.string()),
            products.sku.take(pa.array(sample_weighted(rng, cdf, n))),
            rng.integers(2, 41, n) * 12,
            reference=zero_padded(rng.integers(1, 10**6, n), 6, "PO"),
        ).columns(day)
    )

    # Deliveries: TRANSFER_OUT at the warehouse 05:00, TRANSFER_IN at the store 09:00.
    delivered = np.flatnonzero(rng.random(len(stores.store_id)) < 0.5)
    lines = np.array([DELIVERY_LINES[f] for f in stores.formats[delivered]], dtype=np.int64)
    store_idx = np.repeat(delivered, lines)
    m = len(store_idx)
    carried = carried_counts(stores, products)
    sku_idx = np.minimum(sample_weighted(rng, cdf, m), carried[store_idx] - 1)
    qty = rng.integers(1, 13, m) * 6
    source = np.array(warehouse_ids)[stores.store_id[store_idx] % len(warehouse_ids)]
    transfer = zero_padded(stores.store_id[store_idx], 4, f"TR{day:%Y%m%d}-")
    sku = products.sku.take(pa.array(sku_idx))
    parts.append(
        _Movements(
            "TRANSFER_OUT",
            np.full(m, 5 * 3600),
            pa.array(source.tolist(), pa.string()),
            sku,
            -qty,
            transfer=transfer,
        ).columns(day)
    )
    parts.append(
        _Movements(
            "TRANSFER_IN",
            np.full(m, 9 * 3600),
            store_location(stores.store_id[store_idx]),
            sku,
            qty,
            transfer=transfer,
        ).columns(day)
    )

    # Adjustments (mostly losses) and evening cycle counts in stores.
    k = 4 * len(stores.store_id)
    adj_store = rng.integers(0, len(stores.store_id), k)
    adj_qty = np.where(rng.random(k) < 0.85, -rng.integers(1, 4, k), rng.integers(1, 3, k))
    parts.append(
        _Movements(
            "ADJUSTMENT",
            rng.integers(8 * 3600, 21 * 3600, k),
            store_location(stores.store_id[adj_store]),
            products.sku.take(
                pa.array(np.minimum(sample_weighted(rng, cdf, k), carried[adj_store] - 1))
            ),
            adj_qty,
            reason=pa.array(REASONS).take(
                pa.array(np.where(adj_qty > 0, 3, rng.integers(0, 3, k)))
            ),
        ).columns(day)
    )
    c = 10 * len(stores.store_id)
    count_store = rng.integers(0, len(stores.store_id), c)
    parts.append(
        _Movements(
            "CYCLE_COUNT",
            np.full(c, 22 * 3600),
            store_location(stores.store_id[count_store]),
            products.sku.take(
                pa.array(np.minimum(sample_weighted(rng, cdf, c), carried[count_store] - 1))
            ),
            rng.poisson(12, c),
        ).columns(day)
    )

    columns = {name: pa.concat_arrays([p[name] for p in parts]) for name in parts[0]}
    total = len(columns["sku"])
    table = pa.table(
        {
            "movement_id": zero_padded(np.arange(1, total + 1), 7, f"M{day:%Y%m%d}-"),
            **columns,
        }
    )
    table = table.select(
        [
            "movement_id",
            "movement_type",
            "movement_ts",
            "location_id",
            "sku",
            "quantity",
            "transfer_id",
            "reason_code",
            "reference",
        ]
    )
    folder = landing / "warehouse/movements" / f"movement_date={day.isoformat()}"
    write_bytes(folder / "movements_001.csv", csv_bytes(table))
    return total


@dataclass(frozen=True)
class _Movements:
    """Movements of one type as CSV columns (text); the optional columns empty when None."""

    kind: str
    seconds: np.ndarray
    location: pa.Array
    sku: pa.Array
    quantity: np.ndarray
    transfer: pa.Array | None = None
    reason: pa.Array | None = None
    reference: pa.Array | None = None

    def columns(self, day: date) -> dict[str, pa.Array]:
        count = len(self.seconds)
        empty = pa.nulls(count, pa.string())
        return {
            "movement_type": pa.array([self.kind] * count, pa.string()),
            "movement_ts": local_ts_strings(day, self.seconds),
            "location_id": self.location,
            "sku": self.sku,
            "quantity": pc.cast(pa.array(self.quantity), pa.string()),
            "transfer_id": self.transfer if self.transfer is not None else empty,
            "reason_code": self.reason if self.reason is not None else empty,
            "reference": self.reference if self.reference is not None else empty,
        }
