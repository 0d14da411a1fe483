"""Typed settings: one YAML file per environment under conf/, chosen by RETAILMAX_ENV."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from jobs.errors import ConfigError

ENV_VAR = "RETAILMAX_ENV"
CONF_DIR_VAR = "RETAILMAX_CONF_DIR"
LANDING_ROOT_VAR = "RETAILMAX_LANDING_ROOT"
LAKE_ROOT_VAR = "RETAILMAX_LAKE_ROOT"
DEFAULT_ENV = "local"
S3_SCHEMES = ("s3", "s3a", "s3n")
SUPPORTED_SCHEMES = ("", "file", "s3a")  # local disk, and S3 through hadoop-aws's S3A
# Delta LogStores that keep commits atomic when several drivers write one table on S3.
MULTI_DRIVER_S3_LOG_STORES = ("io.delta.storage.S3DynamoDBLogStore",)
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class _Strict(BaseModel):
    """Unknown keys and wrong types are errors, not silently ignored or coerced."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class PathSettings(_Strict):
    """Where the landing zone, the lake (reports and feeds included) and the jar cache are."""

    landing_root: str
    lake_root: str
    jar_cache: str

    @field_validator("landing_root", "lake_root")
    @classmethod
    def _supported_storage(cls, root: str) -> str:
        """A local path or s3a://: the only object storage the image has a connector for."""
        scheme = root.split("://", 1)[0].lower() if "://" in root else ""
        if scheme not in SUPPORTED_SCHEMES:
            raise ValueError(
                f"{root}: only local paths and s3a:// object storage are supported "
                f"(the image has no {scheme}:// connector; for S3 write s3a://)"
            )
        return root


class SparkSettings(_Strict):
    """What the one session factory needs; `conf` entries override everything else."""

    master: str | None
    app_name: str = "retailmax"
    shuffle_partitions: int = Field(gt=0)
    driver_memory: str = "2g"
    ui_enabled: bool = False
    jars: Literal["cache", "image"]
    # Extra options of the driver's JVM, added to the UTC time zone the factory always sets.
    driver_java_options: list[str] = Field(default_factory=list)
    # A class-data archive of Spark's classes (`make setup` writes it once): when the file
    # exists the driver JVM maps it instead of loading and verifying the classes one by one.
    class_archive: str | None = None
    # Local only: the jar `make setup` compiles from jobs/jvm, Hadoop's local file system
    # without a `chmod`/`readlink` child process per file (jobs/local_fs.py). Used when the
    # file exists; without it, Hadoop's own local file system.
    local_fs_jar: str | None = None
    # The local backend: "warm" runs every task's job in one driver process per conf and code
    # (jobs/warm_driver.py), "submit" a spark-submit per task. The kubernetes backend ignores it.
    local_driver: Literal["warm", "submit"] = "submit"
    # The warm driver's JVM options in place of driver_java_options: it lives for a DAG run,
    # long enough for the JIT's C2 tier to pay (a day of `make demo`: 79-82 s with, 91-94 s
    # with C1 only; docs/performance.md).
    warm_java_options: list[str] = Field(default_factory=list)
    # A warm driver without a run for this long stops (its JVM's memory is given back).
    warm_idle_minutes: int = Field(default=20, gt=0)
    conf: dict[str, str] = Field(default_factory=dict)


class ShardingSettings(_Strict):
    """How many stores one shard (one Spark application) processes."""

    stores_per_shard: int = Field(gt=0)


class QualitySettings(_Strict):
    """Data-quality gate thresholds: a breach fails the run after all valid data is written."""

    max_reject_rate: float = Field(ge=0, le=1)
    max_missing_store_files: int = Field(ge=0)


class PodResources(_Strict):
    """Resources of one Spark driver or executor pod."""

    cores: int = Field(gt=0)
    memory: str
    instances: int = Field(default=1, gt=0)


class DynamicAllocation(_Strict):
    """Executor bounds of one application (Spark dynamic allocation with shuffle tracking)."""

    min_executors: int = Field(default=1, gt=0)
    max_executors: int = Field(default=4, gt=0)


class JobResources(_Strict):
    """A job's own pod sizes; what is not given comes from the kubernetes section."""

    driver: PodResources | None = None
    executor: PodResources | None = None
    dynamic_allocation: DynamicAllocation | None = None


