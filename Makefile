# The two commands a newcomer needs: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(abspath $(VENV))/bin
PORT ?= 5000
PYTEST_ARGS ?=
# `make test` runs the suite on pytest-xdist workers (tests/support/xdist.py: each has its own
# Redis database and PostgreSQL template). auto = one per CPU; PYTEST_WORKERS=0 runs serially.
PYTEST_WORKERS ?= auto

export FLASK_APP := wsgi
export PATH := $(BIN):$(PATH)

.PHONY: run test lint format bench migrate install system-deps bench-deps

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

system-deps:
	@.ci/system-deps

## run: migrate SQLite under instance/, create the admin user on first run, start everything
## (metrics of every process in a fresh directory per run unless PROMETHEUS_MULTIPROC_DIR is set)
run: install
	@mkdir -p instance
	flask db upgrade
	flask bootstrap
	MAILAPP_PORT=$(PORT) BASE_URL=$${BASE_URL:-http://127.0.0.1:$(PORT)} \
	  PROMETHEUS_MULTIPROC_DIR=$${PROMETHEUS_MULTIPROC_DIR:-$$(mktemp -d -t mailapp-metrics.XXXXXX)} \
	  honcho -f Procfile.dev start $(if $(REDIS_URL),,redis) smtp web worker scheduler

## test: the import contract, then throwaway Redis and PostgreSQL and the whole suite on
## SQLite and PostgreSQL
test: install system-deps
	lint-imports --no-cache
	python -m tests.support.servers -- python -m pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

## lint: ruff, and the layer contract in pyproject.toml ([tool.importlinter])
lint: install
	ruff check .
	ruff format --check .
	lint-imports --no-cache

format: install
	ruff format .
	ruff check --fix .

migrate: install
	flask db upgrade

bench-deps:
	@.ci/bench-deps

bench: install system-deps bench-deps
	@if ls bench/*.py >/dev/null 2>&1; then \
	  python -m tests.support.servers -- sh -c 'for b in bench/*.py; do python $$b || exit 1; done'; \
	else echo "no benchmarks yet"; fi
