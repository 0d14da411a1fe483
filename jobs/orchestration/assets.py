"""Airflow Assets for the lake's tables, so downstream work can follow a table update.

A job step's outlets are the tables its JobSpec writes (jobs/registry.py), named as their
TableSpecs are, plus the files it writes that are not tables (the report).
"""

from __future__ import annotations

from airflow.sdk import Asset

from jobs.orchestration.plan import arrow_uri
from jobs.registry import JOBS
from jobs.settings import Settings


def asset_uri(root: str, *parts: str) -> str:
    """A URI Airflow accepts: file:// for local paths, s3:// for Spark's s3a://."""
    path = arrow_uri("/".join([root.rstrip("/"), *parts]))
    return path if "://" in path else f"file://{path}"


def table_asset(settings: Settings, table: str) -> Asset:
    """`silver.sales_lines` -> Asset named so, at `<lake_root>/silver/sales_lines`."""
    layer, name = table.split(".", 1)
    return Asset(name=table, uri=asset_uri(settings.lake_root, layer, name), group="retailmax")


def job_outlets(settings: Settings, job: str) -> list[Asset]:
    """The assets a job step updates: its spec's tables, then its files."""
    spec = JOBS[job]
    tables = [table_asset(settings, table) for table in spec.writes]
    files = [
        Asset(name=out.asset, uri=asset_uri(settings.lake_root, out.path), group="retailmax")
        for out in spec.files
    ]
    return tables + files
