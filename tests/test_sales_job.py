"""The sales job end to end on generated data with every anomaly, checked by independent means."""

from __future__ import annotations

import json
import shutil
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable
from pyspark.sql import SparkSession

from jobs.context import RunContext
from jobs.errors import DataQualityGateError, ExitCode
from jobs.sales import run, run_gold_step
from jobs.settings import QualitySettings, Settings
from tests.conftest import settings_for
from tests.pos_oracle import (
    check_landing,
    expected_daily_store_sales,
    expected_online_net_sales,
    expected_sales_figures,
)
from tests.tables import snapshot, table

DAYS = (date(2024, 3, 4), date(2024, 3, 5))
STARTED = datetime(2024, 3, 6, 2, 0, tzinfo=UTC)
LOOSE = QualitySettings(max_reject_rate=1.0, max_missing_store_files=100)


def loose_settings(base: Settings, landing: Path, lake: Path, quality=LOOSE) -> Settings:
    return settings_for(base, landing, lake, quality=quality)


@pytest.fixture(scope="module")
def sales_lake(
    spark: SparkSession,
    local_settings: Settings,
    dirty_landing: Path,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    lake = tmp_path_factory.mktemp("sales_lake")
    settings = loose_settings(local_settings, dirty_landing, lake)
    for day in DAYS:
        run(RunContext(settings, day, started_at=STARTED))
    return lake


def test_every_injected_line_lands_in_quarantine_with_all_its_rules(
    sales_lake: Path, dirty_landing: Path
) -> None:
    manifest = json.loads((dirty_landing / "_manifest.json").read_text())
    quarantine = table(sales_lake, "quarantine.sales_lines")
    actual = Counter(
        (
            str(r.sale_date),
            int(r.store_id),
            Path(r.source_file).name,
            r.transaction_id,
            r.line_number,
            tuple(sorted(r.rules)),
        )
        for r in quarantine.itertuples()
    )
    expected = Counter(
        (
            e["sale_date"],
            e["store_id"],
            e["file"],
            e["transaction_id"],
            e["line_number"],
            tuple(sorted(e["rules"])),
        )
        for e in manifest["pos"]["quarantined"]
    )
    assert actual == expected
    malformed = quarantine[quarantine.rules.map(lambda r: list(r) == ["malformed_row"])]
    assert sorted(malformed.raw_line) == sorted(
        e["raw"] for e in manifest["pos"]["quarantined"] if e["rules"] == ["malformed_row"]
    )


def test_reconciliation_holds_for_every_store_day(sales_lake: Path, dirty_landing: Path) -> None:
    _, oracle = check_landing(dirty_landing)
    dq = table(sales_lake, "ops.dq_results")
    names = ["input_lines", "valid_distinct", "quarantined", "duplicates", "superseded"]
    recorded = {
        (str(key[0]), int(key[1])): {
            name: int(group.set_index("metric").value.get(name, 0)) for name in names
        }
        for key, group in dq[dq.metric.isin(names)].groupby(["sale_date", "store_id"])
    }
    assert recorded == oracle
    for figures in recorded.values():
        assert figures["input_lines"] == (
            figures["valid_distinct"]
            + figures["quarantined"]
            + figures["duplicates"]
            + figures["superseded"]
        )


def test_missing_store_files_and_rule_counts_are_recorded(
    sales_lake: Path, dirty_landing: Path
) -> None:
    manifest = json.loads((dirty_landing / "_manifest.json").read_text())
    dq = table(sales_lake, "ops.dq_results")
    missing = dq[dq.metric == "missing_store_file"]
    assert sorted(zip(missing.sale_date.astype(str), missing.store_id, strict=True)) == sorted(
        (e["sale_date"], e["store_id"]) for e in manifest["pos"]["missing_store_files"]
    )
    by_rule = (
        dq[
            dq.metric.str.match(r"^[a-z_]+$")
            & ~dq.metric.isin(
                [
                    "input_lines",
                    "valid_distinct",
                    "quarantined",
                    "duplicates",
                    "superseded",
                    "missing_store_file",
                ]
            )
        ]
        .groupby("metric")
        .value.sum()
        .to_dict()
    )
    expected = Counter(rule for e in manifest["pos"]["quarantined"] for rule in e["rules"])
    assert by_rule == dict(expected)


def test_gold_daily_store_sales_equal_an_independent_computation(
    sales_lake: Path, dirty_landing: Path
) -> None:
    gold = table(sales_lake, "gold.daily_store_sales")  # read without Spark
    assert_same_figures(gold, expected_daily_store_sales(dirty_landing))


def assert_same_figures(gold: pd.DataFrame, expected: pd.DataFrame) -> None:
    """gold's rows have expected's keys (its index) and, for each, the same figures."""
    gold = gold.assign(sale_date=gold.sale_date.astype(str))
    gold = gold.set_index(list(expected.index.names)).sort_index()
    expected = expected.sort_index()
    assert list(gold.index) == list(expected.index)
    for column in expected.columns:
        actual_values = [Decimal(str(v)) for v in gold[column]]
        assert actual_values == [Decimal(str(v)) for v in expected[column]], column


def test_gold_store_sku_sales_equal_an_independent_computation(
    sales_lake: Path, dirty_landing: Path
) -> None:
    expected = expected_sales_figures(dirty_landing, ["sale_date", "store_id", "sku"]).drop(
        columns="transactions"
    )
    gold = table(sales_lake, "gold.daily_store_sku_sales")  # read without Spark
    assert_same_figures(gold[gold.channel == "STORE"], expected)
    online = gold[gold.channel == "ONLINE"]
    assert set(online.store_id) == {0}
    for day, day_rows in online.groupby(online.sale_date.astype(str)):
        assert sum(day_rows.net_sales) == expected_online_net_sales(
            dirty_landing, date.fromisoformat(day)
        )


def test_gold_tables_carry_column_comments(sales_lake: Path) -> None:
    for name in (
        "gold/daily_store_sales",
        "gold/daily_sales_summary",
        "gold/daily_store_sku_sales",
    ):
        schema = DeltaTable(str(sales_lake / name)).schema()
        for field in schema.fields:
            assert field.metadata.get("comment"), f"{name}.{field.name}"


def test_summary_puts_online_beside_store_sales(sales_lake: Path) -> None:
    summary = table(sales_lake, "gold.daily_sales_summary")
    stores = table(sales_lake, "gold.daily_store_sales")
    assert set(summary.channel) == {"STORE", "ONLINE"}
    store_rows = summary[summary.channel == "STORE"]
    for day, day_rows in store_rows.groupby("sale_date"):
        assert sum(day_rows.net_sales) == sum(stores[stores.sale_date == day].net_sales)
    online = summary[summary.channel == "ONLINE"]
    assert set(online.region) == {"Online"} and (online.net_sales > 0).any()


def test_a_rerun_of_the_same_date_gives_the_same_tables(
    spark: SparkSession, local_settings: Settings, sales_lake: Path, dirty_landing: Path
) -> None:
    names = [
        "bronze.pos_lines",
        "silver.sales_lines",
        "quarantine.sales_lines",
        "ops.dq_results",
        "gold.daily_store_sales",
        "gold.daily_sales_summary",
    ]
    before = {name: snapshot(sales_lake, name) for name in names}
    settings = loose_settings(local_settings, dirty_landing, sales_lake)
    run(RunContext(settings, DAYS[0], started_at=datetime(2024, 3, 7, tzinfo=UTC)))
    for name in names:
        pd.testing.assert_frame_equal(snapshot(sales_lake, name), before[name], obj=name)


def test_a_gate_breach_writes_all_valid_data_then_fails_with_one_line(
    spark: SparkSession, local_settings: Settings, dirty_landing: Path, tmp_path: Path
) -> None:
    strict = QualitySettings(max_reject_rate=0.02, max_missing_store_files=0)
    settings = loose_settings(local_settings, dirty_landing, tmp_path / "lake", strict)
    with pytest.raises(DataQualityGateError) as caught:
        run(RunContext(settings, DAYS[0], started_at=STARTED))
    message = str(caught.value)
    assert caught.value.exit_code == ExitCode.DATA_QUALITY_GATE
    assert message.startswith("data-quality gate failed for 2024-03-04: reject_rate above 2.0%")
    assert "missing_store_file for 1 stores (max 0)" in message and "\n" not in message
    # Every valid store line of the day was written anyway: the oracle's count from the files.
    silver = table(tmp_path / "lake", "silver.sales_lines")
    _, oracle = check_landing(dirty_landing)
    valid = sum(f["valid_distinct"] for (day, _), f in oracle.items() if day == str(DAYS[0]))
    assert (silver.channel == "STORE").sum() == valid
    assert set(silver.channel) == {"STORE", "ONLINE"}


def test_a_late_resent_file_changes_only_its_store_day(
    spark: SparkSession, local_settings: Settings, clean_landing: Path, tmp_path: Path
) -> None:
    landing = tmp_path / "landing"
    shutil.copytree(clean_landing, landing)
    lake = tmp_path / "lake"
    settings = loose_settings(local_settings, landing, lake)
    day = DAYS[1]
    run(RunContext(settings, day, started_at=STARTED))
    silver_before = snapshot(lake, "silver.sales_lines")
    gold_before = table(lake, "gold.daily_store_sales").set_index("store_id")

    folder = landing / f"pos/sale_date={day}/store_id=2"
    original = sorted(folder.glob("*.csv"))[0]
    header, first, *_ = original.read_text().splitlines()
    fields = first.split(",")
    fields[6] = str(int(fields[6]) + 10)  # ten more units on the first line
    (folder / original.name.replace("_001", "_009")).write_text(f"{header}\n{','.join(fields)}\n")

    run(RunContext(settings, day, stores=(2,), started_at=STARTED))
    run_gold_step(RunContext(settings, day, started_at=STARTED))
    silver_after = snapshot(lake, "silver.sales_lines")
    changed = pd.concat([silver_before, silver_after]).drop_duplicates(keep=False)
    assert set(changed.store_id) == {"2"}
    assert len(changed) == 2  # the old and the new version of one line
    gold_after = table(lake, "gold.daily_store_sales").set_index("store_id")
    assert gold_after.loc[2, "units_sold"] == gold_before.loc[2, "units_sold"] + 10
    others = [s for s in gold_before.index if s != 2]
    pd.testing.assert_frame_equal(gold_after.loc[others], gold_before.loc[others])
