"""Reference data: stores (long-tailed sizes), products (Zipf popularity), warehouses, campaigns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pyarrow as pa

from jobs.contracts.pos import PAYMENT_METHODS
from jobs.contracts.reference import STORE_FORMATS
from jobs.generate.common import cents_to_text, rng_for, zero_padded, zipf_weights

REGIONS = {
    "Ile-de-France": ["Paris", "Versailles", "Créteil", "Nanterre", "Saint-Denis"],
    "Auvergne-Rhone-Alpes": ["Lyon", "Grenoble", "Saint-Étienne", "Annecy"],
    "Provence-Alpes-Cote d'Azur": ["Marseille", "Nice", "Toulon", "Avignon"],
    "Occitanie": ["Toulouse", "Montpellier", "Nîmes", "Perpignan"],
    "Nouvelle-Aquitaine": ["Bordeaux", "Limoges", "Poitiers", "Pau"],
    "Hauts-de-France": ["Lille", "Amiens", "Roubaix", "Calais"],
    "Grand Est": ["Strasbourg", "Reims", "Metz", "Nancy"],
    "Bretagne": ["Rennes", "Brest", "Quimper", "Lorient"],
    "Pays de la Loire": ["Nantes", "Angers", "Le Mans"],
    "Normandie": ["Rouen", "Caen", "Le Havre"],
}
CATEGORIES = {
    "Grocery": ["Pasta & Rice", "Breakfast", "Canned Food", "Snacks"],
    "Fresh": ["Dairy", "Fruit & Vegetables", "Bakery", "Meat"],
    "Beverages": ["Water", "Soft Drinks", "Wine", "Coffee & Tea"],
    "Household": ["Cleaning", "Paper", "Laundry"],
    "Health & Beauty": ["Hair Care", "Skin Care", "Oral Care"],
    "Electronics": ["Phones", "Audio", "Accessories"],
    "Home & Garden": ["Kitchen", "Garden", "Decoration"],
    "Textile": ["Women", "Men", "Kids"],
}
BRANDS = ["RetailMax", "Nordica", "Solena", "Verano", "Alpina", "Maison Clair", "Kelto", "Orbis"]
# Category price bands in cents (low, high) for a log-uniform list price.
PRICE_BANDS = {
    "Grocery": (50, 900),
    "Fresh": (60, 2500),
    "Beverages": (30, 4000),
    "Household": (90, 1800),
    "Health & Beauty": (150, 3500),
    "Electronics": (900, 60000),
    "Home & Garden": (200, 15000),
    "Textile": (300, 8000),
}
# Mean basket size (lines per transaction) and registers per store by format.
BASKET_LINES = {"HYPER": 7.0, "SUPER": 4.5, "PROXI": 2.5}
REGISTERS = {"HYPER": 16, "SUPER": 8, "PROXI": 3}
WAREHOUSE_REGIONS = ["Ile-de-France", "Auvergne-Rhone-Alpes", "Occitanie", "Hauts-de-France"]
PAYMENT_SHARES = (0.22, 0.58, 0.14, 0.04, 0.02)  # same order as PAYMENT_METHODS
assert len(PAYMENT_SHARES) == len(PAYMENT_METHODS)

STREAM_STORES, STREAM_PRODUCTS, STREAM_CAMPAIGNS = 1, 2, 3


@dataclass(frozen=True)
class Stores:
    """The store network as numpy arrays (index i = store_id i + 1)."""

    store_id: np.ndarray
    size: np.ndarray  # mean-1 relative size, long-tailed
    format_index: np.ndarray  # index into STORE_FORMATS
    region: np.ndarray
    city: np.ndarray
    opened_on: list[date]

    def chunk(self, start: int, stop: int) -> Stores:
        """The stores at positions [start, stop)."""
        return Stores(
            self.store_id[start:stop],
            self.size[start:stop],
            self.format_index[start:stop],
            self.region[start:stop],
            self.city[start:stop],
            self.opened_on[start:stop],
        )

    @property
    def formats(self) -> np.ndarray:
        """Format name per store."""
        return np.array(STORE_FORMATS)[self.format_index]

    def to_table(self) -> pa.Table:
        """stores.csv as an Arrow table, in contract column order."""
        names = [f"RetailMax {c} {i}" for c, i in zip(self.city, self.store_id, strict=True)]
        return pa.table(
            {
                "store_id": pa.array(self.store_id, pa.int32()),
                "store_name": names,
                "region": self.region.tolist(),
                "city": self.city.tolist(),
                "format": self.formats.tolist(),
                "opened_on": [d.isoformat() for d in self.opened_on],
            }
        )


def make_stores(seed: int, count: int, start: date) -> Stores:
    """Stores with lognormal sizes (a few hypermarkets carry much of the volume)."""
    rng = rng_for(seed, STREAM_STORES)
    size = rng.lognormal(mean=0.0, sigma=0.8, size=count)
    size = size / size.mean()
    rank = np.argsort(np.argsort(-size))
    format_index = np.where(rank < 0.15 * count, 0, np.where(rank < 0.55 * count, 1, 2))
    region_names = np.array(list(REGIONS))
    region = region_names[rng.integers(0, len(region_names), count)]
    city = np.array(
        [
            REGIONS[r][int(k) % len(REGIONS[r])]
            for r, k in zip(region, rng.integers(0, 100, count), strict=True)
        ]
    )
    opened_days = rng.integers(30, 30 * 365, count)
    opened_on = [start - timedelta(days=int(d)) for d in opened_days]
    return Stores(np.arange(1, count + 1), size, format_index, region, city, opened_on)


@dataclass(frozen=True)
class Products:
    """The product catalogue; index 0 is the most popular SKU."""

    sku: pa.Array
    category: np.ndarray
    list_price_cents: np.ndarray
    unit_cost_cents: np.ndarray
    popularity_cdf: np.ndarray
    price_text: pa.Array

    def to_table(self, seed: int) -> pa.Table:
        """products.csv as an Arrow table, in contract column order."""
        rng = rng_for(seed, STREAM_PRODUCTS, 1)
        count = len(self.category)
        sub = np.array(
            [
                CATEGORIES[c][int(k) % len(CATEGORIES[c])]
                for c, k in zip(self.category, rng.integers(0, 100, count), strict=True)
            ]
        )
        brand = np.array(BRANDS)[rng.integers(0, len(BRANDS), count)]
        names = np.char.add(np.char.add(brand.astype(str), " "), sub.astype(str))
        names = np.char.add(np.char.add(names, " #"), (np.arange(count) + 1).astype(str))
        active = rng.random(count) > 0.03
        return pa.table(
            {
                "sku": self.sku,
                "product_name": names.tolist(),
                "category": self.category.tolist(),
                "subcategory": sub.tolist(),
                "brand": brand.tolist(),
                "unit_cost": cents_to_text(self.unit_cost_cents),
                "list_price": self.price_text,
                "active": np.where(active, "true", "false").tolist(),
            }
        )


def make_products(seed: int, count: int) -> Products:
    """SKUs with Zipf-like popularity and log-uniform prices within category bands."""
    rng = rng_for(seed, STREAM_PRODUCTS)
    categories = np.array(list(CATEGORIES))
    # Groceries and fresh food dominate the assortment, electronics are few.
    shares = np.array([0.24, 0.2, 0.16, 0.1, 0.1, 0.05, 0.08, 0.07])
    category = categories[rng.choice(len(categories), size=count, p=shares)]
    low = np.array([PRICE_BANDS[c][0] for c in category], dtype=float)
    high = np.array([PRICE_BANDS[c][1] for c in category], dtype=float)
    price = np.exp(rng.uniform(np.log(low), np.log(high)))
    list_price = (np.round(price / 10) * 10 - 1).astype(np.int64)  # x.x9 endings
    list_price = np.maximum(list_price, 19)
    unit_cost = np.round(list_price * rng.uniform(0.45, 0.8, count)).astype(np.int64)
    cdf = np.cumsum(zipf_weights(count, 1.05))
    sku = zero_padded(np.arange(1, count + 1), 6, prefix="SKU")
    return Products(sku, category, list_price, unit_cost, cdf, cents_to_text(list_price))


def warehouses_table() -> pa.Table:
    """reference/warehouses.csv: the distribution centres (two of them ship online orders)."""
    ids = [f"WH-{i + 1:02d}" for i in range(len(WAREHOUSE_REGIONS))]
    return pa.table(
        {
            "location_id": ids,
            "warehouse_name": [f"DC {REGIONS[r][0]}" for r in WAREHOUSE_REGIONS],
            "region": WAREHOUSE_REGIONS,
            "city": [REGIONS[r][0] for r in WAREHOUSE_REGIONS],
            "serves_ecommerce": ["true", "true", "false", "false"],
        }
    )


ECOMMERCE_WAREHOUSES = ("WH-01", "WH-02")


@dataclass(frozen=True)
class Campaign:
    """One campaign; a line of reference/campaigns.jsonl."""

    campaign_id: str
    campaign_name: str
    promo_code: str
    start_date: date
    end_date: date
    discount_pct: int
    scope: str
    skus: list[str]
    categories: list[str]
    budget_cents: int
    control_store_ids: list[int]

    def is_running(self, day: date) -> bool:
        """True when day is within [start_date, end_date]."""
        return self.start_date <= day <= self.end_date

    def to_json(self) -> str:
        """The campaign as one JSON line (amounts as exact decimal numbers)."""
        record = {
            "campaign_id": self.campaign_id,
            "campaign_name": self.campaign_name,
            "promo_code": self.promo_code,
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "discount_pct": f"__{self.discount_pct}.00__",
            "scope": self.scope,
            "skus": self.skus or None,
            "categories": self.categories or None,
            "budget": f"__{self.budget_cents // 100}.{self.budget_cents % 100:02d}__",
            "control_store_ids": self.control_store_ids or None,
        }
        # Numbers keep their two decimals in the text: readers parse them as exact decimals.
        return json.dumps(record, ensure_ascii=False).replace('"__', "").replace('__"', "")


def make_campaigns(
    seed: int, start: date, days: int, products: Products, stores: Stores
) -> list[Campaign]:
    """Campaigns overlapping the period: some by SKU list, some by category, a few with controls."""
    rng = rng_for(seed, STREAM_CAMPAIGNS)
    count = 3 + days // 7
    campaigns = []
    sku_list = products.sku.to_pylist()
    for index in range(count):
        begin = start + timedelta(days=int(rng.integers(-10, max(days, 1))))
        length = int(rng.integers(5, 22))
        by_category = index % 3 == 2
        pct = int(rng.choice([10, 15, 20, 25, 30]))
        skus = (
            []
            if by_category
            else sorted(
                sku_list[int(i)]
                for i in rng.choice(
                    min(len(sku_list), 400), size=min(len(sku_list), 12), replace=False
                )
            )
        )
        categories = [str(rng.choice(list(CATEGORIES)))] if by_category else []
        controls = (
            sorted(
                int(s)
                for s in rng.choice(
                    stores.store_id, size=min(3, len(stores.store_id)), replace=False
                )
            )
            if index % 2 == 0
            else []
        )
        campaigns.append(
            Campaign(
                campaign_id=f"CMP{index + 1:04d}",
                campaign_name=f"{'Category' if by_category else 'Selection'} deal {index + 1}",
                promo_code=f"RMX{begin:%y%m}{index + 1:03d}",
                start_date=begin,
                end_date=begin + timedelta(days=length - 1),
                discount_pct=pct,
                scope="CATEGORY" if by_category else "SKU",
                skus=skus,
                categories=categories,
                budget_cents=int(rng.integers(5_000, 80_000)) * 100,
                control_store_ids=controls,
            )
        )
    return campaigns
