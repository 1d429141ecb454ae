# Two commands matter: `make run` (everything, embedded, demo data) and `make test`.
VENV ?= .venv
BIN := $(VENV)/bin
export PATROL_DATA_DIR ?= ./var

.PHONY: install run test test-browser bench lint format clean mutate mutate-report mutate-show

install:
	@bash infra/bootstrap.sh

run: install
	$(BIN)/patrol serve

test: install
	$(BIN)/pytest -q

# the web console in headless chromium (part of `make test`: tests/console)
test-browser: install
	$(BIN)/pytest -q tests/console

bench: install
	$(BIN)/python -m tests.benchmarks

# Mutation score of the rule modules (tests/mutation.py); one module: make mutate MODULE=patrol/coverage.py
# (several: MODULE="sync/push.py sync/pull.py"); modules run at once: MUTATE_JOBS=2, mutants
# of one module tested at once: MUTATE_CHILDREN=1
MODULE ?=
MUTATE_JOBS ?= 2
MUTATE_CHILDREN ?= 1
mutate: install
	$(BIN)/python -m tests.mutation run --jobs $(MUTATE_JOBS) --max-children $(MUTATE_CHILDREN) $(MODULE)

mutate-report: install
	$(BIN)/python -m tests.mutation report $(MODULE)

mutate-show: install
	$(BIN)/python -m tests.mutation show '$(MUTANT)'

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict api infra patrol geofence evidence sync mobile_contract
	$(BIN)/lint-imports --no-cache

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf .mypy_cache .ruff_cache .pytest_cache .mutation mutants api/console/dist