class KubernetesSettings(_Strict):
    """Where and how SparkApplications run in production."""

    namespace: str
    connection_id: str
    image: str
    service_account: str
    driver: PodResources
    executor: PodResources
    dynamic_allocation: DynamicAllocation = Field(default_factory=DynamicAllocation)
    jobs: dict[str, JobResources] = Field(default_factory=dict)
    # The Spark Operator deletes a finished application (and its pods) after this long.
    time_to_live_seconds: int = Field(default=86400, gt=0)
    # Spark event logs for the History Server (object storage).
    event_log_dir: str
    # The Kubernetes Secret with the object-storage credentials (keys below), read by the pods
    # through secretKeyRef; null when the pods use workload identity instead.
    credentials_secret: str | None = None
    # The Secret (key `salt`) the customers driver reads RETAILMAX_PII_SALT from.
    pii_salt_secret: str = "retailmax-pii-salt"
    prometheus_port: int = Field(default=8090, gt=0)

    def resources(self, job: str) -> tuple[PodResources, PodResources, DynamicAllocation]:
        """Driver, executor and executor bounds of one job."""
        own = self.jobs.get(job, JobResources())
        return (
            own.driver or self.driver,
            own.executor or self.executor,
            own.dynamic_allocation or self.dynamic_allocation,
        )


class OrchestrationSettings(_Strict):
    """How Airflow schedules the jobs: the same for both backends."""

    start_date: date
    # Optional last logical date: bounds catchup (the local conf stops at the demo's days).
    end_date: date | None = None
    catchup: bool = True
    max_active_runs: int = Field(default=1, gt=0)
    # Caps the Spark applications running at once, whatever the DAG or the shard count.
    pool: str = "retailmax_spark"
    pool_slots: int = Field(default=2, gt=0)
    retries: int = Field(default=2, ge=0)
    retry_delay_seconds: int = Field(default=120, gt=0)
    retry_backoff: float = Field(default=2.0, ge=0)  # multiplier between retries
    max_retry_delay_seconds: int = Field(default=1800, gt=0)
    execution_timeout_minutes: int = Field(default=90, gt=0)
    inventory_sync_minutes: int = Field(default=15, gt=0)
    maintenance_schedule: str = "@weekly"
    vacuum_retention_hours: int = Field(default=168, ge=0)
    optimize_days: int = Field(default=7, gt=0)  # OPTIMIZE rewrites this many recent days
    # local backend: the Spark connection SparkSubmitOperator uses (master local[*]).
    spark_conn_id: str = "retailmax_spark_local"


class InventorySettings(_Strict):
    """What the web site may sell and when a location should reorder."""

    # Units per SKU held back from the web site, whatever the warehouse stock; by category
    # where a category needs more (fresh food, fast sellers).
    safety_stock_units: int = Field(default=2, ge=0)
    safety_stock_by_category: dict[str, int] = Field(default_factory=dict)
    # Order exports read for open reservations (an order placed yesterday may still be open).
    reservation_lookback_days: int = Field(default=2, gt=0)
    # Replenishment: sales velocity over this many days up to the run date ...
    velocity_days: int = Field(default=28, gt=0)
    # ... reorder when on hand covers less than lead time + safety days of sales,
    lead_time_days: int = Field(default=3, ge=0)
    safety_days: int = Field(default=2, ge=0)
    # ... and order up to that cover plus one review period.
    review_days: int = Field(default=7, gt=0)


CUSTOMER_SOURCES = ("crm", "loyalty")
CUSTOMER_ATTRIBUTES = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "postcode",
    "city",
    "birth_date",
    "home_store_id",
)


class CustomerSettings(_Strict):
    """How the customer base is built from its sources."""

    # Per attribute, the sources in order of trust; among records of the same source (or
    # when no trusted source has a value) the most recently updated non-null value wins.
    survivorship: dict[str, list[str]] = Field(
        default_factory=lambda: {attribute: ["crm", "loyalty"] for attribute in CUSTOMER_ATTRIBUTES}
    )
    # customers-erase vacuums the tables it changed keeping this many hours of old files: 0
    # means no earlier version can read the erased values once the request is done.
    erasure_vacuum_retention_hours: float = Field(default=0.0, ge=0.0)

    @model_validator(mode="after")
    def _known_names(self) -> CustomerSettings:
        for attribute, sources in self.survivorship.items():
            if attribute not in CUSTOMER_ATTRIBUTES:
                raise ValueError(
                    f"survivorship: unknown attribute '{attribute}' "
                    f"(known: {', '.join(CUSTOMER_ATTRIBUTES)})"
                )
            unknown = sorted(set(sources) - set(CUSTOMER_SOURCES))
            if unknown:
                raise ValueError(
                    f"survivorship.{attribute}: unknown source {unknown} "
                    f"(known: {', '.join(CUSTOMER_SOURCES)})"
                )
        return self


