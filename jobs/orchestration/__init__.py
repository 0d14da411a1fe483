"""Airflow orchestration: the DAG builders, the backend-aware operator factory and alerts.

`plan` and `reports`-style helpers import neither Airflow nor pyspark; `factory`, `dags` and
`alerts` import Airflow (never pyspark), so DAG files stay quick to parse.
"""
