"""Landing files at the edges of the contract (issue #18, items 1 and 2), written by independent
writers (Python's csv module, pandas, raw bytes), run through the sales and inventory jobs
in-process and read back with deltalake.

- RFC 4180: doubled quotes, quoted commas and line breaks, CRLF line ends and a UTF-8 BOM in
  the references, a POS file, a movements file and a CRM export;
- one bad value never stops a run: a POS line with bytes that are not UTF-8, a movement with
  quantity `abc` or an unknown type, an order whose item quantity is text, a line that is not
  JSON, all quarantined with their rule while the other lines are applied;
- a reference value that does not parse stops the run with one line naming the file, the line
  and the column.

Expected values come from the files as written here and from tests/pos_oracle.py, which reads
the POS contract with Python's csv module alone.
"""

from __future__ import annotations

import csv
import json
import shutil
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from pyspark.sql import SparkSession

from jobs.context import RunContext
from jobs.settings import QualitySettings, Settings
from tests.conftest import settings_for
from tests.pos_oracle import check_landing, expected_daily_store_sales, orders_placed_on
from tests.tables import table

DAY = date(2024, 3, 4)
STARTED = datetime(2024, 3, 5, 2, 0, tzinfo=UTC)
LOOSE = QualitySettings(max_reject_rate=1.0, max_missing_store_files=100)
PRODUCT_NAME = 'Produit "0", 1L\nligne 2'
REGION = 'Auvergne-Rhône-Alpes, "AURA"\nSud'
REGISTER = 'R"1", caisse\nrapide'
LATIN1_REGISTER = "caisse \xe9t\xe9".encode("latin-1")  # 'caisse été' in Latin-1: not UTF-8


def loose_settings(base: Settings, landing: Path, lake: Path) -> Settings:
    return settings_for(base, landing, lake, quality=LOOSE)


def rewrite_csv(path: Path, rows: list[list[str]], bom: bool = True) -> None:
    """Python's csv module, its defaults: minimal quoting, doubled quotes, CRLF line ends."""
    with path.open("w", newline="", encoding="utf-8-sig" if bom else "utf-8") as handle:
        csv.writer(handle).writerows(rows)


def read_csv(path: Path) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return list(csv.reader(handle))


