"""The settings loader: both shipped conf files, env overrides, and each kind of bad conf."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from jobs.errors import ConfigError
from jobs.settings import load_settings, relocated_conf

PROJECT_ROOT = Path(__file__).resolve().parent.parent
VALID = """\
env: test
backend: local
paths:
  landing_root: landing
  lake_root: /abs/lake
  jar_cache: .cache/jars
spark:
  master: "local[2]"
  shuffle_partitions: 4
  jars: cache
sharding:
  stores_per_shard: 10
quality:
  max_reject_rate: 0.05
  max_missing_store_files: 0
orchestration:
  start_date: 2024-03-01
"""


def write_conf(tmp_path: Path, text: str, name: str = "test") -> Path:
    conf = tmp_path / "conf"
    conf.mkdir(exist_ok=True)
    (conf / f"{name}.yaml").write_text(text)
    return conf


def test_local_conf_is_the_embedded_default() -> None:
    settings = load_settings()
    assert settings.env == "local"
    assert settings.backend == "local"
    assert settings.spark.master == "local[*]"
    assert settings.lake_root == str(PROJECT_ROOT / "data" / "lake")
    assert settings.landing_root == str(PROJECT_ROOT / "data" / "landing")


def test_kubernetes_conf_downloads_nothing_and_sets_no_master(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETAILMAX_ENV", "kubernetes")
    settings = load_settings()
    assert settings.backend == "kubernetes"
    assert settings.spark.master is None
    assert settings.spark.jars == "image"
    assert settings.lake_root.startswith("s3a://")
    assert settings.kubernetes is not None


def test_env_vars_override_landing_and_lake_roots(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAILMAX_LANDING_ROOT", "/data/in")
    monkeypatch.setenv("RETAILMAX_LAKE_ROOT", "file:///data/lake")
    settings = load_settings("local")
    assert settings.landing_root == "/data/in"
    assert settings.lake_root == "file:///data/lake"


@pytest.mark.parametrize(
    "root", ["gs://bucket/lake", "abfss://lake@account.dfs.core.windows.net/x", "s3://bucket/lake"]
)
def test_object_storage_other_than_s3a_is_refused_in_one_line(
    monkeypatch: pytest.MonkeyPatch, root: str
) -> None:
    monkeypatch.setenv("RETAILMAX_LAKE_ROOT", root)
    with pytest.raises(ConfigError) as raised:
        load_settings("local")
    message = str(raised.value)
    assert "\n" not in message
    assert f"{root}: only local paths and s3a:// object storage are supported" in message


def test_an_s3_lake_override_needs_the_multi_driver_log_store(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("RETAILMAX_LAKE_ROOT", "s3a://bucket/lake")
    with pytest.raises(ConfigError) as raised:
        load_settings("local")  # the local conf names no S3 LogStore
    message = str(raised.value)
    assert "\n" not in message
    assert message.endswith(
        "lake_root s3a://bucket/lake is on S3, where shards commit to the same Delta tables "
        "from many drivers: set spark.conf spark.delta.logStore.s3a.impl: "
        "io.delta.storage.S3DynamoDBLogStore (got None; the default S3 LogStore is safe for one "
        "driver only)"
    )


def test_relative_paths_resolve_against_the_conf_folders_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RETAILMAX_CONF_DIR", str(write_conf(tmp_path, VALID)))
    settings = load_settings("test")
    assert settings.landing_root == str(tmp_path / "landing")
    assert settings.lake_root == "/abs/lake"


def test_a_relocated_conf_still_finds_the_checkouts_jars_and_builds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A copy of conf/local.yaml written elsewhere would resolve its relative paths against
    the copy's folder; relocated_conf's copy points at this checkout's (PROJECT_ROOT/.cache)."""
    conf_dir = tmp_path / "elsewhere" / "conf"
    conf_dir.mkdir(parents=True)
    conf = relocated_conf("local", tmp_path / "landing", tmp_path / "lake")
    (conf_dir / "local.yaml").write_text(yaml.safe_dump(conf))
    monkeypatch.setenv("RETAILMAX_CONF_DIR", str(conf_dir))
    settings = load_settings("local")
    cache = PROJECT_ROOT / ".cache"
    assert settings.paths.jar_cache == str(cache / "jars")
    assert settings.spark.class_archive == str(cache / "spark-classes.jsa")
    assert settings.spark.local_fs_jar == str(cache / "retailmax-local-fs.jar")
    assert settings.landing_root == str(tmp_path / "landing")
    assert settings.lake_root == str(tmp_path / "lake")
    assert "class_archive" not in relocated_conf("kubernetes", "s3a://l", "s3a://k")["spark"]


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t + "colour: blue\n", "unknown key 'colour'"),
        (
            lambda t: t.replace(
                "  shuffle_partitions: 4\n", "  shuffle_partitions: 4\n  shufle: 1\n"
            ),
            "unknown key 'spark.shufle'",
        ),
        (lambda t: t.replace("  lake_root: /abs/lake\n", ""), "paths.lake_root: missing value"),
        (
            lambda t: t.replace("shuffle_partitions: 4", "shuffle_partitions: four"),
            "spark.shuffle_partitions: input should be a valid integer (got 'four')",
        ),
        (
            lambda t: t.replace("stores_per_shard: 10", "stores_per_shard: 0"),
            "sharding.stores_per_shard: input should be greater than 0 (got 0)",
        ),
        (
            lambda t: t.replace("jars: cache", "jars: maven"),
            "spark.jars: input should be 'cache' or 'image' (got 'maven')",
        ),
        (
            lambda t: t.replace("backend: local", "backend: kubernetes"),
            "kubernetes: missing value (required when backend is kubernetes)",
        ),
        (lambda t: t + "  bad: [\n", "is not valid YAML"),
    ],
    ids=[
        "unknown-top",
        "unknown-nested",
        "missing",
        "bad-int",
        "range",
        "bad-choice",
        "missing-section",
        "yaml",
    ],
)
def test_bad_conf_fails_with_one_line_naming_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, edit, message: str
) -> None:
    monkeypatch.setenv("RETAILMAX_CONF_DIR", str(write_conf(tmp_path, edit(VALID))))
    with pytest.raises(ConfigError) as caught:
        load_settings("test")
    text = str(caught.value)
    assert message in text
    assert "\n" not in text
    assert text.startswith(str(tmp_path / "conf" / "test.yaml"))


def test_unknown_environment_lists_the_known_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RETAILMAX_ENV", "staging")
    with pytest.raises(ConfigError, match=r"no conf file for environment 'staging'.*'kubernetes'"):
        load_settings()
