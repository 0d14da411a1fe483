"""POS lines of one business day for every store, vectorised (no per-line Python)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from jobs.contracts.pos import PAYMENT_METHODS, POS_COLUMNS
from jobs.generate.common import (
    GeneratedDay,
    cents_to_text,
    local_ts_strings,
    sample_weighted,
    zero_padded,
)
from jobs.generate.reference import (
    BASKET_LINES,
    PAYMENT_SHARES,
    REGISTERS,
    Campaign,
    Products,
    Stores,
)

STREAM_POS = 10
# Relative volume Monday..Sunday (Saturday is the big day).
WEEKDAY_FACTORS = np.array([0.88, 0.9, 0.97, 0.98, 1.12, 1.35, 0.8])
WEEKDAY_FACTORS = WEEKDAY_FACTORS / WEEKDAY_FACTORS.mean()
# Transactions per opening hour 08:00..20:59: a lunch peak and an after-work peak.
HOUR_WEIGHTS = np.array([3, 5, 7, 8, 9, 9, 7, 7, 8, 10, 11, 9, 5], dtype=float)
OPENING_HOUR = 8
RETURN_RATE = 0.015
LOYALTY_SCAN_RATE = 0.38
PROMO_UPTAKE = 0.35
GZIP_EVERY_NTH_STORE = 10  # stores whose id is a multiple of this send .csv.gz


@dataclass
class DayLines:
    """One day's clean POS lines, sorted by (store, register): text columns plus numeric facts."""

    day: date
    table: pa.Table  # POS_COLUMNS, all strings, exactly as they will be written
    store_id: np.ndarray
    register: np.ndarray
    quantity: np.ndarray
    unit_cents: np.ndarray
    discount_cents: np.ndarray
    seconds: np.ndarray

    @property
    def file_key(self) -> np.ndarray:
        """One integer per (store, register): the file a line is written to."""
        return self.store_id.astype(np.int64) * 1000 + self.register


def pos_file_name(store_id: int, register: int, send: int) -> str:
    """The file name of one register's export; a re-send has a higher send number, sorting last."""
    suffix = ".csv.gz" if store_id % GZIP_EVERY_NTH_STORE == 0 else ".csv"
    return f"pos_R{register:02d}_{send:03d}{suffix}"


@dataclass(frozen=True)
class PosInputs:
    """What every day's baskets draw from: the catalogue, the campaigns, the loyalty cards,
    and the mean number of lines per store and day."""

    products: Products
    campaigns: list[Campaign]
    loyalty_ids: pa.Array
    lines_per_store: int


