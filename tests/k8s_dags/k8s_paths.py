"""Test DAGs k8s_paths and k8s_reattach (tests/k8s_paths.py), parsed by the kubernetes
tests' Airflow only."""

from __future__ import annotations

from jobs.settings import load_settings
from tests.k8s_paths import build_k8s_paths, build_k8s_reattach

settings = load_settings()
paths = build_k8s_paths(settings)
reattach = build_k8s_reattach(settings)
