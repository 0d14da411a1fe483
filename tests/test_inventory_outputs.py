"""What inventory publishes, on hand-computed cases: e-commerce availability and its feed file,
replenishment alerts, and the daily reconciliation against a full ledger replay."""

from __future__ import annotations

import csv
import hashlib
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from delta.tables import DeltaTable as SparkDeltaTable
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from jobs.context import RunContext
from jobs.inventory import reconcile, replenish, run
from jobs.settings import InventorySettings, Settings
from tests.movements import DAY, apply, at, levels, move
from tests.tables import table

MIDNIGHT_UTC = "T00:00:00Z"


def order_state(
    order_id: str, status: str, updated: str, items: list[tuple[str, int]], shipped: str | None
) -> str:
    """One order state as the web shop exports it (a JSON line of the ecommerce contract)."""
    return json.dumps(
        {
            "order_id": order_id,
            "order_ts": updated,
            "updated_ts": updated,
            "status": status,
            "channel": "WEB",
            "customer_email": None,
            "loyalty_id": None,
            "fulfilment_location_id": "WH-01",
            "shipped_ts": shipped,
            "delivery_postcode": "75001",
            "payment_method": "CARD",
            "items": [
                {
                    "line_number": n,
                    "sku": sku,
                    "quantity": quantity,
                    "unit_price": 2.0,
                    "discount_amount": None,
                    "promo_code": None,
                }
                for n, (sku, quantity) in enumerate(items, start=1)
            ],
        }
    )


@pytest.fixture
def shop_landing(tmp_path: Path) -> Path:
    """Two warehouses (only WH-01 serves the web shop), a store, four products (one Fresh, one
    inactive), an opening snapshot and two order exports."""
    landing = tmp_path / "landing"
    reference = landing / "reference"
    reference.mkdir(parents=True)
    (reference / "stores.csv").write_text(
        "store_id,store_name,region,city,format,opened_on\n1,S1,R,C,SUPER,2001-01-01\n"
    )
    (reference / "warehouses.csv").write_text(
        "location_id,warehouse_name,region,city,serves_ecommerce\n"
        "WH-01,DC,R,C,true\nWH-02,Stores only,R,C,false\n"
    )
    (reference / "products.csv").write_text(
        "sku,product_name,category,subcategory,brand,unit_cost,list_price,active\n"
        "SKU-A,A,Food,F,B,1.00,2.00,true\nSKU-B,B,Food,F,B,1.00,2.00,true\n"
        "SKU-F,F,Fresh,F,B,1.00,2.00,true\nSKU-X,X,Food,F,B,1.00,2.00,false\n"
    )
    opening = landing / "warehouse/opening_stock/snapshot_date=2024-03-04"
    opening.mkdir(parents=True)
    (opening / "opening_stock.csv").write_text(
        "location_id,sku,on_hand,snapshot_ts\n"
        "WH-01,SKU-A,100,2024-03-04T00:00:00+00:00\n"
        "WH-01,SKU-B,6,2024-03-04T00:00:00+00:00\n"
        "WH-01,SKU-X,40,2024-03-04T00:00:00+00:00\n"
        "WH-02,SKU-A,50,2024-03-04T00:00:00+00:00\n"
        "STORE-1,SKU-A,10,2024-03-04T00:00:00+00:00\n"
    )
    exports = {
        "2024-03-03": [order_state("O4", "PLACED", "2024-03-03T20:00:00Z", [("SKU-A", 1)], None)],
        "2024-03-04": [
            order_state("O1", "PLACED", "2024-03-04T09:00:00Z", [("SKU-A", 3)], None),
            order_state(
                "O1", "SHIPPED", "2024-03-04T14:00:00Z", [("SKU-A", 3)], "2024-03-04T14:00:00Z"
            ),
            order_state("O2", "PLACED", "2024-03-04T10:00:00Z", [("SKU-A", 4)], None),
            order_state("O3", "PLACED", "2024-03-04T11:00:00Z", [("SKU-B", 2)], None),
            order_state("O3", "CANCELLED", "2024-03-04T11:30:00Z", [("SKU-B", 2)], None),
            order_state("O5", "PLACED", "2024-03-04T16:00:00Z", [("SKU-B", 5)], None),
        ],
    }
    for day, lines in exports.items():
        folder = landing / f"ecommerce/orders/export_date={day}"
        folder.mkdir(parents=True)
        (folder / "orders_001.jsonl").write_text("\n".join(lines) + "\n")
    return landing


def context_with(
    settings: Settings,
    landing: Path,
    lake: Path,
    inventory: InventorySettings,
    until: datetime | None = None,
) -> RunContext:
    paths = settings.paths.model_copy(update={"landing_root": str(landing), "lake_root": str(lake)})
    return RunContext(
        settings.model_copy(update={"paths": paths, "inventory": inventory}),
        DAY,
        started_at=at(23),
        since=None if until is None else datetime.fromisoformat("2024-03-04T00:00:00+00:00"),
        until=until,
    )


def availability(lake: Path) -> dict[str, tuple[int, int, int, int, str]]:
    df = table(lake, "gold.ecommerce_availability")
    return {
        r.sku: (
            int(r.available_to_sell),
            int(r.warehouse_on_hand),
            int(r.safety_stock),
            int(r.reserved_units),
            r.as_of.isoformat(),
        )
        for r in df.itertuples()
    }


SAFETY = InventorySettings(safety_stock_units=2, safety_stock_by_category={"Fresh": 5})


def test_availability_is_web_warehouse_stock_minus_safety_stock_minus_open_orders(
    spark: SparkSession, local_settings: Settings, shop_landing: Path, lake: Path
) -> None:
    until_15 = datetime.fromisoformat("2024-03-04T15:00:00+00:00")
    run(context_with(local_settings, shop_landing, lake, SAFETY, until=until_15))
    # At 15:00, by hand. SKU-A: WH-01 100 - 3 shipped (O1) = 97; WH-02 and STORE-1 do not serve
    # the web; open orders O2 (4) and yesterday's O4 (1): 97 - 2 - 5 = 90. SKU-B: O3 was
    # cancelled, O5 comes at 16:00: 6 - 2 - 0 = 4. SKU-F (Fresh): 0 - 5 -> 0. SKU-X: inactive.
    at_15 = "2024-03-04T15:00:00+00:00"
    assert availability(lake) == {
        "SKU-A": (90, 97, 2, 5, at_15),
        "SKU-B": (4, 6, 2, 0, at_15),
        "SKU-F": (0, 0, 5, 0, at_15),
    }
    run(context_with(local_settings, shop_landing, lake, SAFETY))  # the daily run
    # End of day: O5 (5 x SKU-B) is open too: 6 - 2 - 5 = -1, offered as 0, the parts kept.
    end = "2024-03-05T00:00:00+00:00"
    assert availability(lake) == {
        "SKU-A": (90, 97, 2, 5, end),
        "SKU-B": (0, 6, 2, 5, end),
        "SKU-F": (0, 0, 5, 0, end),
    }
    # The daily run reconciled the day against the ledger: nothing to correct.
    assert table(lake, "ops.stock_reconciliation").empty
    # A late re-run of the 15:00 batch does not take the availability back in time.
    run(context_with(local_settings, shop_landing, lake, SAFETY, until=until_15))
    assert {sku: row[4] for sku, row in availability(lake).items()} == dict.fromkeys(
        ("SKU-A", "SKU-B", "SKU-F"), end
    )


def test_each_run_writes_a_feed_file_with_its_row_count_and_checksum(
    spark: SparkSession, local_settings: Settings, shop_landing: Path, lake: Path
) -> None:
    run(context_with(local_settings, shop_landing, lake, SAFETY))
    folder = lake / "feeds" / "ecommerce_availability" / "as_of=2024-03-05T00-00Z"
    assert sorted(p.name for p in folder.iterdir()) == ["availability.csv", "manifest.json"]
    data = (folder / "availability.csv").read_bytes()
    assert data == b"sku,available_to_sell\nSKU-A,90\nSKU-B,0\nSKU-F,0\n"
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest == {
        "feed": "ecommerce_availability",
        "as_of": "2024-03-05T00:00:00Z",
        "file": "availability.csv",
        "rows": 3,
        "sha256": hashlib.sha256(data).hexdigest(),
    }
    rows = list(csv.DictReader(data.decode().splitlines()))
    assert {r["sku"]: int(r["available_to_sell"]) for r in rows} == {
        sku: values[0] for sku, values in availability(lake).items()
    }


def days_before(n: int, hour: int = 12) -> datetime:
    return at(hour) - timedelta(days=n)


