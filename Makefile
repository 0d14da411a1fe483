# RetailMax lakehouse pipelines. Quick start: `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# uv installs the locked dependencies (uv.lock); it lives in its own small venv in .cache.
UV_VERSION := 0.13.9
UV_HOME := .cache/uv-$(UV_VERSION)
UV := $(UV_HOME)/bin/uv
JAR_CACHE := .cache/jars
DEMO_LANDING := data/landing
DEMO_LAKE := data/lake

.PHONY: setup k8s-tools demo airflow test test-quick lint typecheck unit bench clean help

help:
	@echo "make setup  - create .venv from uv.lock (the project, its dev tools), fetch Delta's jars once"
	@echo "make demo   - setup, generate 50 stores x 3 days, run retail_daily in Airflow, summary"
	@echo "make airflow - Airflow standalone with these DAGs on http://localhost:8080"
	@echo "make test   - setup, ruff, mypy, pytest"
	@echo "make test-quick - ruff, mypy, pytest without the slow and k8s tests (no API server)"
	@echo "make bench  - benchmarks (see benchmarks/README.md)"

# Re-installs only when pyproject.toml or uv.lock changes; the jar fetch is a no-op once cached.
# Debian's chromium and chromium-driver: the report test renders the daily page in them.
setup: $(STAMP)
	@$(PY) -m jobs.jars fetch --dest $(JAR_CACHE) > /dev/null
	@command -v chromium > /dev/null && command -v chromedriver > /dev/null || { \
	  echo "installing Debian's chromium and chromium-driver (the report's browser test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q > /dev/null && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium chromium-driver > /dev/null; }
	@$(PY) -m jobs.doctor || { \
	  echo "repairing pyspark (pyspark-client clash)"; \
	  $(UV) pip install -q --python $(PY) --reinstall --no-deps pyspark==4.2.0 && $(PY) -m jobs.doctor; }
	@$(PY) -m jobs.doctor --local-fs --class-archive

# .venv is exactly uv.lock (with the dev extra and this project, editable). uv's cache makes a
# fresh clone's install take about a second; it tries that offline first, then the registry.
# A .venv that pip built before uv.lock holds pyspark-client, whose removal would take
# pyspark's files with it: that venv is built again.
$(STAMP): pyproject.toml uv.lock | $(UV)
	@if ls -d $(VENV)/lib/python3*/site-packages/pyspark_client-* > /dev/null 2>&1; then \
	  echo "rebuilding $(VENV) (made by pip, with pyspark-client)"; rm -rf $(VENV); fi
	@export UV_PYTHON_DOWNLOADS=never; \
	  $(UV) sync -q --locked --extra dev --python $(PYTHON) --offline 2> /dev/null || \
	  $(UV) sync -q --locked --extra dev --python $(PYTHON)
	@touch $(STAMP)

$(UV):
	@command -v $(PYTHON) > /dev/null || { echo "$(PYTHON) is required"; exit 1; }
	$(PYTHON) -m venv $(UV_HOME)
	$(UV_HOME)/bin/python -m pip install -q uv==$(UV_VERSION)

# The main job: 50 stores x 3 days with anomalies, run day by day by real Airflow
# (`airflow dags test retail_daily D`, SQLite in .airflow/, local backend), then a summary.
demo: setup
	$(PY) -m jobs.doctor --spark
	rm -rf $(DEMO_LANDING) $(DEMO_LAKE)
	RETAILMAX_LANDING_ROOT=$(DEMO_LANDING) RETAILMAX_LAKE_ROOT=$(DEMO_LAKE) $(PY) -m jobs.orchestration.demo

# Airflow standalone on http://localhost:8080 with these DAGs (user admin; the password is in
# .airflow/simple_auth_manager_passwords.json.generated). Ctrl-C stops it.
airflow: setup
	RETAILMAX_LANDING_ROOT=$(DEMO_LANDING) RETAILMAX_LAKE_ROOT=$(DEMO_LAKE) $(PY) -m jobs.orchestration.local_airflow standalone

lint: setup
	$(VENV)/bin/ruff check jobs dags tests benchmarks
	$(VENV)/bin/ruff format --check jobs dags tests benchmarks

# mypy's cache is shared by every clone (~/.cache/retailmax/mypy): it checks each file's hash
# against its cache entry, so a fresh clone re-checks only what differs (20 s -> about 1 s).
MYPY_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/retailmax/mypy
typecheck: setup
	$(VENV)/bin/mypy --cache-dir $(MYPY_CACHE)

# The `k8s` tests' real API server: kube-apiserver and kine built once from the Go module proxy
# (3-10 minutes cold on 2 cores), cached in ~/.cache/retailmax/bin by version, then reused.
k8s-tools: setup
	@command -v go > /dev/null || { echo "make: the k8s tests need the Go toolchain (go on PATH)" \
	  "to build kube-apiserver, kine and kustomize from the Go module proxy; install Go" >&2; \
	  exit 1; }
	$(PY) -m tests.apiserver

# Two pytest-xdist workers, each with its own Spark session, each module on one worker (its
# module-scoped lakes are built once). `make unit TEST_WORKERS=0` runs in one process.
TEST_WORKERS ?= 2
PYTEST = $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadfile
unit: setup k8s-tools
	$(PYTEST)

test: lint typecheck unit

# A quicker lane beside `make test` (not instead of it: CI runs `make test`): ruff, mypy and
# every test but the `slow` ones (real Airflow runs, a driver per subprocess, the buckets) and
# the `k8s` ones (the real API server: no kube-apiserver or kine to build). Everything it
# leaves out runs in `make test`.
test-quick: lint typecheck
	$(PYTEST) -m "not slow and not k8s"

bench: setup
	$(PY) -m benchmarks.day
	$(PY) -m benchmarks.generate
	$(PY) -m benchmarks.sales
	$(PY) -m benchmarks.inventory
	$(PY) -m benchmarks.customers
	$(PY) -m benchmarks.promotions
	$(PY) -m benchmarks.layout
	$(PY) -m benchmarks.object_storage
	$(PY) -m benchmarks.local_fs
	$(PY) -m benchmarks.dag_parse

clean:
	rm -rf data .airflow .pytest_cache .mypy_cache .ruff_cache