class MarkdownTier(_Strict):
    """A promotion candidate whose stock cover exceeds this many days gets this markdown."""

    cover_days_over: float = Field(gt=0)
    markdown_pct: int = Field(gt=0, lt=100, multiple_of=5)


class PromotionSettings(_Strict):
    """Promotion candidates and the daily sales report."""

    # A slow mover is a candidate when its stock covers more than this many days of sales at
    # its 28-day pace (or it sold nothing in 28 days) ...
    min_cover_days: float = Field(default=60.0, gt=0)
    # ... and a markdown of at least 5 % still leaves this margin on the marked-down price.
    min_margin_pct: float = Field(default=0.15, ge=0, lt=1)
    # The markdown suggested by cover (the highest tier exceeded; no sales = the highest tier),
    # capped by the margin rule, in 5-point steps.
    markdown_tiers: list[MarkdownTier] = Field(
        default_factory=lambda: [
            MarkdownTier(cover_days_over=60, markdown_pct=10),
            MarkdownTier(cover_days_over=90, markdown_pct=20),
            MarkdownTier(cover_days_over=120, markdown_pct=30),
        ]
    )
    # Candidates kept per store and category, the largest stock value beyond min_cover_days
    # first (a merchandiser acts on a short list, not on every slow SKU).
    candidates_per_store_category: int = Field(default=3, gt=0)
    # The daily report's top and bottom stores: this many each.
    report_stores_shown: int = Field(default=5, gt=0)
    # The daily report's promotion candidates of the whole chain: this many, largest first.
    report_candidates_shown: int = Field(default=10, gt=0)

    @model_validator(mode="after")
    def _tiers_start_at_the_threshold(self) -> PromotionSettings:
        lowest = min((tier.cover_days_over for tier in self.markdown_tiers), default=None)
        if lowest != self.min_cover_days:
            raise ValueError(
                f"markdown_tiers: the lowest cover_days_over ({lowest}) must equal "
                f"min_cover_days ({self.min_cover_days}), so every candidate gets a markdown"
            )
        return self


class AlertSettings(_Strict):
    """Where failure alerts go: e-mail through an SMTP connection, and a webhook connection."""

    email_to: list[str] = Field(default_factory=list)
    email_from: str = "airflow@retailmax.example"
    smtp_conn_id: str = "retailmax_smtp"
    # An Airflow connection whose host is the full URL (Slack/Teams incoming webhook).
    webhook_conn_id: str | None = "retailmax_alert_webhook"


class Settings(_Strict):
    """All settings of one environment."""

    env: str
    backend: Literal["local", "kubernetes"]
    paths: PathSettings
    spark: SparkSettings
    sharding: ShardingSettings
    quality: QualitySettings
    orchestration: OrchestrationSettings
    alerts: AlertSettings = Field(default_factory=AlertSettings)
    inventory: InventorySettings = Field(default_factory=InventorySettings)
    customers: CustomerSettings = Field(default_factory=CustomerSettings)
    promotions: PromotionSettings = Field(default_factory=PromotionSettings)
    kubernetes: KubernetesSettings | None = None

    @model_validator(mode="after")
    def _s3_needs_a_coordinated_log_store(self) -> Settings:
        """Many drivers commit to the same tables; on S3 only a coordinated LogStore is safe."""
        scheme = self.paths.lake_root.split("://", 1)[0] if "://" in self.paths.lake_root else ""
        if scheme in S3_SCHEMES:
            key = f"spark.delta.logStore.{scheme}.impl"
            if self.spark.conf.get(key) not in MULTI_DRIVER_S3_LOG_STORES:
                raise ValueError(
                    f"lake_root {self.paths.lake_root} is on S3, where shards commit to the same "
                    f"Delta tables from many drivers: set spark.conf {key}: "
                    f"{MULTI_DRIVER_S3_LOG_STORES[0]} (got {self.spark.conf.get(key)!r}; "
                    "the default S3 LogStore is safe for one driver only)"
                )
            table_key = "spark.io.delta.storage.S3DynamoDBLogStore.ddb.tableName"
            if not self.spark.conf.get(table_key):
                raise ValueError(f"S3DynamoDBLogStore needs spark.conf {table_key}")
        return self

    @property
    def landing_root(self) -> str:
        """The landing zone root (a local path or a URI)."""
        return self.paths.landing_root

    @property
    def lake_root(self) -> str:
        """The lake root (a local path or a URI)."""
        return self.paths.lake_root


