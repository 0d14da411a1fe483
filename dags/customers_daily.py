"""Airflow DAG customers_daily: CRM, loyalty and consents -> the customer base, daily."""

from __future__ import annotations

from jobs.orchestration.dags import build_customers_daily
from jobs.settings import load_settings

dag = build_customers_daily(load_settings())
