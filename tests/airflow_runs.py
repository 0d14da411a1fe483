"""What the `airflow dags test retail_daily` tests share, whatever the backend: their conf,
their environment, and the checks of gold rows and failure alerts."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

from jobs.settings import Settings, relocated_conf
from tests.conftest import TEST_JVM_OPTIONS
from tests.pos_oracle import expected_daily_store_sales
from tests.tables import table

DAY = date(2024, 3, 4)
NO_DATA_DAY = date(2024, 3, 6)  # clean_landing holds 2024-03-04 and 2024-03-05 only
KEPT_ENV = ("PATH", "HOME", "JAVA_HOME", "LANG")


@dataclass
class Run:
    code: int
    log: str
    emails: list[Any]
    posts: list[Any]
    progress: list[str] = field(default_factory=list)


def run_conf(
    env: str, root: Path, landing: Path, spark: dict[str, Any]
) -> tuple[Settings, dict[str, str]]:
    """conf/<env>.yaml with its lake under `root` (`relocated_conf`: the checkout's jar cache
    and what `make setup` built), small Spark (+ `spark`; its `conf` entries added to the
    file's), shards of 2 stores and no retries (a failure alerts at once), written to a conf
    dir; the settings and the base environment of the run."""
    conf = relocated_conf(env, landing, root / "lake")
    extra_conf = spark.pop("conf", {})
    small = {"driver_memory": "1g", "ui_enabled": False, "driver_java_options": TEST_JVM_OPTIONS}
    conf["spark"].update({**small, **spark})
    conf["spark"]["conf"] = {**conf["spark"].get("conf", {}), **extra_conf}
    conf["sharding"]["stores_per_shard"] = 2
    conf["orchestration"]["retries"] = 0
    conf_dir = root / "conf"
    conf_dir.mkdir()
    (conf_dir / f"{env}.yaml").write_text(yaml.safe_dump(conf))
    base = {k: v for k, v in os.environ.items() if k in KEPT_ENV}
    base.update({"RETAILMAX_CONF_DIR": str(conf_dir), "RETAILMAX_ENV": env})
    return Settings.model_validate(conf), base


def assert_gold_equals_pandas(
    lake: Path | str, landing: Path, day: date, storage_options: dict[str, str] | None = None
) -> None:
    """gold.daily_store_sales (read with deltalake, from a folder or a bucket) equals pandas
    on the landing files."""
    expected = expected_daily_store_sales(landing).loc[str(day)]
    gold = table(lake, "gold.daily_store_sales", storage_options)
    gold = gold.set_index("store_id").sort_index()
    assert list(gold.index) == list(expected.index) == [1, 2, 3, 4]
    for column in expected.columns:
        assert [Decimal(str(v)) for v in gold[column]] == [
            Decimal(str(v)) for v in expected[column]
        ], column


def assert_shards_alerted_without_landing_data(run: Run, landing: Path, day: date) -> None:
    """Both sales shards failed for want of POS files: one e-mail and one webhook post each,
    naming the DAG, task, store range, date, try, log URL and the job's own reason."""
    assert run.code != 0
    reason = f"no landing data for sales on {day}: {landing}/pos/sale_date={day} does not exist"
    subjects = sorted(message["Subject"] for message in run.emails)
    assert subjects == [
        f"[RetailMax] retail_daily.sales failed for {day} (stores 1-2)",
        f"[RetailMax] retail_daily.sales failed for {day} (stores 3-4)",
    ]
    for message in run.emails:
        assert message["To"] == "data-oncall@retailmax.example"
        body = message.get_payload()[0].get_payload(decode=True).decode()
        assert reason in body and "/tasks/sales/mapped/" in body
    alerts = sorted((post["alert"] for post in run.posts), key=lambda a: a["store_range"])
    assert [a["store_range"] for a in alerts] == ["stores 1-2", "stores 3-4"]
    for index, alert in enumerate(alerts):
        assert alert["dag_id"] == "retail_daily" and alert["task_id"] == "sales"
        assert alert["logical_date"] == str(day)
        assert alert["try_number"] == 1
        assert alert["reason"] == reason
        assert alert["log_url"].startswith("http://localhost:8080/dags/retail_daily/runs/")
        assert alert["log_url"].endswith(f"/tasks/sales/mapped/{index}?try_number=1")
    assert all(
        post["text"].startswith("[RetailMax] retail_daily.sales failed") for post in run.posts
    )