def conf_dir() -> Path:
    """The conf folder: RETAILMAX_CONF_DIR, else ./conf, else the project's own conf/."""
    if override := os.environ.get(CONF_DIR_VAR):
        return Path(override)
    cwd_conf = Path.cwd() / "conf"
    return cwd_conf if cwd_conf.is_dir() else PROJECT_ROOT / "conf"


def load_settings(env: str | None = None) -> Settings:
    """Loads conf/<env>.yaml (env defaults to RETAILMAX_ENV, then `local`) and applies overrides."""
    env_name = env or os.environ.get(ENV_VAR) or DEFAULT_ENV
    path = conf_dir() / f"{env_name}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in path.parent.glob("*.yaml"))
        raise ConfigError(f"no conf file for environment '{env_name}': {path} (known: {known})")
    raw = _read_yaml(path)
    raw = _apply_env_overrides(raw)
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {_first_error(exc)}") from None
    if settings.backend == "kubernetes" and settings.kubernetes is None:
        raise ConfigError(
            f"{path}: kubernetes: missing value (required when backend is kubernetes)"
        )
    return _resolve_relative_paths(settings, base=path.parent.parent)


def relocated_conf(env: str, landing: str | Path, lake: str | Path) -> dict[str, Any]:
    """This project's conf/<env>.yaml as a dict, with its roots set to landing and lake, and
    the paths into this checkout made absolute: the jar cache and what `make setup` builds
    (the class archive, the local file system's jar), as conf/local.yaml names them. Such a
    copy can be changed and written to any conf folder (RETAILMAX_CONF_DIR) and still finds
    them, where relative paths would resolve against the copy's folder."""
    conf = _read_yaml(PROJECT_ROOT / "conf" / f"{env}.yaml")
    local = Settings.model_validate(_read_yaml(PROJECT_ROOT / "conf" / "local.yaml"))
    local = _resolve_relative_paths(local, base=PROJECT_ROOT)
    conf["paths"] = {
        "landing_root": str(landing),
        "lake_root": str(lake),
        "jar_cache": local.paths.jar_cache,
    }
    for built in ("class_archive", "local_fs_jar"):
        if conf["spark"].get(built):
            conf["spark"][built] = getattr(local.spark, built)
    return conf


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{path}:{where} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return data


def _apply_env_overrides(raw: dict[str, Any]) -> dict[str, Any]:
    paths = raw.get("paths")
    if not isinstance(paths, dict):
        return raw
    overrides = {
        "landing_root": os.environ.get(LANDING_ROOT_VAR),
        "lake_root": os.environ.get(LAKE_ROOT_VAR),
    }
    merged = {**paths, **{key: value for key, value in overrides.items() if value}}
    return {**raw, "paths": merged}


def _first_error(exc: ValidationError) -> str:
    """One line: the dotted key, what is wrong, and how many other problems there are."""
    errors = exc.errors()
    first = errors[0]
    key = ".".join(str(part) for part in first["loc"])
    kind = first["type"]
    if kind == "extra_forbidden":
        message = f"unknown key '{key}'"
    elif kind == "value_error" and not key:  # a rule across keys (a model validator)
        message = str(first["msg"]).removeprefix("Value error, ")
    elif kind == "missing":
        message = f"{key}: missing value"
    else:
        message = f"{key}: {first['msg'].lower()} (got {first.get('input')!r})"
    more = len(errors) - 1
    return message + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


def _is_uri(value: str) -> bool:
    return "://" in value


def _resolve_relative_paths(settings: Settings, base: Path) -> Settings:
    resolved = {
        name: value
        if _is_uri(value) or Path(value).is_absolute()
        else str((base / value).resolve())
        for name, value in settings.paths.model_dump().items()
    }
    spark = settings.spark
    for name in ("class_archive", "local_fs_jar"):
        value = getattr(spark, name)
        if value and not Path(value).is_absolute():
            spark = spark.model_copy(update={name: str((base / value).resolve())})
    return settings.model_copy(update={"paths": PathSettings(**resolved), "spark": spark})
