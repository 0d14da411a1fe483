"""What the object-storage tests share: the test S3 server's client and environment, the S3A
conf of conf/kubernetes.yaml pointed at it, and the image's jar set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import yaml

from jobs.jars import NOT_SERVED_HERE, fetch_jars
from jobs.settings import PROJECT_ROOT

REGION = "eu-west-3"  # conf/kubernetes.yaml's
ACCESS_KEY = "retailmax-test"
IMAGE_JAR_CACHE = Path.home() / ".cache" / "retailmax" / "jars-image"
# conf/kubernetes.yaml's DynamoDB LogStore, which cannot load here (its jar is not served).
DYNAMODB_LOG_STORE_KEYS = ("spark.delta.logStore.", "spark.io.delta.storage.S3DynamoDBLogStore.")
SINGLE_DRIVER_LOG_STORE = "io.delta.storage.S3SingleDriverLogStore"


def aws_env(endpoint: str) -> dict[str, str]:
    """What every AWS client reads (S3A's SDK, pyarrow, deltalake, boto3): the endpoint, test
    credentials, the region, plain HTTP allowed, no instance metadata lookups."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": ACCESS_KEY,
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ALLOW_HTTP": "true",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def s3_client(endpoint: str) -> Any:
    """A boto3 client of the test server, with the test credentials."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=ACCESS_KEY,
    )


def create_bucket(endpoint: str, bucket: str) -> None:
    s3_client(endpoint).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
    )


def s3a_endpoint_conf(endpoint: str) -> dict[str, str]:
    """S3A pointed at the test server (path-style addressing: no bucket DNS names on
    127.0.0.1), and Delta's S3 default LogStore in place of conf/kubernetes.yaml's DynamoDB one,
    which cannot load here (its jar is not served)."""
    return {
        "spark.hadoop.fs.s3a.endpoint": endpoint,
        "spark.hadoop.fs.s3a.endpoint.region": REGION,
        "spark.hadoop.fs.s3a.path.style.access": "true",
        "spark.delta.logStore.s3a.impl": SINGLE_DRIVER_LOG_STORE,
    }


def kubernetes_s3a_conf(endpoint: str) -> dict[str, str]:
    """conf/kubernetes.yaml's spark.conf without its DynamoDB LogStore keys, pointed at the test
    server (s3a_endpoint_conf)."""
    conf = yaml.safe_load((PROJECT_ROOT / "conf" / "kubernetes.yaml").read_text())["spark"]["conf"]
    kept = {
        key: str(value)
        for key, value in conf.items()
        if not key.startswith(DYNAMODB_LOG_STORE_KEYS)
    }
    return {**kept, **s3a_endpoint_conf(endpoint)}


def upload_folder(endpoint: str, folder: Path, bucket: str, prefix: str) -> None:
    """Every file under `folder` to `bucket`, at `prefix/<path relative to folder>`."""
    s3 = s3_client(endpoint)
    for path in folder.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/{path.relative_to(folder)}")


def image_jars() -> list[Path]:
    """The image's jar set (jars.lock `image`), fetched once into ~/.cache like the API server
    build; all of it but the one jar Maven Central does not serve here."""
    return fetch_jars(IMAGE_JAR_CACHE, "image", skip=NOT_SERVED_HERE)
