"""Many drivers, one table (#19): four Spark driver processes, each loading the image's jar set
(jobs/jars.lock), commit to the same Delta tables at once, round after round: a shard write of
their own store-day, then a MERGE of its total row (tests/commit_driver.py).

Two tables get the same commits in the same rounds:
- on local disk, where Delta's default LogStore puts each version N.json only if absent (an
  atomic rename that refuses to overwrite): every commit must be in the log, no version
  overwritten, every row there;
- on an S3 bucket (moto's server on 127.0.0.1) through s3a:// with S3SingleDriverLogStore, the
  LogStore Delta uses for S3 when nothing coordinates the drivers: S3 has no put-if-absent
  through S3A's plain create, so two drivers that race for the same version both "win". The
  later PUT silently replaces the earlier commit, or a driver reading that version as it is
  replaced fails its commit (S3A refuses an object that changed under it). The test requires
  one or the other, which is what production's DynamoDB LogStore guards against
  (docs/deploy-kubernetes.md, "Commit coordination"). That table is created by one driver
  before the others start: racing creations on it can leave version 0 unreadable, which is not
  what this test is about. A failed commit there is recorded by its driver, which goes on;
  on local disk any failure stops the driver and fails the test.

Driver 0 also makes the DynamoDB LogStore's AWS SDK v1 calls from its JVM (the image's jar
set) against moto's DynamoDB: a missing or clashing SDK v1 class fails here.

What is not real here: the DynamoDB LogStore itself (Maven Central here serves no
delta-storage-s3-dynamodb jar), and S3's latency. A real S3 PUT takes tens to hundreds of
milliseconds; moto answers in about one. So a WSGI middleware holds each commit-file PUT for
COMMIT_PUT_LATENCY before moto sees it, which gives the race the width it has against S3.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from moto.moto_server.threaded_moto_server import MotoRequestHandler
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

from jobs.settings import PROJECT_ROOT
from tests.commit_driver import LINES_PER_WRITE
from tests.conftest import SPARK_TEST_CONF
from tests.s3 import aws_env, create_bucket, image_jars, kubernetes_s3a_conf, s3_client

pytestmark = pytest.mark.slow

DRIVERS = 4
ROUNDS = 2
BUCKET = "retailmax-commit-proof"  # moto's buckets are per process: one name per module
COMMIT_PUT_LATENCY = 1.0  # seconds
DRIVERS_TIMEOUT = 600.0  # seconds for the four drivers, start to end
COMMIT_FILE = re.compile(r"/_delta_log/\d{20}\.json$")
AUTHOR = re.compile(r"driver=(\d+) round=(\d+) op=(\w+)")


class SlowCommitPuts:
    """WSGI middleware: holds each PUT of a Delta commit file (`_delta_log/<20 digits>.json`)
    for COMMIT_PUT_LATENCY, then passes it on. Everything else goes straight through."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if environ["REQUEST_METHOD"] == "PUT" and COMMIT_FILE.search(environ["PATH_INFO"]):
            time.sleep(COMMIT_PUT_LATENCY)
        return self.app(environ, start_response)


