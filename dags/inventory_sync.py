"""Airflow DAG inventory_sync: every few minutes, the stock movements of the interval."""

from __future__ import annotations

from jobs.orchestration.dags import build_inventory_sync
from jobs.settings import load_settings

dag = build_inventory_sync(load_settings())