@pytest.fixture(scope="module")
def edge_landing(clean_landing: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("edge_landing") / "landing"
    shutil.copytree(clean_landing, root)
    pos_file = sorted((root / f"pos/sale_date={DAY}/store_id=1").glob("*.csv"))[0]

    # POS: pandas writes the file with CRLF and a BOM; one line's register holds a quote, a
    # comma and a line break; then a line with Latin-1 bytes is appended as raw bytes.
    pos = pd.read_csv(pos_file, dtype=str, keep_default_na=False)
    pos.loc[0, "register_id"] = REGISTER
    pos.to_csv(pos_file, index=False, lineterminator="\r\n", encoding="utf-8-sig")
    extra = pos.iloc[[1]].copy()
    extra["transaction_id"] = "T-LATIN1"
    extra["register_id"] = "@REGISTER@"
    line = extra.to_csv(index=False, header=False, lineterminator="\r\n").encode()
    with pos_file.open("ab") as handle:
        handle.write(line.replace(b"@REGISTER@", LATIN1_REGISTER))

    # References: csv module, CRLF, BOM; a sold product's name and store 1's region are hard.
    products = read_csv(root / "reference/products.csv")
    sold_sku = pos.loc[0, "sku"]
    for row in products[1:]:
        if row[0] == sold_sku:
            row[1] = PRODUCT_NAME
    rewrite_csv(root / "reference/products.csv", products)
    stores = read_csv(root / "reference/stores.csv")
    for row in stores[1:]:
        if row[0] == "1":
            row[2] = REGION
    rewrite_csv(root / "reference/stores.csv", stores)

    # Movements: csv module, CRLF, BOM, a reference with a quote, a comma and a line break,
    # then a quantity that is not a number and a type the contract does not know.
    movements_file = next((root / f"warehouse/movements/movement_date={DAY}").glob("*.csv"))
    movements = read_csv(movements_file)
    movements[1][8] = 'PO "1", ligne\n2'
    template = movements[2]
    movements.append(["M-BAD-QTY", *template[1:5], "abc", *template[6:]])
    movements.append(["M-BAD-TYPE", "TELEPORT", *template[2:]])
    rewrite_csv(movements_file, movements)

    # Orders: one item quantity written as text, and a line that is not JSON at all.
    orders_file = next((root / f"ecommerce/orders/export_date={DAY}").glob("*.jsonl"))
    first = json.loads(orders_file.read_text().splitlines()[0])
    first["order_id"] = "W-BAD-QTY"
    first["items"][0]["quantity"] = "abc"
    with orders_file.open("a") as handle:
        handle.write(json.dumps(first) + "\n")
        handle.write("this is not JSON\n")
    return root


@pytest.fixture(scope="module")
def edge_lake(
    spark: SparkSession,
    local_settings: Settings,
    edge_landing: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    from jobs import inventory, sales

    lake = tmp_path_factory.mktemp("edge_lake")
    settings = loose_settings(local_settings, edge_landing, lake)
    sales.run(RunContext(settings, DAY, started_at=STARTED))
    inventory.run(RunContext(settings, DAY, started_at=STARTED))
    return lake


def test_pos_values_with_quotes_commas_and_line_breaks_reach_silver_unchanged(
    edge_lake: Path, edge_landing: Path
) -> None:
    silver = table(edge_lake, "silver.sales_lines")
    assert REGISTER in set(silver.register_id)


def test_gold_matches_an_independent_rfc4180_reading_of_the_same_files(
    edge_lake: Path, edge_landing: Path
) -> None:
    expected = expected_daily_store_sales(edge_landing).loc[DAY.isoformat()]
    gold = table(edge_lake, "gold.daily_store_sales")
    gold = gold[gold.sale_date.astype(str) == DAY.isoformat()].set_index("store_id").sort_index()
    assert list(gold.index) == list(expected.index)
    for column in expected.columns:
        assert [Decimal(str(v)) for v in gold[column]] == [
            Decimal(str(v)) for v in expected[column]
        ], column


def test_a_region_with_quotes_commas_and_a_line_break_reaches_gold_unchanged(
    edge_lake: Path,
) -> None:
    summary = table(edge_lake, "gold.daily_sales_summary")
    assert REGION in set(summary.region)


def test_a_product_name_with_quotes_commas_and_a_line_break_reads_unchanged(
    spark: SparkSession, edge_landing: Path
) -> None:
    from jobs.sales.extract import extract_products

    names = {row.product_name for row in extract_products(spark, str(edge_landing)).collect()}
    assert PRODUCT_NAME in names


def test_a_pos_line_with_bytes_that_are_not_utf8_is_quarantined_as_bad_type(
    edge_lake: Path, edge_landing: Path
) -> None:
    quarantine = table(edge_lake, "quarantine.sales_lines")
    latin = quarantine[quarantine.transaction_id == "T-LATIN1"]
    assert [list(rules) for rules in latin.rules] == [["bad_type"]]
    # Every line is somewhere: the oracle's figures (Python's csv module) are the job's.
    _, figures = check_landing(edge_landing)
    dq = table(edge_lake, "ops.dq_results")
    day = dq[(dq.sale_date.astype(str) == DAY.isoformat()) & (dq.store_id == 1)]
    actual = dict(zip(day.metric, day.value, strict=True))
    for name, value in figures[(DAY.isoformat(), 1)].items():
        assert actual[name] == value, name


def test_bad_orders_are_quarantined_and_the_others_loaded(
    edge_lake: Path, edge_landing: Path
) -> None:
    quarantine = table(edge_lake, "quarantine.sales_lines")
    online = quarantine[quarantine.store_id == 0]
    by_rule = sorted((tuple(r.rules), r.transaction_id) for r in online.itertuples())
    assert by_rule == [(("bad_type",), "W-BAD-QTY"), (("malformed_row",), None)]
    assert "this is not JSON" in set(online.raw_line)
    silver = table(edge_lake, "silver.sales_lines")
    online_orders = set(silver[silver.channel == "ONLINE"].transaction_id)
    assert online_orders == set(orders_placed_on(edge_landing, DAY)) - {"W-BAD-QTY"}


def test_a_movement_that_does_not_parse_is_quarantined_and_the_others_applied(
    edge_lake: Path, edge_landing: Path
) -> None:
    movements_file = next((edge_landing / f"warehouse/movements/movement_date={DAY}").glob("*"))
    rows = read_csv(movements_file)[1:]
    quarantine = table(edge_lake, "quarantine.stock_movements")
    rules = {r.movement_key: list(r.rules) for r in quarantine.itertuples()}
    assert rules == {"WMS-M-BAD-QTY": ["bad_type"], "WMS-M-BAD-TYPE": ["unknown_movement_type"]}
    assert '"abc"' in quarantine.set_index("movement_key").raw_record["WMS-M-BAD-QTY"]
    ledger = table(edge_lake, "silver.stock_movements")
    wms = ledger[ledger.source == "WMS"]
    assert sorted(wms.movement_key) == sorted(f"WMS-{row[0]}" for row in rows[:-2])
    assert 'PO "1", ligne\n2' in set(wms.reference)


def test_a_crm_name_with_quotes_commas_and_a_line_break_reads_unchanged(
    spark: SparkSession, tmp_path: Path
) -> None:
    from jobs.contracts.customers import CRM_CUSTOMER_SCHEMA
    from jobs.customers.extract import extract_export
    from jobs.customers.transforms import check_records

    folder = tmp_path / f"crm/customers/export_date={DAY}"
    folder.mkdir(parents=True)
    row = ["C1", 'Jean "Jo", X\nY', "Dupont", "a@b.fr", "0612345678", "01000", "Bourg-en-Bresse"]
    row += ["1980-01-01", "", "2024-03-01T10:00:00+01:00", "2024-03-01T10:00:00+01:00"]
    short = ["C2", "Paul"]
    rewrite_csv(folder / "crm_customers.csv", [CRM_CUSTOMER_SCHEMA.fieldNames(), row, short])
    with (folder / "crm_customers.csv").open("ab") as handle:
        handle.write(b"C3,Ren\xe9,Dupont,,,,,,,,2024-03-01T10:00:00+01:00\r\n")

    checked = check_records(extract_export(spark, str(tmp_path), "crm", DAY), "crm").collect()
    by_id = {r.crm_id: r for r in checked}
    assert by_id["C1"].first_name == 'Jean "Jo", X\nY' and list(by_id["C1"].rules) == []
    assert list(by_id["C2"].rules) == ["malformed_row"]
    assert list(by_id["C3"].rules) == ["bad_type"]


@pytest.mark.parametrize(
    ("file", "record", "column", "value", "message"),
    [
        (
            "products.csv",
            5,
            "unit_cost",
            "abc",
            "reference/products.csv line 7: unit_cost 'abc' is not a decimal",
        ),
        (
            "stores.csv",
            3,
            "opened_on",
            "05/03/2024",
            "reference/stores.csv line 5: opened_on '05/03/2024' is not a date (YYYY-MM-DD)",
        ),
    ],
)
def test_a_reference_value_that_does_not_parse_stops_the_run_in_one_line(
    spark: SparkSession,
    local_settings: Settings,
    clean_landing: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    file: str,
    record: int,
    column: str,
    value: str,
    message: str,
) -> None:
    from jobs.cli import main

    landing = tmp_path / "landing"
    shutil.copytree(clean_landing / "reference", landing / "reference")
    shutil.copytree(clean_landing / "pos", landing / "pos")
    rows = read_csv(landing / "reference" / file)
    # The header is line 1 and the first record's name holds a line break: record n of the
    # file starts on line n + 2.
    rows[1][1] = "deux\nlignes"
    rows[record][rows[0].index(column)] = value
    rewrite_csv(landing / "reference" / file, rows, bom=False)
    monkeypatch.setenv("RETAILMAX_LANDING_ROOT", str(landing))
    monkeypatch.setenv("RETAILMAX_LAKE_ROOT", str(tmp_path / "lake"))

    code = main(["run", "sales", "--date", DAY.isoformat()])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 1
    assert err == [f"retailmax: error: {message}"]


def test_the_shard_planner_reads_the_same_stores_csv(edge_landing: Path) -> None:
    from jobs.orchestration.plan import known_store_ids

    # pyarrow, in the Airflow worker: the BOM, CRLF and store 1's two-line region as well.
    rows = read_csv(edge_landing / "reference/stores.csv")[1:]
    assert known_store_ids(str(edge_landing)) == sorted(int(row[0]) for row in rows)


def test_line_ends_may_change_within_a_file(spark: SparkSession, tmp_path: Path) -> None:
    from jobs.contracts.read import read_csv_text
    from jobs.contracts.warehouse import OPENING_STOCK_SCHEMA

    # A CRLF header above LF lines, then a CRLF line: each record ends where its line does.
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "f.csv").write_bytes(
        b"location_id,sku,on_hand,snapshot_ts\r\n"
        b"STORE-1,SKU-A,5,2024-03-04T00:00:00+01:00\n"
        b"STORE-1,SKU-B,6,2024-03-04T00:00:00+01:00\r\n"
    )
    rows = read_csv_text(spark, str(folder), OPENING_STOCK_SCHEMA).collect()
    assert sorted((r.sku, r.on_hand, r.snapshot_ts, r.raw_line) for r in rows) == [
        ("SKU-A", "5", "2024-03-04T00:00:00+01:00", None),
        ("SKU-B", "6", "2024-03-04T00:00:00+01:00", None),
    ]


def test_an_export_whose_header_is_not_the_contracts_is_refused_in_one_line(
    spark: SparkSession, tmp_path: Path
) -> None:
    from jobs.contracts.read import BadSourceFileError
    from jobs.customers.extract import extract_export

    folder = tmp_path / f"loyalty/members/export_date={DAY}"
    folder.mkdir(parents=True)
    (folder / "loyalty_members.csv").write_text("loyalty_id,name\r\nL1,Jean\r\n")
    with pytest.raises(BadSourceFileError) as refused:
        extract_export(spark, str(tmp_path), "loyalty", DAY)
    assert str(refused.value) == (
        f"loyalty/members/export_date={DAY}/loyalty_members.csv line 1: the header is "
        "'loyalty_id,name', the contract's is 'loyalty_id,first_name,last_name,email,phone,"
        "postcode,birth_date,home_store_id,tier,enrolled_on,updated_at'"
    )
