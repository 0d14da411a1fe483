"""Generated files parse under the declared schemas; docs/data-contracts.md names every column."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from jobs.contracts import SOURCES
from jobs.contracts.pos import PAYMENT_METHODS, POS_COLUMNS, QUARANTINE_RULES

DOCS = Path(__file__).resolve().parent.parent / "docs" / "data-contracts.md"
GUIDE_HEADER = (
    "transaction_id,line_number,store_id,register_id,transaction_ts,sku,quantity,"
    "unit_price,discount_amount,promo_code,loyalty_id,payment_method"
)
FILES = {
    "stores": "reference/stores.csv",
    "products": "reference/products.csv",
    "warehouses": "reference/warehouses.csv",
    "campaigns": "reference/campaigns.jsonl",
    "pos_lines": "pos/sale_date=*/store_id=*/*",
    "ecommerce_orders": "ecommerce/orders/export_date=*/*.jsonl",
    "stock_movements": "warehouse/movements/movement_date=*/*.csv",
    "opening_stock": "warehouse/opening_stock/snapshot_date=*/*.csv",
    "crm_customers": "crm/customers/export_date=*/*.csv",
    "loyalty_members": "loyalty/members/export_date=*/*.csv",
    "marketing_consents": "marketing/consents/export_date=*/*.csv",
}


def test_pos_columns_are_the_guides_header_in_order() -> None:
    assert ",".join(POS_COLUMNS) == GUIDE_HEADER
    assert PAYMENT_METHODS == ("CASH", "CARD", "MOBILE", "VOUCHER", "OTHER")
    assert len(QUARANTINE_RULES) == 10


def test_every_source_has_a_file_pattern() -> None:
    assert set(FILES) == set(SOURCES)


@pytest.mark.parametrize("name", sorted(FILES))
def test_clean_files_parse_under_the_declared_schema_without_a_reject(
    spark: SparkSession, clean_landing: Path, name: str
) -> None:
    source = SOURCES[name]
    path = str(clean_landing / FILES[name])
    reader = spark.read.schema(source.schema).option("mode", "FAILFAST")
    if source.file_format == "csv":
        df = reader.option("header", "true").option("enforceSchema", "false").csv(path)
    else:
        df = reader.json(path)
    if name == "pos_lines":  # sale_date, part of the key, comes from the folder name
        df = df.withColumn(
            "sale_date", F.regexp_extract(F.col("_metadata.file_path"), r"sale_date=([0-9-]+)", 1)
        )
    rows = df.collect()  # FAILFAST: any value that does not parse raises here
    manifest = json.loads((clean_landing / "_manifest.json").read_text())
    assert len(rows) == manifest["counts"][name]
    for field in source.schema:
        if not field.nullable:
            assert df.where(F.col(field.name).isNull()).count() == 0, field.name
    key_count = df.select(*source.key).distinct().count()
    assert key_count == len(rows), f"{name}: key {source.key} is not unique"


def test_documentation_names_every_source_and_column() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for source in SOURCES.values():
        assert f"`{source.name}`" in text, source.name
        section = text.split(f"`{source.name}`", 1)[1]
        for column in source.schema.fieldNames():
            assert re.search(rf"\| `?{column}`? \|", section), f"{source.name}.{column}"
    for rule in QUARANTINE_RULES:
        assert f"`{rule}`" in text
