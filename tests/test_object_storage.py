"""The landing zone on object storage, as production has it: an S3 endpoint on 127.0.0.1
(moto's server, the real S3 wire protocol), conf/kubernetes.yaml with only the paths, the
endpoint and the credentials overridden, and the same pyarrow client the Airflow worker uses.

What this covers of the production storage path (#19):
- `plan_sales_shards` listing the landing bucket;
- a whole retail_daily day with its landing zone in one bucket and its lake in another, through
  s3a:// with the image's jar set (tests/bucket_day.py, one driver process for the day);
- BI reading the gold tables back from the bucket with deltalake, the report and the
  availability feed on the bucket.
Several drivers committing to one table at once: tests/test_many_drivers.py.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import yaml
from moto.server import ThreadedMotoServer

from jobs.orchestration.plan import store_shards
from jobs.settings import PROJECT_ROOT, Settings
from jobs.spark import BASE_JVM_OPTIONS
from tests.airflow_runs import DAY, NO_DATA_DAY, assert_gold_equals_pandas
from tests.bucket_day import run_day
from tests.conftest import SPARK_TEST_CONF, TEST_JVM_OPTIONS
from tests.s3 import (
    REGION,
    aws_env,
    create_bucket,
    image_jars,
    s3_client,
    s3a_endpoint_conf,
    upload_folder,
)

# A retail_daily day on the buckets in a subprocess (tests/bucket_day.py): minutes.
pytestmark = pytest.mark.slow

BUCKET = "retailmax-landing"
NEW_STORE = 7  # sends POS files before it is in reference/stores.csv


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto's S3 on a free port of 127.0.0.1, and the environment every AWS client reads
    (tests.s3.aws_env) set for this module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for name, value in aws_env(url).items():
            env.setenv(name, value)
        yield url
    server.stop()


@pytest.fixture(scope="module")
def landing_bucket(endpoint: str, clean_landing: Path) -> str:
    """The landing zone's reference data and the POS files of DAY in a bucket, plus a POS
    folder of a store not yet in stores.csv; its s3a:// root, as conf names it."""
    create_bucket(endpoint, BUCKET)
    s3 = s3_client(endpoint)
    sent = [
        *(clean_landing / "reference").rglob("*"),
        *(clean_landing / "pos").glob(f"sale_date={DAY}/**/*"),
    ]
    for path in sent:
        if path.is_file():
            s3.upload_file(str(path), BUCKET, f"prod/{path.relative_to(clean_landing)}")
    s3.put_object(
        Bucket=BUCKET, Key=f"prod/pos/sale_date={DAY}/store_id={NEW_STORE}/register_1.csv", Body=b""
    )
    return f"s3a://{BUCKET}/prod"


def _kubernetes_conf(landing_root: str) -> Settings:
    """conf/kubernetes.yaml with its landing root on the test bucket and shards of 2 stores."""
    conf = yaml.safe_load((PROJECT_ROOT / "conf" / "kubernetes.yaml").read_text())
    conf["paths"]["landing_root"] = landing_root
    conf["sharding"]["stores_per_shard"] = 2
    return Settings.model_validate(conf)


def test_plan_sales_shards_lists_the_landing_bucket_as_the_airflow_worker_does(
    landing_bucket: str,
) -> None:
    settings = _kubernetes_conf(landing_bucket)
    # stores.csv holds stores 1-4 (clean_landing); store 7 sent POS files on DAY.
    assert store_shards(settings, DAY) == ["1-2", "3-4", str(NEW_STORE)]


def test_a_date_without_pos_folders_on_the_bucket_plans_the_known_stores(
    landing_bucket: str,
) -> None:
    assert store_shards(_kubernetes_conf(landing_bucket), NO_DATA_DAY) == ["1-2", "3-4"]


def test_a_missing_landing_bucket_fails_naming_it(endpoint: str) -> None:
    settings = _kubernetes_conf("s3a://retailmax-no-such-bucket/prod")
    with pytest.raises(OSError, match="retailmax-no-such-bucket"):
        store_shards(settings, date(2024, 3, 4))


DAY_LANDING = "retailmax-day-landing"
DAY_LAKE = "retailmax-lake"


