"""Airflow DAG maintenance: weekly OPTIMIZE and VACUUM of the lake tables."""

from __future__ import annotations

from jobs.orchestration.dags import build_maintenance
from jobs.settings import load_settings

dag = build_maintenance(load_settings())
