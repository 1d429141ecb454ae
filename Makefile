# Two commands matter: `make run` (everything, embedded, demo data) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
export PATROL_DATA_DIR ?= ./var

.PHONY: install run test bench lint format clean

install:
	@bash infra/bootstrap.sh

run: install
	$(BIN)/patrol serve

test: install
	$(BIN)/pytest -q

bench: install
	$(BIN)/python -m tests.benchmarks

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict api infra patrol geofence evidence sync mobile_contract
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache
