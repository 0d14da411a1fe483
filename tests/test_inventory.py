"""The stock ledger and levels on hand-computed scenarios: sales, returns, transfers, counts,
out-of-order and re-sent movements, quarantine; idempotence; MERGE pruning from Delta metrics."""

from __future__ import annotations

import csv
import json
import re
from dataclasses import replace
from datetime import date, datetime
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from jobs.context import RunContext
from jobs.settings import Settings
from tests.movements import DAY, apply, at, levels, move
from tests.tables import table

OPENING_A = move("OPEN-1A", "OPENING", at(0), "STORE-1", "SKU-A", 10)
SALE_10 = move("POS-1", "SALE", at(10), "STORE-1", "SKU-A", -2)
RETURN_11 = move("POS-2", "RETURN", at(11), "STORE-1", "SKU-A", 1)
COUNT_12 = move("WMS-C1", "CYCLE_COUNT", at(12), "STORE-1", "SKU-A", 20)
SALE_13 = move("POS-3", "SALE", at(13), "STORE-1", "SKU-A", -1)
LATE_SALE_1030 = move("POS-4", "SALE", at(10, 30), "STORE-1", "SKU-A", -5)
OPENING_WH = move("OPEN-WHA", "OPENING", at(0), "WH-01", "SKU-A", 100)
TRANSFER_OUT = move("WMS-T1", "TRANSFER_OUT", at(9), "WH-01", "SKU-A", -5)
TRANSFER_IN = move("WMS-T2", "TRANSFER_IN", at(15), "STORE-2", "SKU-A", 5)
UNKNOWN_SKU = move("WMS-X1", "ADJUSTMENT", at(8), "STORE-1", "SKU-ZZZ", 3)
UNKNOWN_PLACE = move("WMS-X2", "RECEIPT", at(8), "STORE-99", "SKU-A", 7)


@pytest.fixture
def landing(tmp_path: Path) -> Path:
    """Reference data only: stores 1-2, warehouse WH-01, SKUs A and B."""
    reference = tmp_path / "landing" / "reference"
    reference.mkdir(parents=True)
    (reference / "stores.csv").write_text(
        "store_id,store_name,region,city,format,opened_on\n"
        "1,S1,R,C,SUPER,2001-01-01\n2,S2,R,C,PROXI,2001-01-01\n"
    )
    (reference / "warehouses.csv").write_text(
        "location_id,warehouse_name,region,city,serves_ecommerce\nWH-01,DC,R,C,true\n"
    )
    (reference / "products.csv").write_text(
        "sku,product_name,category,subcategory,brand,unit_cost,list_price,active\n"
        "SKU-A,A,Food,F,B,1.00,2.00,true\nSKU-B,B,Food,F,B,1.00,2.00,true\n"
    )
    return tmp_path / "landing"


def context_for(settings: Settings, landing: Path, lake: Path) -> RunContext:
    paths = settings.paths.model_copy(update={"landing_root": str(landing), "lake_root": str(lake)})
    return RunContext(settings.model_copy(update={"paths": paths}), DAY, started_at=at(23))


def test_sales_returns_and_transfers_add_up(
    spark: SparkSession, local_settings: Settings, landing: Path, lake: Path
) -> None:
    context = context_for(local_settings, landing, lake)
    apply(spark, context, [OPENING_A, SALE_10, RETURN_11, OPENING_WH, TRANSFER_OUT, TRANSFER_IN])
    # By hand: 10 - 2 + 1 = 9; 100 - 5 = 95; nothing + 5 = 5.
    assert levels(lake) == {
        ("STORE-1", "SKU-A"): 9,
        ("WH-01", "SKU-A"): 95,
        ("STORE-2", "SKU-A"): 5,
    }


def test_a_count_overrides_earlier_movements_whatever_the_arrival_order(
    spark: SparkSession, local_settings: Settings, landing: Path, tmp_path: Path
) -> None:
    in_order, shuffled = tmp_path / "in_order", tmp_path / "shuffled"
    apply(
        spark,
        context_for(local_settings, landing, in_order),
        [OPENING_A, SALE_10, RETURN_11, LATE_SALE_1030, COUNT_12, SALE_13],
    )
    # The count arrives after the 13:00 sale; the 10:30 sale arrives after the count.
    shuffled_context = context_for(local_settings, landing, shuffled)
    for batch in ([SALE_13, OPENING_A], [RETURN_11, SALE_10], [COUNT_12], [LATE_SALE_1030]):
        apply(spark, shuffled_context, batch)
    # By hand: the count at 12:00 is 20 whatever came before; then -1 at 13:00.
    assert levels(in_order) == levels(shuffled) == {("STORE-1", "SKU-A"): 19}
    row = table(shuffled, "silver.stock_levels").iloc[0]
    assert (row.count_on_hand, str(row.last_count_ts)) == (20, "2024-03-04 12:00:00+00:00")
    assert str(row.last_movement_ts) == "2024-03-04 13:00:00+00:00"


def version(lake: Path, name: str) -> int:
    return int(DeltaTable(str(lake / "silver" / name)).version())


def test_a_resent_movement_counts_once_and_a_rerun_changes_nothing(
    spark: SparkSession, local_settings: Settings, landing: Path, lake: Path
) -> None:
    context = context_for(local_settings, landing, lake)
    apply(spark, context, [OPENING_A, SALE_10, SALE_10])  # a copy within the batch
    versions = {name: version(lake, name) for name in ("stock_levels", "stock_movements")}
    figures = apply(spark, context, [OPENING_A, SALE_10])  # the same batch again
    assert levels(lake) == {("STORE-1", "SKU-A"): 8}
    assert len(table(lake, "silver.stock_movements")) == 2
    assert figures["keys_changed"] == 0
    assert version(lake, "stock_levels") == versions["stock_levels"]  # no commit at all


def test_unknown_sku_or_location_is_quarantined_with_its_rule(
    spark: SparkSession, local_settings: Settings, landing: Path, lake: Path
) -> None:
    context = context_for(local_settings, landing, lake)
    figures = apply(spark, context, [OPENING_A, UNKNOWN_SKU, UNKNOWN_PLACE])
    assert (figures["movements"], figures["quarantined"]) == (3, 2)
    quarantined = table(lake, "quarantine.stock_movements").set_index("movement_key")
    assert list(quarantined.loc["WMS-X1", "rules"]) == ["unknown_sku"]
    assert list(quarantined.loc["WMS-X2", "rules"]) == ["unknown_location"]
    assert levels(lake) == {("STORE-1", "SKU-A"): 10}  # the valid movement is applied


def test_negative_stock_is_kept_not_clamped(
    spark: SparkSession, local_settings: Settings, landing: Path, lake: Path
) -> None:
    context = context_for(local_settings, landing, lake)
    apply(spark, context, [move("POS-9", "SALE", at(9), "STORE-2", "SKU-B", -4)])
    assert levels(lake) == {("STORE-2", "SKU-B"): -4}


def test_the_levels_merge_rewrites_only_the_batchs_locations(
    spark: SparkSession, local_settings: Settings, landing: Path, lake: Path
) -> None:
    context = context_for(local_settings, landing, lake)
    apply(
        spark,
        context,
        [
            OPENING_A,
            OPENING_WH,
            TRANSFER_IN,
            move("OPEN-1B", "OPENING", at(0), "STORE-1", "SKU-B", 3),
        ],
    )
    path = str(lake / "silver" / "stock_levels")
    assert len(DeltaTable(path).file_uris()) == 3  # one file per location (partition)
    apply(spark, context, [move("POS-7", "SALE", at(16), "STORE-1", "SKU-A", -1)])
    merge = DeltaTable(path).history(1)[0]
    metrics = {name: int(value) for name, value in merge["operationMetrics"].items()}
    # Only STORE-1's file is read and rewritten: its SKU-A row updated, its SKU-B row copied.
    assert re.search(r"\(location_id#\d+ = STORE-1\)", merge["operationParameters"]["predicate"])
    assert (metrics["numTargetFilesRemoved"], metrics["numTargetFilesAdded"]) == (1, 1)
    assert (metrics["numTargetRowsUpdated"], metrics["numTargetRowsCopied"]) == (1, 1)
    assert levels(lake)[("STORE-1", "SKU-A")] == 9
    # A file holds all of its location's SKUs, so the table keeps no per-column min/max in its
    # file statistics, only the row count: STORE-1's new file holds SKU-A and SKU-B.
    actions = [json.loads(line) for line in last_commit(Path(path)).read_text().splitlines()]
    added = [json.loads(action["add"]["stats"]) for action in actions if "add" in action]
    assert added == [{"numRecords": 2}]


def last_commit(table: Path) -> Path:
    """The JSON file of the table's latest Delta commit."""
    return sorted((table / "_delta_log").glob("*.json"))[-1]


HEADER = (
    "movement_id,movement_type,movement_ts,location_id,sku,quantity,transfer_id,reason_code,"
    "reference"
)


def write_movements(landing: Path, day: date, rows: list[list[str]]) -> None:
    """A WMS file as the contract has it, written with Python's csv module."""
    folder = landing / "warehouse" / "movements" / f"movement_date={day}"
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "movements_001.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER.split(","))
        writer.writerows(rows)


