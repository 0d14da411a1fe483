# RetailMax lakehouse pipelines. Quick start: `make demo`, then `make test`.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
JAR_CACHE := .cache/jars
DEMO_LANDING := data/landing
DEMO_LAKE := data/lake

.PHONY: setup demo test lint typecheck unit bench clean help

help:
	@echo "make setup  - create .venv, install the project and dev tools, fetch Delta's jars once"
	@echo "make demo   - setup, check the runtime, generate a small dataset, run the sales job"
	@echo "make test   - setup, ruff, mypy, pytest"
	@echo "make bench  - benchmarks (see benchmarks/README.md)"

# Re-installs only when pyproject.toml changes; the jar fetch is a no-op once cached.
setup: $(STAMP)
	@$(PY) -m jobs.jars fetch --dest $(JAR_CACHE) > /dev/null
	@$(PY) -m jobs.doctor || { \
	  echo "repairing pyspark (pyspark-client clash)"; \
	  $(PY) -m pip install -q --force-reinstall --no-deps pyspark==4.2.0 && $(PY) -m jobs.doctor; }

$(STAMP): pyproject.toml
	@command -v $(PYTHON) > /dev/null || { echo "$(PYTHON) is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools wheel
	$(PY) -m pip install -q -e '.[dev]'
	@touch $(STAMP)

demo: setup
	$(PY) -m jobs.doctor --spark
	rm -rf $(DEMO_LANDING)
	$(VENV)/bin/retailmax generate --stores 20 --days 3 --start 2024-03-04 \
	  --anomalies 0.002 --lines-per-store 2000 --landing $(DEMO_LANDING)
	rm -rf $(DEMO_LAKE)
	RETAILMAX_LANDING_ROOT=$(DEMO_LANDING) RETAILMAX_LAKE_ROOT=$(DEMO_LAKE) \
	  $(VENV)/bin/retailmax run sales --date 2024-03-04
	@echo "landing data: $(abspath $(DEMO_LANDING)) (manifest: $(DEMO_LANDING)/_manifest.json)"
	@echo "Delta tables: $(abspath $(DEMO_LAKE)) (e.g. gold/daily_store_sales)"

lint: setup
	$(VENV)/bin/ruff check jobs dags tests benchmarks
	$(VENV)/bin/ruff format --check jobs dags tests benchmarks

typecheck: setup
	$(VENV)/bin/mypy

unit: setup
	$(VENV)/bin/pytest

test: lint typecheck unit

bench: setup
	$(PY) -m benchmarks.generate
	$(PY) -m benchmarks.sales

clean:
	rm -rf data .pytest_cache .mypy_cache .ruff_cache
