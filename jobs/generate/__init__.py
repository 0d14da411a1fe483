"""`retailmax generate`: deterministic, realistic landing data for every source.

The same seed and arguments give the same bytes. Generation is vectorised with numpy and
pyarrow; the only Python loops run over days, files and campaigns, never over lines.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from tqdm import tqdm

from jobs.errors import BadArgumentError
from jobs.generate.common import GeneratedDay, csv_bytes, rng_for, write_bytes
from jobs.generate.customers import make_people, write_customer_day
from jobs.generate.ecommerce import DayOrders, make_orders, write_orders_day
from jobs.generate.pos import PosInputs, make_day
from jobs.generate.pos_files import Anomalies, PosManifest, write_pos_day
from jobs.generate.reference import (
    make_campaigns,
    make_products,
    make_stores,
    warehouses_table,
)
from jobs.generate.warehouse import write_movements_day, write_opening_stock

MANIFEST_NAME = "_manifest.json"
STREAM_ANOMALIES = 50
PEOPLE_PER_STORE = 200
DEFAULT_LINES_PER_STORE = 20_000
DEFAULT_SKUS = 5_000
STORES_PER_CHUNK = 100


@dataclass(frozen=True)
class GenerateOptions:
    """What to generate."""

    landing: Path
    stores: int
    days: int
    start: date
    seed: int = 42
    anomalies: float = 0.0
    skus: int = DEFAULT_SKUS
    lines_per_store: int = DEFAULT_LINES_PER_STORE
    progress: bool = True


@dataclass
class GenerateResult:
    """What was written: line counts per source, and the manifest's path."""

    counts: dict[str, int] = field(default_factory=dict)
    manifest_path: Path | None = None

    def add(self, source: str, rows: int) -> None:
        """Adds rows to a source's count."""
        self.counts[source] = self.counts.get(source, 0) + rows


def generate(options: GenerateOptions) -> GenerateResult:
    """Writes reference files, then each day's sources, then the manifest."""
    _check(options)
    landing = options.landing
    seed = options.seed
    result = GenerateResult()
    stores = make_stores(seed, options.stores, options.start)
    products = make_products(seed, options.skus)
    campaigns = make_campaigns(seed, options.start, options.days, products, stores)
    people = make_people(seed, max(200, PEOPLE_PER_STORE * options.stores), stores.store_id)
    warehouses = warehouses_table()
    warehouse_ids = warehouses.column("location_id").to_pylist()

    write_bytes(landing / "reference/stores.csv", csv_bytes(stores.to_table()))
    write_bytes(landing / "reference/products.csv", csv_bytes(products.to_table(seed)))
    write_bytes(landing / "reference/warehouses.csv", csv_bytes(warehouses))
    write_bytes(
        landing / "reference/campaigns.jsonl",
        "".join(c.to_json() + "\n" for c in campaigns).encode(),
    )
    result.add("stores", options.stores)
    result.add("products", options.skus)
    result.add("campaigns", len(campaigns))
    result.add("warehouses", warehouses.num_rows)
    result.add(
        "opening_stock",
        write_opening_stock(landing, seed, options.start, stores, products, warehouse_ids),
    )

    pos_manifest = PosManifest()
    pos_inputs = PosInputs(
        products, campaigns, people.loyalty_id.drop_null(), options.lines_per_store
    )
    anomaly_rng = rng_for(seed, STREAM_ANOMALIES)
    yesterday: DayOrders | None = None
    with tqdm(
        total=options.days,
        desc="generate",
        unit="day",
        disable=not options.progress,
        file=sys.stderr,
    ) as bar:
        for index in range(options.days):
            day = options.start + timedelta(days=index)
            generated = GeneratedDay(seed, index, day)
            # Stores in chunks: memory follows the chunk, not the size of the network.
            for chunk, start in enumerate(range(0, options.stores, STORES_PER_CHUNK)):
                bar.set_postfix_str(f"{day} POS from store {start + 1}")
                some_stores = stores.chunk(start, start + STORES_PER_CHUNK)
                lines = make_day(generated, some_stores, pos_inputs, chunk)
                anomalies = Anomalies(anomaly_rng, options.anomalies, index == 0 and chunk == 0)
                written = write_pos_day(
                    landing, lines, some_stores.store_id, anomalies, pos_manifest
                )
                result.add("pos_lines", written)
            bar.set_postfix_str(f"{day} other sources")
            today = make_orders(seed, index, day, options.stores, products, people)
            result.add("ecommerce_orders", write_orders_day(landing, day, today, yesterday))
            yesterday = today
            result.add(
                "stock_movements",
                write_movements_day(landing, generated, stores, products, warehouse_ids),
            )
            for source, rows in write_customer_day(landing, seed, index, day, people).items():
                result.add(source, rows)
            bar.update(1)

    result.manifest_path = landing / MANIFEST_NAME
    result.manifest_path.write_text(
        json.dumps(_manifest(options, result, pos_manifest), indent=1, sort_keys=True, default=int)
        + "\n",
        encoding="utf-8",
    )
    return result


def _check(options: GenerateOptions) -> None:
    if options.stores < 1 or options.days < 1:
        raise BadArgumentError("--stores and --days must be at least 1")
    if not 0.0 <= options.anomalies < 0.5:
        raise BadArgumentError("--anomalies must be a rate in [0, 0.5)")
    if not 1 <= options.skus < 999_999:
        raise BadArgumentError("--skus must be between 1 and 999998")


def _manifest(options: GenerateOptions, result: GenerateResult, pos: PosManifest) -> dict[str, Any]:
    """The run's parameters, counts, and every injected anomaly with its expected outcome."""
    return {
        "options": {
            "stores": options.stores,
            "days": options.days,
            "start": options.start.isoformat(),
            "seed": options.seed,
            "anomalies": options.anomalies,
            "skus": options.skus,
            "lines_per_store": options.lines_per_store,
        },
        "counts": result.counts,
        "pos": {
            "quarantined": pos.quarantined,
            "resent_files": pos.resent_files,
            "missing_store_files": pos.missing_store_files,
            "store_days": [
                {"sale_date": day, "store_id": store, **asdict(counts)}
                for (day, store), counts in sorted(pos.store_days.items())
            ],
        },
    }
