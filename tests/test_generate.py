"""The generator: deterministic bytes, the contract's format, a manifest that tells the truth."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import date
from pathlib import Path

from jobs.generate import GenerateOptions, generate
from tests.pos_oracle import HEADER, check_landing

ALL_RULES = {
    "malformed_row",
    "missing_required",
    "bad_type",
    "zero_quantity",
    "negative_amount",
    "discount_exceeds_amount",
    "store_mismatch",
    "unknown_sku",
    "date_mismatch",
    "bad_payment_method",
}


def digest_tree(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def small(root: Path, seed: int, anomalies: float = 0.01) -> None:
    generate(
        GenerateOptions(
            root,
            stores=3,
            days=2,
            start=date(2024, 3, 30),
            seed=seed,
            skus=120,
            lines_per_store=120,
            anomalies=anomalies,
            progress=False,
        )
    )


def test_same_seed_same_bytes_for_every_file(tmp_path: Path) -> None:
    small(tmp_path / "a", seed=3)
    small(tmp_path / "b", seed=3)
    first, second = digest_tree(tmp_path / "a"), digest_tree(tmp_path / "b")
    assert first == second
    assert any(name.endswith(".csv.gz") for name in first) or len(first) > 20


def test_another_seed_gives_other_sales(tmp_path: Path) -> None:
    small(tmp_path / "a", seed=3)
    small(tmp_path / "b", seed=4)
    pos_a = {k: v for k, v in digest_tree(tmp_path / "a").items() if k.startswith("pos/")}
    pos_b = {k: v for k, v in digest_tree(tmp_path / "b").items() if k.startswith("pos/")}
    assert pos_a != pos_b


def test_every_source_and_reference_file_is_written(clean_landing: Path) -> None:
    expected = [
        "reference/stores.csv",
        "reference/products.csv",
        "reference/warehouses.csv",
        "reference/campaigns.jsonl",
        "warehouse/opening_stock/snapshot_date=2024-03-04/opening_stock.csv",
        "warehouse/movements/movement_date=2024-03-05/movements_001.csv",
        "ecommerce/orders/export_date=2024-03-05/orders_001.jsonl",
        "crm/customers/export_date=2024-03-04/crm_customers.csv",
        "loyalty/members/export_date=2024-03-04/loyalty_members.csv",
        "marketing/consents/export_date=2024-03-05/consents.csv",
    ]
    for relative in expected:
        assert (clean_landing / relative).is_file(), relative
    assert len(list((clean_landing / "pos/sale_date=2024-03-05").glob("store_id=*"))) == 4


def test_pos_files_follow_the_contract_layout(clean_landing: Path) -> None:
    files = sorted((clean_landing / "pos").glob("sale_date=*/store_id=*/*"))
    assert files
    for path in files:
        assert path.name.endswith((".csv", ".csv.gz"))
        store = path.parent.name.removeprefix("store_id=")
        assert store.isdigit() and not store.startswith("0")
    plain = next(p for p in files if p.suffix == ".csv")
    assert plain.read_text().splitlines()[0] == HEADER


def test_clean_data_breaks_no_rule_and_has_no_duplicates(clean_landing: Path) -> None:
    quarantined, figures = check_landing(clean_landing)
    assert quarantined == []
    manifest = json.loads((clean_landing / "_manifest.json").read_text())
    assert manifest["pos"]["quarantined"] == []
    assert manifest["pos"]["resent_files"] == []
    for counts in figures.values():
        assert counts["duplicates"] == counts["superseded"] == 0
        assert counts["valid_distinct"] == counts["input_lines"]
    assert sum(c["input_lines"] for c in figures.values()) == manifest["counts"]["pos_lines"]


def test_anomalies_inject_every_rule_and_the_manifest_matches_an_independent_check(
    dirty_landing: Path,
) -> None:
    quarantined, figures = check_landing(dirty_landing)
    manifest = json.loads((dirty_landing / "_manifest.json").read_text())

    def keyed(entries: list[dict]) -> Counter:
        return Counter(
            (
                e["sale_date"],
                e["store_id"],
                e["file"],
                e["transaction_id"],
                e["line_number"],
                tuple(sorted(e["rules"])),
            )
            for e in entries
        )

    assert keyed(quarantined) == keyed(manifest["pos"]["quarantined"])
    assert {rule for e in quarantined for rule in e["rules"]} == ALL_RULES
    assert any(len(e["rules"]) > 1 for e in quarantined)
    expected = {
        (d["sale_date"], d["store_id"]): {
            k: d[k]
            for k in ("input_lines", "valid_distinct", "quarantined", "duplicates", "superseded")
        }
        for d in manifest["pos"]["store_days"]
    }
    assert figures == expected
    # The lines a corrected re-send replaces are the changed lines the manifest lists; its
    # other lines, at least, are duplicates.
    resent = manifest["pos"]["resent_files"]
    assert sum(c["superseded"] for c in figures.values()) == sum(r["changed_lines"] for r in resent)
    assert sum(c["duplicates"] for c in figures.values()) >= sum(
        r["lines"] - r["changed_lines"] for r in resent
    )
    for counts in figures.values():
        assert counts["input_lines"] == (
            counts["valid_distinct"]
            + counts["quarantined"]
            + counts["duplicates"]
            + counts["superseded"]
        )


def test_a_missing_store_file_is_recorded_and_really_missing(dirty_landing: Path) -> None:
    manifest = json.loads((dirty_landing / "_manifest.json").read_text())
    missing = manifest["pos"]["missing_store_files"]
    assert missing
    for entry in missing:
        folder = dirty_landing / f"pos/sale_date={entry['sale_date']}/store_id={entry['store_id']}"
        assert not folder.exists()


def test_resent_files_sort_after_their_original(dirty_landing: Path) -> None:
    manifest = json.loads((dirty_landing / "_manifest.json").read_text())
    resent = manifest["pos"]["resent_files"]
    assert {r["changed_lines"] > 0 for r in resent} == {True, False}
    for entry in resent:
        assert entry["resend"] > entry["original"]


def test_sales_have_weekly_seasonality_long_tailed_stores_and_skewed_skus(tmp_path: Path) -> None:
    import duckdb

    generate(
        GenerateOptions(
            tmp_path,
            stores=30,
            days=7,
            start=date(2024, 3, 4),
            seed=1,
            skus=400,
            lines_per_store=400,
            progress=False,
        )
    )
    duckdb.execute(
        f"create or replace view lines as select * from read_csv('{tmp_path}/pos/*/*/*.csv*', "
        "all_varchar=true, hive_partitioning=true)"
    )
    by_day = dict(
        duckdb.execute("select sale_date::varchar, count(*) from lines group by 1").fetchall()
    )
    # The generator's weekday factors: Saturday 1.35 against Tuesday 0.90.
    assert by_day["2024-03-09"] > 1.3 * by_day["2024-03-05"]
    store_share = duckdb.execute(
        "with s as (select store_id, count(*) n from lines group by 1) "
        "select sum(n) filter (where r <= 3) / sum(n) from "
        "(select n, row_number() over (order by n desc) r from s)"
    ).fetchall()[0][0]
    assert store_share > 0.2  # the 10% biggest stores sell well over 10% of the lines
    sku_share = duckdb.execute(
        "with s as (select sku, count(*) n from lines group by 1) "
        "select sum(n) filter (where r <= 4) / sum(n) from "
        "(select n, row_number() over (order by n desc) r from s)"
    ).fetchall()[0][0]
    assert sku_share > 0.1  # the top 1% of SKUs: Zipf-like popularity
    baskets = duckdb.execute(
        "select avg(n) from (select count(*) n from lines group by store_id, transaction_id)"
    ).fetchall()[0][0]
    assert baskets > 2
    returns, promos = duckdb.execute(
        "select count(*) filter (where quantity::int < 0), "
        "count(*) filter (where promo_code is not null) from lines"
    ).fetchall()[0]
    assert returns > 0
    assert promos > 0


def test_manifest_holds_across_store_chunks(tmp_path: Path) -> None:
    # 130 stores span two generation chunks of 100 stores.
    generate(
        GenerateOptions(
            tmp_path,
            stores=130,
            days=1,
            start=date(2024, 3, 4),
            seed=5,
            skus=80,
            lines_per_store=15,
            anomalies=0.05,
            progress=False,
        )
    )
    quarantined, figures = check_landing(tmp_path)
    manifest = json.loads((tmp_path / "_manifest.json").read_text())
    assert len(quarantined) == len(manifest["pos"]["quarantined"])
    assert sum(c["input_lines"] for c in figures.values()) == manifest["counts"]["pos_lines"]
    assert {(d["sale_date"], d["store_id"]) for d in manifest["pos"]["store_days"]} == set(figures)
    assert len(figures) + len(manifest["pos"]["missing_store_files"]) == 130
