# batchcall: `make serve` runs the service on SQLite with the simulated provider; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# What is installed: the service alone (pyproject `dependencies`), or with the dev tools (the `dev` extra).
SERVE_STAMP := $(VENV)/.installed-serve
DEV_STAMP := $(VENV)/.installed-dev

.PHONY: install install-dev system-deps serve worker test test-fast bench lint format clean

install: $(SERVE_STAMP)

install-dev: $(DEV_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(SERVE_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

# The dev extra holds everything serving needs too.
$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(SERVE_STAMP)

serve: install
	$(BIN)/batchcall serve

worker: install
	$(BIN)/batchcall worker

# What the tests need from the system besides PostgreSQL: a Redis server (rate limits shared by processes).
system-deps:
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)

# One throw-away database per xdist worker and engine, so the workers never share state.
test: install-dev system-deps
	$(BIN)/pytest -n auto

test-fast: install-dev system-deps
	$(BIN)/pytest -n auto -m "not slow"

bench: install
	$(BIN)/python -m bench

lint: install-dev
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy

format: install-dev
	$(BIN)/ruff check --fix src tests bench examples
	$(BIN)/ruff format src tests bench examples

clean:
	rm -rf $(VENV) batchcall.db batchcall.db-wal batchcall.db-shm
