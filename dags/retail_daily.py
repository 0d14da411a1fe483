"""Airflow DAG retail_daily: sales shards -> gold -> the daily sales report, per business day."""

from __future__ import annotations

from jobs.orchestration.dags import build_retail_daily
from jobs.settings import load_settings

dag = build_retail_daily(load_settings())
