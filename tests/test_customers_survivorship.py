"""Survivorship (issue #5): per attribute the most trusted source, then the latest non-null."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from jobs.customers.survivorship import survive
from jobs.errors import ConfigError
from jobs.settings import conf_dir, load_settings

COLUMNS = (
    "customer_key string, record_id string, source string, updated_at timestamp, "
    "first_name string, phone string, city string"
)
RULES = {"first_name": ["crm", "loyalty"], "phone": ["loyalty", "crm"], "city": ["crm"]}


def test_trusted_source_first_then_the_latest_non_null_value(spark: Any) -> None:
    records = [
        # K1: CRM's latest record has no first name: its earlier one still beats loyalty's.
        ("K1", "CRM:C1", "crm", datetime(2024, 3, 1, 9), "Jean", "+33611111111", "Lyon"),
        ("K1", "CRM:C1", "crm", datetime(2024, 3, 3, 9), None, None, "Paris"),
        ("K1", "LOY:L1", "loyalty", datetime(2024, 3, 4, 9), "Jeannot", "+33622222222", None),
        # K2: known to loyalty only; city is taken from CRM alone, so it stays unknown.
        ("K2", "LOY:L2", "loyalty", datetime(2024, 3, 2, 9), "Léa", None, "Nice"),
        # K3: two loyalty records: the later one's phone.
        ("K3", "LOY:L3", "loyalty", datetime(2024, 3, 2, 9), "Hugo", "+33633333333", None),
        ("K3", "LOY:L4", "loyalty", datetime(2024, 3, 5, 9), None, "+33644444444", None),
    ]
    rows = survive(spark.createDataFrame(records, COLUMNS), RULES).orderBy("customer_key")
    assert [tuple(row) for row in rows.collect()] == [
        ("K1", "Jean", "+33622222222", "Paris"),
        ("K2", "Léa", None, None),
        ("K3", "Hugo", "+33644444444", None),
    ]


def test_the_conf_declares_survivorship_for_known_attributes_and_sources(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_settings("local").customers.survivorship["phone"] == ["loyalty", "crm"]
    conf = (conf_dir() / "local.yaml").read_text()
    (tmp_path / "local.yaml").write_text(conf.replace("phone: [loyalty, crm]", "phone: [pos]"))
    monkeypatch.setenv("RETAILMAX_CONF_DIR", str(tmp_path))
    with pytest.raises(ConfigError, match=r"survivorship.phone: unknown source \['pos'\]"):
        load_settings("local")