def make_day(
    generated: GeneratedDay, stores: Stores, inputs: PosInputs, chunk_index: int = 0
) -> DayLines:
    """Baskets, prices, promotions, returns and payments for these stores on one day."""
    rng = generated.rng(STREAM_POS, chunk_index)
    day, products, loyalty_ids = generated.date, inputs.products, inputs.loyalty_ids
    lines_per_store = inputs.lines_per_store
    formats = stores.formats
    basket_mean = np.array([BASKET_LINES[f] for f in formats])
    expected_lines = lines_per_store * stores.size * WEEKDAY_FACTORS[day.weekday()]
    tx_count = rng.poisson(expected_lines / basket_mean)

    # Transactions.
    tx_store = np.repeat(np.arange(len(stores.store_id)), tx_count)
    n_tx = len(tx_store)
    tx_lines = 1 + rng.poisson(basket_mean[tx_store] - 1)
    registers = np.array([REGISTERS[f] for f in formats])
    tx_register = 1 + (rng.random(n_tx) * registers[tx_store]).astype(np.int64)
    hours = rng.choice(len(HOUR_WEIGHTS), size=n_tx, p=HOUR_WEIGHTS / HOUR_WEIGHTS.sum())
    tx_seconds = (OPENING_HOUR + hours) * 3600 + rng.integers(0, 3600, n_tx)
    first_tx = np.concatenate([[0], np.cumsum(tx_count)[:-1]])
    tx_seq = np.arange(n_tx) - first_tx[tx_store] + 1
    store_prefix = pa.array([f"T{s:04d}{day:%Y%m%d}" for s in stores.store_id])
    tx_id = pc.binary_join_element_wise(
        store_prefix.take(pa.array(tx_store)), zero_padded(tx_seq, 6), "-"
    )
    tx_ts = local_ts_strings(day, tx_seconds)
    tx_payment = rng.choice(len(PAYMENT_METHODS), size=n_tx, p=PAYMENT_SHARES)
    has_loyalty = rng.random(n_tx) < LOYALTY_SCAN_RATE
    loyalty_pick = rng.integers(0, len(loyalty_ids), n_tx)
    tx_loyalty = pc.if_else(pa.array(has_loyalty), loyalty_ids.take(pa.array(loyalty_pick)), None)

    # Lines.
    line_tx = np.repeat(np.arange(n_tx), tx_lines)
    n_lines = len(line_tx)
    line_number = np.arange(n_lines) - np.repeat(np.cumsum(tx_lines) - tx_lines, tx_lines) + 1
    sku_index = sample_weighted(rng, products.popularity_cdf, n_lines)
    quantity = rng.geometric(0.72, n_lines)
    is_return = rng.random(n_lines) < RETURN_RATE
    quantity = np.where(is_return, -quantity, quantity)
    unit_cents = products.list_price_cents[sku_index]

    promo_code, discount_cents = _apply_campaigns(rng, day, inputs, sku_index, quantity, unit_cents)

    line_store = tx_store[line_tx]
    order = np.lexsort((line_number, tx_seq[line_tx], tx_register[line_tx], line_store))
    take = pa.array(order)
    line_tx_sorted = pa.array(line_tx[order])
    payment_names = pa.array(PAYMENT_METHODS)
    table = pa.table(
        {
            "transaction_id": tx_id.take(line_tx_sorted),
            "line_number": pc.cast(pa.array(line_number[order]), pa.string()),
            "store_id": pc.cast(pa.array(stores.store_id[line_store[order]]), pa.string()),
            "register_id": pc.binary_join_element_wise(
                "R", zero_padded(tx_register[line_tx[order]], 2), ""
            ),
            "transaction_ts": tx_ts.take(line_tx_sorted),
            "sku": products.sku.take(pa.array(sku_index[order])),
            "quantity": pc.cast(pa.array(quantity[order]), pa.string()),
            "unit_price": products.price_text.take(pa.array(sku_index[order])),
            "discount_amount": _discount_text(discount_cents[order]),
            "promo_code": promo_code.take(take),
            "loyalty_id": tx_loyalty.take(line_tx_sorted),
            "payment_method": payment_names.take(pa.array(tx_payment[line_tx[order]])),
        }
    )
    assert tuple(table.column_names) == POS_COLUMNS
    return DayLines(
        day=day,
        table=table,
        store_id=stores.store_id[line_store[order]],
        register=tx_register[line_tx[order]],
        quantity=quantity[order],
        unit_cents=unit_cents[order],
        discount_cents=discount_cents[order],
        seconds=tx_seconds[line_tx[order]],
    )


def _apply_campaigns(
    rng: np.random.Generator,
    day: date,
    inputs: PosInputs,
    sku_index: np.ndarray,
    quantity: np.ndarray,
    unit_cents: np.ndarray,
) -> tuple[pa.Array, np.ndarray]:
    """Promo codes used during running campaigns, with the discount they give (sales only)."""
    campaigns, products = inputs.campaigns, inputs.products
    n_lines = len(sku_index)
    codes = np.full(n_lines, None, dtype=object)
    discount = np.zeros(n_lines, dtype=np.int64)
    sku_text = products.sku.to_numpy(zero_copy_only=False)
    for campaign in (c for c in campaigns if c.is_running(day)):
        in_scope_sku = (
            np.isin(sku_text, campaign.skus)
            if campaign.scope == "SKU"
            else np.isin(products.category, campaign.categories)
        )
        uses = (
            in_scope_sku[sku_index]
            & (quantity > 0)
            & (discount == 0)
            & (rng.random(n_lines) < PROMO_UPTAKE)
        )
        codes[uses] = campaign.promo_code
        discount[uses] = (quantity[uses] * unit_cents[uses] * campaign.discount_pct) // 100
    return pa.array(codes, pa.string()), discount


def _discount_text(discount_cents: np.ndarray) -> pa.Array:
    """Empty (null, meaning 0) when there is no discount, else the exact amount."""
    return pc.if_else(pa.array(discount_cents > 0), cents_to_text(discount_cents), None)
