# batchcall: `make serve` runs the service on SQLite with the simulated provider; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install system-deps serve worker test test-fast bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

serve: install
	$(BIN)/batchcall serve

worker: install
	$(BIN)/batchcall worker

# What the tests need from the system besides PostgreSQL: a Redis server (rate limits shared by processes).
system-deps:
	@command -v redis-server >/dev/null || (apt-get update -qq && apt-get install -y -qq redis-server)

# One throw-away database per xdist worker and engine, so the workers never share state.
test: install system-deps
	$(BIN)/pytest -n auto

test-fast: install system-deps
	$(BIN)/pytest -n auto -m "not slow"

bench: install
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix src tests bench
	$(BIN)/ruff format src tests bench

clean:
	rm -rf $(VENV) batchcall.db batchcall.db-wal batchcall.db-shm
