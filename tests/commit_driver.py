"""One of several Spark drivers committing to the same Delta tables at once, as the shard
drivers of one job do in production (`python -m tests.commit_driver`; tests/test_many_drivers.py
starts four).

Each round, after a barrier that all drivers pass together, a driver commits to every table it
is given: a shard write of its own store-day (jobs.lake.replace_where, as the sales jobs
write), then a MERGE of that store-day's total row. Every commit carries its author in
commitInfo.userMetadata, so the log says whose commits it kept. The driver prints one JSON line:
its number, the commits that failed on an uncoordinated lake (--uncoordinated-lake), and what
its DynamoDB calls returned (--dynamodb).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pyspark.sql import types as T

from jobs.cli import one_line
from jobs.lake import TableSpec, column, ensure_table, replace_where, store_day_predicate
from jobs.settings import load_settings
from jobs.spark import get_spark

LINES_PER_WRITE = 3
FIRST_DAY = date(2024, 3, 4)
SPEC = TableSpec(
    name="silver.commit_proof",
    schema=T.StructType(
        [
            column("sale_date", T.DateType(), "The store-day's date."),
            column("store_id", T.IntegerType(), "The store, one per driver."),
            column("line_id", T.StringType(), "driver-round-line, or 'total' for the MERGE row."),
            column("amount", T.LongType(), "1 per line; the total row holds the day's sum."),
        ]
    ),
    partition_by=("sale_date", "store_id"),
    comment="Rows written by the commit drivers of tests/test_many_drivers.py.",
)


def wait_for_all(barrier: Path, name: str, drivers: int, timeout: float = 300.0) -> None:
    """Marks this driver ready for `name` and waits until all `drivers` are."""
    folder = barrier / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{len(list(folder.iterdir()))}-{time.time_ns()}").touch()
    deadline = time.monotonic() + timeout
    while len(list(folder.iterdir())) < drivers:
        if time.monotonic() > deadline:
            raise TimeoutError(f"barrier {name}: the other drivers never came")
        time.sleep(0.01)


def dynamodb_claims(spark: Any, endpoint: str) -> dict[str, str]:
    """What S3DynamoDBLogStore does with the AWS SDK v1 of the image's jar set, called from this
    driver's JVM: find its table or create it (the key of the deploy guide), then claim one
    commit twice with the LogStore's condition (the item must not exist yet). The LogStore
    itself is not on this classpath (its jar is not served here); its SDK calls are."""
    jvm = spark._jvm
    aws = jvm.com.amazonaws
    model = aws.services.dynamodbv2.model
    client = (
        aws.services.dynamodbv2.AmazonDynamoDBClientBuilder.standard()
        .withEndpointConfiguration(
            aws.client.builder.AwsClientBuilder.EndpointConfiguration(endpoint, "eu-west-3")
        )
        .withCredentials(aws.auth.DefaultAWSCredentialsProviderChain())
        .build()
    )
    table = "retailmax_delta_log"
    found: dict[str, str] = {}
    try:
        found["table"] = client.describeTable(table).getTable().getTableStatus()
    except Exception as exc:  # py4j wraps the SDK's exception
        found["describe"] = exc.java_exception.getClass().getSimpleName()  # type: ignore[attr-defined]
        keys = jvm.java.util.ArrayList()
        keys.add(model.KeySchemaElement("tablePath", model.KeyType.HASH))
        keys.add(model.KeySchemaElement("fileName", model.KeyType.RANGE))
        attributes = jvm.java.util.ArrayList()
        attributes.add(model.AttributeDefinition("tablePath", model.ScalarAttributeType.S))
        attributes.add(model.AttributeDefinition("fileName", model.ScalarAttributeType.S))
        created = client.createTable(attributes, table, keys, model.ProvisionedThroughput(5, 5))
        found["table"] = created.getTableDescription().getTableStatus()
    for attempt in ("first_claim", "second_claim"):
        item = jvm.java.util.HashMap()
        item.put("tablePath", model.AttributeValue("s3a://retailmax-lake/prod/bronze/pos_lines"))
        item.put("fileName", model.AttributeValue("00000000000000000007.json"))
        item.put("tempPath", model.AttributeValue(f".tmp/{attempt}"))
        item.put("complete", model.AttributeValue().withS("false"))
        expected = jvm.java.util.HashMap()
        expected.put("fileName", model.ExpectedAttributeValue(False))
        try:
            client.putItem(model.PutItemRequest(table, item).withExpected(expected))
            found[attempt] = "claimed"
        except Exception as exc:
            found[attempt] = exc.java_exception.getClass().getSimpleName()  # type: ignore[attr-defined]
    # IRSA: the SDK v1 chain's web-identity provider needs the STS client on the classpath.
    sts = aws.services.securitytoken.AWSSecurityTokenServiceClientBuilder.standard()
    found["sts"] = sts.getClass().getSimpleName()
    return found


def store_day(driver: int, round_no: int) -> tuple[date, int]:
    """The store-day a driver writes in a round: its own store, one day per round."""
    return FIRST_DAY + timedelta(days=round_no), 100 + driver


def write_lines(spark: Any, lake: str, driver: int, round_no: int) -> None:
    """The shard write of the driver's store-day, as the sales jobs write it."""
    day, store = store_day(driver, round_no)
    lines = [(day, store, f"{driver}-{round_no}-{line}", 1) for line in range(LINES_PER_WRITE)]
    replace_where(
        spark.createDataFrame(lines, SPEC.schema), SPEC, lake, store_day_predicate(day, [store])
    )