def test_windows_read_the_folders_around_them_and_the_daily_run_reconciles_first(
    spark: SparkSession, local_settings: Settings, landing: Path, lake: Path
) -> None:
    from delta.tables import DeltaTable as SparkDeltaTable

    from jobs.inventory import run

    # 00:05 in Paris on 5 March is 23:05Z on 4 March: filed under movement_date=2024-03-05,
    # it belongs to 4 March's 23:00-23:15Z batch. The 4 March file's movements (08:00Z and
    # 13:00Z) do not.
    write_movements(
        landing, date(2024, 3, 5), [["M-3", "RECEIPT", "2024-03-05T00:05:00+01:00",
                                     "STORE-1", "SKU-A", "4", "", "", "PO3"]]
    )  # fmt: skip
    write_movements(
        landing, DAY, [["M-1", "RECEIPT", "2024-03-04T09:00:00+01:00",
                        "STORE-1", "SKU-A", "10", "", "", "PO1"],
                       ["M-2", "ADJUSTMENT", "2024-03-04T14:00:00+01:00",
                        "STORE-1", "SKU-A", "-3", "", "DAMAGED", ""]]
    )  # fmt: skip
    daily = context_for(local_settings, landing, lake)
    window = replace(daily, since=datetime(2024, 3, 4, 23, 0), until=datetime(2024, 3, 4, 23, 15))
    figures = run(window)
    assert (figures["movements"], figures["quarantined"]) == (1, 0)
    assert levels(lake) == {("STORE-1", "SKU-A"): 4}

    # A hand edit, then the daily run of 4 March: the ledger says 4 where the levels say 999.
    SparkDeltaTable.forPath(spark, str(lake / "silver" / "stock_levels")).update(
        "location_id = 'STORE-1' AND sku = 'SKU-A'", {"on_hand": "999"}
    )
    figures = run(daily)

    # Recorded before anything repairs it (999 vs 4), then repaired, then the day's file
    # applied on the repaired balance: 4 + 10 - 3 = 11.
    assert figures["differences"] == 1
    found = table(lake, "ops.stock_reconciliation")
    assert [(r.location_id, r.sku, r.state_on_hand, r.ledger_on_hand, r.difference)
            for r in found.itertuples()] == [("STORE-1", "SKU-A", 999, 4, 995)]  # fmt: skip
    assert levels(lake) == {("STORE-1", "SKU-A"): 11}


def test_a_window_takes_its_start_not_its_end_and_quarantines_in_the_daily_run(
    spark: SparkSession, local_settings: Settings, landing: Path, lake: Path
) -> None:
    from jobs.inventory import run

    # One WMS file of 4 March; the 23:00-23:15Z window, by hand: W-1 (at its start) and W-2
    # (23:14:59Z, written in Paris time) are in it; W-0 (a second early), W-3 (at its end)
    # and W-4 (a time that does not parse) are not.
    received = [
        ("W-0", "2024-03-04T22:59:59+00:00", "1"),
        ("W-1", "2024-03-04T23:00:00+00:00", "2"),
        ("W-2", "2024-03-05T00:14:59+01:00", "4"),
        ("W-3", "2024-03-04T23:15:00+00:00", "8"),
        ("W-4", "2024-03-04 23:05", "16"),
    ]
    write_movements(
        landing,
        DAY,
        [[key, "RECEIPT", ts, "STORE-1", "SKU-A", n, "", "", ""] for key, ts, n in received],
    )
    daily = context_for(local_settings, landing, lake)
    window = replace(daily, since=datetime(2024, 3, 4, 23, 0), until=datetime(2024, 3, 4, 23, 15))
    figures = run(window)
    assert (figures["movements"], figures["quarantined"]) == (2, 0)
    assert sorted(table(lake, "silver.stock_movements").movement_key) == ["WMS-W-1", "WMS-W-2"]
    assert levels(lake) == {("STORE-1", "SKU-A"): 6}
    # Nothing to quarantine: the table is there for its readers, with no commit but its creation.
    quarantine = DeltaTable(str(lake / "quarantine" / "stock_movements"))
    assert (quarantine.version(), len(quarantine.to_pandas())) == (0, 0)

    # The daily run takes the whole file: 1 + 2 + 4 + 8, and quarantines the bad time.
    figures = run(daily)
    assert (figures["movements"], figures["quarantined"]) == (5, 1)
    assert levels(lake) == {("STORE-1", "SKU-A"): 15}
    quarantined = table(lake, "quarantine.stock_movements")
    assert [(r.movement_key, list(r.rules)) for r in quarantined.itertuples()] == [
        ("WMS-W-4", ["bad_type"])
    ]