class SlowCommitS3(ThreadedMotoServer):
    """moto's threaded server with SlowCommitPuts in front of it."""

    def _server_entry(self) -> None:
        app = SlowCommitPuts(DomainDispatcherApplication(create_backend_app))
        self._server = make_server(
            self._ip_address, self._port, app, True, request_handler=MotoRequestHandler
        )
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    server = SlowCommitS3(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    create_bucket(url, BUCKET)
    yield url
    server.stop()


@pytest.fixture(scope="module")
def committed(s3_endpoint: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Runs the four drivers to the end; the two lake roots they shared, and what driver 0's
    DynamoDB calls returned."""
    work = tmp_path_factory.mktemp("many-drivers")
    lakes = {"local": str(work / "lake"), "s3": f"s3a://{BUCKET}/single-driver"}
    conf = {
        **kubernetes_s3a_conf(s3_endpoint),  # with S3SingleDriverLogStore
        "spark.jars": ",".join(str(jar) for jar in image_jars()),
        **SPARK_TEST_CONF,
        "spark.master": "local[1]",
        "spark.driver.memory": "768m",
    }
    env = {**os.environ, **aws_env(s3_endpoint), "PYSPARK_PYTHON": sys.executable}
    command = [sys.executable, "-m", "tests.commit_driver", "--drivers", str(DRIVERS)]
    command += ["--rounds", str(ROUNDS), "--barrier", str(work / "barrier")]
    command += [f"--lake={lakes['local']}", f"--uncoordinated-lake={lakes['s3']}"]
    command += [f"--conf={key}={value}" for key, value in conf.items()]
    logs = [work / f"driver-{number}.log" for number in range(DRIVERS)]
    outs = [work / f"driver-{number}.json" for number in range(DRIVERS)]
    drivers = []
    for number in range(DRIVERS):
        with logs[number].open("w") as stderr, outs[number].open("w") as stdout:
            drivers.append(
                subprocess.Popen(
                    [*command, "--driver", str(number)]
                    + (["--dynamodb", s3_endpoint] if number == 0 else []),
                    cwd=PROJECT_ROOT,
                    env=env,
                    stdout=stdout,
                    stderr=stderr,
                )
            )
    failed = wait_for_drivers(drivers, timeout=DRIVERS_TIMEOUT)
    assert not failed, (
        f"drivers {failed} failed or timed out, the others were stopped (logs: "
        f"{work}/driver-N.log); driver {failed[0]}'s "
        f"last lines:\n{logs[failed[0]].read_text()[-4000:]}"
    )
    claims = None
    s3_failures = []
    for number, out in enumerate(outs):
        printed = json.loads(out.read_text().strip().splitlines()[-1])
        assert printed["driver"] == number
        claims = claims or printed["dynamodb"]
        s3_failures += [{"driver": number, **failure} for failure in printed["failed"]]
    return {**lakes, "dynamodb": claims, "s3_failures": s3_failures}


def wait_for_drivers(drivers: list[subprocess.Popen[bytes]], timeout: float) -> list[int]:
    """Waits for every driver; the numbers of those that failed, the first to fail first.

    A driver that fails leaves the others waiting at the next barrier: they are stopped at
    once and not counted, so the failure shows in seconds and alone. Past the timeout, every
    driver still running is stopped and counted as failed."""
    deadline = time.monotonic() + timeout
    failed: list[int] = []
    while True:
        codes = [driver.poll() for driver in drivers]
        failed += [n for n, code in enumerate(codes) if code and n not in failed]
        if None not in codes:
            return failed
        if failed or time.monotonic() > deadline:
            running = [n for n, code in enumerate(codes) if code is None]
            for number in running:
                drivers[number].kill()
                drivers[number].wait()
            return failed or running
        time.sleep(0.2)


def commit_log(entries: dict[int, bytes]) -> list[tuple[int, str | None]]:
    """(version, commitInfo.userMetadata) of each commit file."""
    found = []
    for version, body in sorted(entries.items()):
        actions = [json.loads(line) for line in body.decode().splitlines() if line.strip()]
        info = next(a["commitInfo"] for a in actions if "commitInfo" in a)
        found.append((version, info.get("userMetadata")))
    return found


def local_log(lake: str) -> dict[int, bytes]:
    folder = Path(lake) / "silver" / "commit_proof" / "_delta_log"
    return {int(p.stem): p.read_bytes() for p in folder.glob("*.json") if p.stem.isdigit()}


def s3_log(endpoint: str) -> dict[int, bytes]:
    s3 = s3_client(endpoint)
    prefix = "single-driver/silver/commit_proof/_delta_log/"
    keys = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)["Contents"]
    return {
        int(Path(k["Key"]).stem): s3.get_object(Bucket=BUCKET, Key=k["Key"])["Body"].read()
        for k in keys
        if COMMIT_FILE.search("/" + k["Key"])
    }


def expected_authors() -> Counter[tuple[int, int, str]]:
    """Every commit each driver made: one write and one MERGE per round (by hand)."""
    return Counter(
        (driver, round_no, op)
        for driver in range(DRIVERS)
        for round_no in range(ROUNDS)
        for op in ("write", "merge")
    )


def authors(log: list[tuple[int, str | None]]) -> Counter[tuple[int, int, str]]:
    kept: Counter[tuple[int, int, str]] = Counter()
    for _, metadata in log:
        match = AUTHOR.fullmatch(metadata or "")
        if match:
            kept[(int(match[1]), int(match[2]), match[3])] += 1
    return kept


EXPECTED_ROWS = DRIVERS * ROUNDS * (LINES_PER_WRITE + 1)  # the lines, plus one total row


def test_with_put_if_absent_every_commit_of_every_driver_is_kept(committed: dict[str, Any]) -> None:
    log = commit_log(local_log(committed["local"]))
    versions = [version for version, _ in log]
    assert versions == list(range(len(versions)))  # no gap: no version lost or skipped
    assert authors(log) == expected_authors()  # each commit once: none overwritten
    rows = DeltaTable(f"{committed['local']}/silver/commit_proof")
    frame = rows.to_pandas()
    assert len(frame) == EXPECTED_ROWS
    totals = frame[frame["line_id"] == "total"]
    assert sorted(totals["store_id"].value_counts().tolist()) == [ROUNDS] * DRIVERS
    assert set(totals["amount"]) == {LINES_PER_WRITE}


def test_the_single_driver_log_store_on_s3_does_not_keep_every_commit_of_racing_drivers(
    committed: dict[str, Any], s3_endpoint: str
) -> None:
    """Two drivers that race for version N both pass S3SingleDriverLogStore's check that N is
    absent. Either the later PUT replaces the earlier commit, and a driver that saw no error
    has lost its commit; or a driver reads N while the other's PUT replaces it, S3A refuses the
    changed object (HTTP 412), and that commit fails. Both happen in one run or another."""
    log = commit_log(s3_log(s3_endpoint))
    failed = Counter((f["driver"], f["round"], f["op"]) for f in committed["s3_failures"])
    silently_lost = expected_authors() - failed - authors(log)
    assert sum(silently_lost.values()) + sum(failed.values()) > 0, (
        f"every commit kept in {len(log)} versions, none failed: the race never hit"
    )
    if not failed:  # every driver finished without an error, yet rows are gone
        table = f"s3://{BUCKET}/single-driver/silver/commit_proof"
        frame = DeltaTable(table, storage_options=aws_env(s3_endpoint)).to_pandas()
        assert len(frame) < EXPECTED_ROWS


def test_the_dynamodb_log_stores_sdk_calls_work_on_the_images_classpath(
    committed: dict[str, Any],
) -> None:
    """Driver 0's JVM, with the image's jar set, made S3DynamoDBLogStore's AWS SDK v1 calls
    against moto's DynamoDB (same endpoint): a missing or clashing SDK v1 class (its
    httpclient, Jackson and joda-time come from pyspark's jars) fails here, not in production.
    The claim of a version already claimed is refused by the condition the LogStore sends."""
    assert committed["dynamodb"] == {
        "describe": "ResourceNotFoundException",
        "table": "ACTIVE",
        "first_claim": "claimed",
        "second_claim": "ConditionalCheckFailedException",
        "sts": "AWSSecurityTokenServiceClientBuilder",
    }