def test_replenishment_alerts_from_sales_velocity_and_negative_stock(
    spark: SparkSession, local_settings: Settings, shop_landing: Path, lake: Path
) -> None:
    conf = InventorySettings(velocity_days=4, lead_time_days=1, safety_days=1, review_days=2)
    context = context_with(local_settings, shop_landing, lake, conf)
    apply(
        spark,
        context,
        [
            move("OPEN-1A", "OPENING", days_before(4, 0), "STORE-1", "SKU-A", 25),
            move("POS-0", "SALE", days_before(4), "STORE-1", "SKU-A", -5),  # before the window
            move("POS-1", "SALE", days_before(3), "STORE-1", "SKU-A", -4),
            move("POS-2", "SALE", days_before(2), "STORE-1", "SKU-A", -3),
            move("POS-3", "SALE", days_before(1), "STORE-1", "SKU-A", -2),
            move("POS-4", "RETURN", days_before(1, 15), "STORE-1", "SKU-A", 1),
            move("POS-5", "SALE", at(12), "STORE-1", "SKU-A", -6),
            move("OPEN-WHA", "OPENING", days_before(4, 0), "WH-01", "SKU-A", 3),
            move("SHIP-1", "SHIPMENT", at(9), "WH-01", "SKU-A", -5),
            move("OPEN-WHB", "OPENING", days_before(4, 0), "WH-01", "SKU-B", 50),
            move("OPEN-1B", "OPENING", days_before(4, 0), "STORE-1", "SKU-B", 10),
            move("POS-6", "SALE", days_before(1), "STORE-1", "SKU-B", -1),
        ],
    )
    assert replenish(spark, context) == {"reorder_alerts": 1, "negative_stock": 1}
    # By hand, velocity over 4 days (2024-03-01..04), cover 1 + 1 days, review 2 more:
    # STORE-1/SKU-A: on hand 25 - 5 - 4 - 3 - 2 + 1 - 6 = 6; sold 4 + 3 + 2 - 1 + 6 = 14,
    #   3.5 a day; reorder point ceil(7) = 7 >= 6; order up to 14; suggest 14 - 6 = 8.
    #   (Order up to is the reorder point plus the review days' cover, each term rounded up
    #   to whole units: 7 + ceil(3.5 x 2) = 14.)
    # WH-01/SKU-A: 3 - 5 = -2: negative; 5 shipped, 1.25 a day; reorder point ceil(2.5) = 3,
    #   up to 3 + ceil(2.5) = 6 (one ceiling over the sum, ceil(5) = 5, would be a unit short);
    #   suggest 6 - 0 = 6 (a negative balance is not a debt to reorder).
    # STORE-1/SKU-B: 9 on hand, 0.25 a day, reorder point 1: no alert. WH-01/SKU-B: no sales.
    expected = {
        ("STORE-1", "SKU-A"): (6, 3.5, 7, 14, 8, "below_reorder_point"),
        ("WH-01", "SKU-A"): (-2, 1.25, 3, 6, 6, "negative_stock"),
    }

    def alerts() -> dict[tuple[str, str], tuple]:
        df = table(lake, "gold.replenishment_alerts")
        assert set(df["alert_date"].astype(str)) == {"2024-03-04"}
        return {
            (r.location_id, r.sku): (
                r.on_hand,
                r.avg_daily_units,
                r.reorder_point,
                r.order_up_to,
                r.suggested_order_qty,
                r.reason,
            )
            for r in df.itertuples()
        }

    assert alerts() == expected
    replenish(spark, context)  # a re-run of the day replaces its alerts
    assert alerts() == expected


def test_the_daily_reconciliation_restores_the_ledger_balance_and_records_it_once(
    spark: SparkSession, local_settings: Settings, shop_landing: Path, lake: Path
) -> None:
    context = context_with(local_settings, shop_landing, lake, InventorySettings())
    apply(
        spark,
        context,
        [
            move("OPEN-1A", "OPENING", at(0), "STORE-1", "SKU-A", 10),
            move("POS-1", "SALE", at(10), "STORE-1", "SKU-A", -1),
            move("OPEN-WHA", "OPENING", at(0), "WH-01", "SKU-A", 100),
            move("WMS-T1", "TRANSFER_OUT", at(9), "WH-01", "SKU-A", -5),
            move("OPEN-WHB", "OPENING", at(0), "WH-01", "SKU-B", 7),
        ],
    )
    path = str(lake / "silver" / "stock_levels")
    levels_table = SparkDeltaTable.forPath(spark, path)
    # Drift: a hand edit and a lost row.
    levels_table.update("location_id = 'STORE-1' AND sku = 'SKU-A'", {"on_hand": "999"})
    levels_table.delete("location_id = 'WH-01' AND sku = 'SKU-A'")
    assert reconcile(spark, context) == {"keys_reconciled": 3, "differences": 2}
    # By hand: STORE-1 10 - 1 = 9; WH-01 100 - 5 = 95; WH-01/SKU-B untouched at 7.
    assert levels(lake) == {
        ("STORE-1", "SKU-A"): 9,
        ("WH-01", "SKU-A"): 95,
        ("WH-01", "SKU-B"): 7,
    }
    found = table(lake, "ops.stock_reconciliation")
    recorded = {
        (r.location_id, r.sku): (r.state_on_hand, r.ledger_on_hand, r.difference)
        for r in found.astype(object).where(found.notna(), None).itertuples()
    }
    assert recorded == {("STORE-1", "SKU-A"): (999, 9, 990), ("WH-01", "SKU-A"): (None, 95, None)}
    version = DeltaTable(path).version()
    assert reconcile(spark, context) == {"keys_reconciled": 3, "differences": 0}
    assert DeltaTable(path).version() == version
    assert len(table(lake, "ops.stock_reconciliation")) == 2
    assert set(found["reconciliation_date"].astype(str)) == {str(date(2024, 3, 4))}
