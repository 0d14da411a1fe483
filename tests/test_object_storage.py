"""The landing zone on object storage, as production has it: an S3 endpoint on 127.0.0.1
(moto's server, the real S3 wire protocol), conf/kubernetes.yaml with only the paths, the
endpoint and the credentials overridden, and the same pyarrow client the Airflow worker uses.

What this covers of the production storage path (#19): `plan_sales_shards` listing the landing
bucket. Delta commits through s3a:// with the image's jars, by several drivers at once, are in
tests/test_many_drivers.py; a whole retail_daily day on the bucket is not covered yet.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from jobs.orchestration.plan import store_shards
from jobs.settings import PROJECT_ROOT, Settings
from tests.airflow_runs import DAY, NO_DATA_DAY

REGION = "eu-west-3"  # conf/kubernetes.yaml's
BUCKET = "retailmax-landing"
NEW_STORE = 7  # sends POS files before it is in reference/stores.csv


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """moto's S3 on a free port of 127.0.0.1, and the environment every AWS client reads:
    the endpoint, test credentials, the region, no instance metadata lookups."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as env:
        for name, value in {
            "AWS_ENDPOINT_URL": url,
            "AWS_ACCESS_KEY_ID": "retailmax-test",
            "AWS_SECRET_ACCESS_KEY": "retailmax-test",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
        }.items():
            env.setenv(name, value)
        yield url
    server.stop()


@pytest.fixture(scope="module")
def landing_bucket(endpoint: str, clean_landing: Path) -> str:
    """The landing zone's reference data and the POS files of DAY in a bucket, plus a POS
    folder of a store not yet in stores.csv; its s3a:// root, as conf names it."""
    s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION)
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": REGION})
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
