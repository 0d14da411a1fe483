"""Which shards a date's run maps over: stores.csv plus the POS folders that arrived.

Light on purpose: it runs inside an Airflow task, so it reads with pyarrow, not Spark.
"""

from __future__ import annotations

import re
from datetime import date

import pyarrow.csv as pa_csv
import pyarrow.fs as pa_fs

from jobs.selection import describe, shard_ranges
from jobs.settings import Settings

_STORE_FOLDER = re.compile(r"^store_id=(\d+)$")


def arrow_uri(uri_or_path: str) -> str:
    """The same location for non-Spark readers: Spark's s3a:// is s3:// to pyarrow and delta-rs."""
    if uri_or_path.startswith("s3a://"):
        return "s3://" + uri_or_path.removeprefix("s3a://")
    return uri_or_path


def table_uri(lake_root: str, table: str) -> str:
    """`silver.sales_lines` -> `<lake_root>/silver/sales_lines`, for non-Spark readers."""
    layer, name = table.split(".", 1)
    return arrow_uri(f"{lake_root.rstrip('/')}/{layer}/{name}")


def filesystem(uri_or_path: str) -> tuple[pa_fs.FileSystem, str]:
    """A pyarrow filesystem and the path in it."""
    uri_or_path = arrow_uri(uri_or_path)
    if "://" not in uri_or_path:
        return pa_fs.LocalFileSystem(), uri_or_path
    fs, path = pa_fs.FileSystem.from_uri(uri_or_path)
    return fs, path


def known_store_ids(landing_root: str) -> list[int]:
    """The store ids of reference/stores.csv."""
    fs, root = filesystem(landing_root)
    with fs.open_input_stream(f"{root}/reference/stores.csv") as stream:
        table = pa_csv.read_csv(  # RFC 4180: a quoted field may hold a line break
            stream,
            parse_options=pa_csv.ParseOptions(newlines_in_values=True),
            convert_options=pa_csv.ConvertOptions(include_columns=["store_id"]),
        )
    return sorted(int(value) for value in table.column("store_id").to_pylist() if value is not None)


def pos_store_folders(landing_root: str, run_date: date) -> list[int]:
    """Stores that sent POS files for the date (`pos/sale_date=D/store_id=N/`)."""
    fs, root = filesystem(landing_root)
    selector = pa_fs.FileSelector(f"{root}/pos/sale_date={run_date}", allow_not_found=True)
    found = []
    for info in fs.get_file_info(selector):
        match = _STORE_FOLDER.match(info.base_name)
        if info.type == pa_fs.FileType.Directory and match:
            found.append(int(match.group(1)))
    return sorted(found)


def store_shards(settings: Settings, run_date: date) -> list[str]:
    """Store ranges such as `1-25`, one per mapped task; the same stores a whole-date run sees."""
    stores = set(known_store_ids(settings.landing_root)) | set(
        pos_store_folders(settings.landing_root, run_date)
    )
    return [
        describe(shard)
        for shard in shard_ranges(sorted(stores), settings.sharding.stores_per_shard)
    ]


def job_arguments(job: str, run_date: date | str, stores: str | None = None) -> list[str]:
    """The `retailmax` arguments of one task: the same on both backends."""
    arguments = ["run", job, "--date", str(run_date)]
    return [*arguments, "--stores", stores] if stores else arguments