def merge_total(spark: Any, lake: str, driver: int, round_no: int) -> None:
    """The MERGE of the store-day's total row, matched on the store-day and line_id."""
    from delta.tables import DeltaTable
    from pyspark.sql import functions as F

    day, store = store_day(driver, round_no)
    total = [(day, store, "total", LINES_PER_WRITE)]
    (
        DeltaTable.forPath(spark, SPEC.path(lake))
        .alias("t")
        .merge(
            spark.createDataFrame(total, SPEC.schema).alias("s"),
            (F.col("t.sale_date") == F.lit(day))
            & (F.col("t.store_id") == F.lit(store))
            & (F.col("t.line_id") == F.col("s.line_id")),
        )
        .whenMatchedUpdateAll()
        .whenNotMatchedInsertAll()
        .execute()
    )


COMMITS = {"write": write_lines, "merge": merge_total}  # each round's, in this order


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.commit_driver")
    parser.add_argument("--driver", type=int, required=True)
    parser.add_argument("--drivers", type=int, required=True)
    parser.add_argument("--rounds", type=int, required=True)
    parser.add_argument(
        "--lake",
        action="append",
        default=[],
        help="a lake root whose LogStore coordinates the drivers (repeat): every driver creates "
        "its table at once, and any failed commit stops the driver",
    )
    parser.add_argument(
        "--uncoordinated-lake",
        action="append",
        default=[],
        help="a lake root whose LogStore does not coordinate the drivers (repeat): driver 0 "
        "creates its table before the others start, and a commit that fails there is recorded "
        "in the printed line, not raised",
    )
    parser.add_argument("--barrier", type=Path, required=True)
    parser.add_argument("--conf", action="append", default=[], help="key=value Spark conf")
    parser.add_argument("--dynamodb", help="also claim commits in DynamoDB at this endpoint")
    args = parser.parse_args()

    extra = dict(item.split("=", 1) for item in args.conf)
    spark = get_spark(load_settings("local"), f"commit-driver-{args.driver}", extra)
    if args.driver == 0:
        for lake in args.uncoordinated_lake:
            ensure_table(spark, SPEC, lake)
    wait_for_all(args.barrier, "create", args.drivers)
    for lake in args.lake:
        ensure_table(spark, SPEC, lake)
    failures: list[dict[str, Any]] = []
    for round_no in range(args.rounds):
        wait_for_all(args.barrier, f"round-{round_no}", args.drivers)
        for lake in [*args.lake, *args.uncoordinated_lake]:
            for op, commit in COMMITS.items():
                tag = f"driver={args.driver} round={round_no} op={op}"
                spark.conf.set("spark.databricks.delta.commitInfo.userMetadata", tag)
                try:
                    commit(spark, lake, args.driver, round_no)
                except Exception as exc:
                    if lake not in args.uncoordinated_lake:
                        raise
                    failures.append(
                        {"lake": lake, "round": round_no, "op": op, "error": one_line(exc)}
                    )
    claims = dynamodb_claims(spark, args.dynamodb) if args.dynamodb else None
    spark.stop()
    print(
        json.dumps(
            {"driver": args.driver, "rounds": args.rounds, "failed": failures, "dynamodb": claims}
        )
    )


if __name__ == "__main__":
    main()