@pytest.fixture(scope="module")
def bucket_day(endpoint: str, clean_landing: Path) -> dict[str, Any]:
    """The whole landing zone in one bucket, a lake bucket, and DAY run on them: every task of
    retail_daily in one driver process with the image's jars (tests/bucket_day.py)."""
    create_bucket(endpoint, DAY_LANDING)
    create_bucket(endpoint, DAY_LAKE)
    upload_folder(endpoint, clean_landing, DAY_LANDING, "prod")
    conf = {
        # The tests' small Spark; UTC and C1 for the driver JVM, as the SparkApplications'
        # javaOptions and the tests' session give theirs.
        **SPARK_TEST_CONF,
        "spark.driver.memory": "1g",
        "spark.driver.extraJavaOptions": " ".join([*BASE_JVM_OPTIONS, *TEST_JVM_OPTIONS]),
        "spark.jars": ",".join(str(jar) for jar in image_jars()),
        # One driver at a time here, so Delta's S3 default LogStore is safe.
        **s3a_endpoint_conf(endpoint),
    }
    done = run_day(
        DAY, f"s3a://{DAY_LANDING}/prod", f"s3a://{DAY_LAKE}/prod", conf, aws_env(endpoint)
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return {"result": json.loads(done.stdout.strip().splitlines()[-1]), "log": done.stderr}


def test_a_retail_daily_day_runs_on_the_buckets_with_the_images_jars(
    bucket_day: dict[str, Any],
) -> None:
    # stores.csv holds stores 1-4: one shard at conf/kubernetes.yaml's 25 stores per shard;
    # then the whole-date steps in DAG order.
    day = str(DAY)
    assert bucket_day["result"]["commands"] == [
        ["run", "sales", "--date", day, "--stores", "1-4"],
        ["run", "sales-gold", "--date", day],
        ["run", "inventory", "--date", day],
        ["run", "promotions", "--date", day],
        ["run", "report", "--date", day],
    ]
    assert bucket_day["result"]["codes"] == [0] * 5


def test_bi_reads_the_gold_tables_back_from_the_bucket_with_deltalake(
    bucket_day: dict[str, Any], endpoint: str, clean_landing: Path
) -> None:
    assert_gold_equals_pandas(
        f"s3://{DAY_LAKE}/prod", clean_landing, DAY, storage_options=aws_env(endpoint)
    )


def test_the_report_and_the_availability_feed_are_whole_files_on_the_bucket(
    bucket_day: dict[str, Any], endpoint: str
) -> None:
    s3 = s3_client(endpoint)
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=DAY_LAKE, Prefix="prod/")["Contents"]]
    report = f"prod/reports/daily/date={DAY}/index.html"
    assert report in keys
    html = s3.get_object(Bucket=DAY_LAKE, Key=report)["Body"].read().decode()
    assert html.rstrip().endswith("</html>")
    feeds = [key for key in keys if key.startswith("prod/feeds/ecommerce_availability/")]
    manifests = [key for key in feeds if key.endswith("/manifest.json")]
    assert manifests and not [key for key in keys if key.endswith(".tmp")]
    for manifest_key in manifests:
        manifest = json.loads(s3.get_object(Bucket=DAY_LAKE, Key=manifest_key)["Body"].read())
        feed_key = manifest_key.rsplit("/", 1)[0] + "/" + manifest["file"]
        data = s3.get_object(Bucket=DAY_LAKE, Key=feed_key)["Body"].read()
        assert hashlib.sha256(data).hexdigest() == manifest["sha256"]
        assert len(data.decode().splitlines()) == manifest["rows"] + 1  # the header


def test_the_airflow_workers_get_the_buckets_region_and_an_identity_slot() -> None:
    """The Helm values give the worker pods what plan_sales_shards' pyarrow needs besides
    credentials: the region the tests above list the bucket in (the chart itself cannot be
    rendered here, so its values are checked, not a pod)."""
    values = yaml.safe_load((PROJECT_ROOT / "k8s" / "helm" / "airflow-values.yaml").read_text())
    env = {item["name"]: item["value"] for item in values["env"]}
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    # The IAM role (IRSA) goes on the workers' service account: an annotation slot, empty.
    assert values["workers"]["serviceAccount"]["annotations"] == {}
    assert "AWS_ACCESS_KEY_ID" not in env and "AWS_SECRET_ACCESS_KEY" not in env
