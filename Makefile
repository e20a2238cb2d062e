# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

PIP    := $(BIN)/python -m pip --disable-pip-version-check
# The lock: uv.lock (every dependency's version and hashes), exported for pip to
# requirements/runtime.txt (the Docker image) and requirements/dev.txt (+ the dev extra).
EXPORT := $(BIN)/uv export --quiet --frozen --no-emit-project --group build

.PHONY: run test lint bench clean install schema readme-config lock upgrade

install: $(STAMP)

## Install exactly the locked versions (hashes checked), then docgraph itself, editable.
$(STAMP): pyproject.toml requirements/dev.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --only-binary :all: -r requirements/dev.txt
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

## Re-lock after editing pyproject.toml's dependencies (locked versions stay where they fit).
lock: $(STAMP)
	$(BIN)/uv lock
	$(EXPORT) -o requirements/runtime.txt
	$(EXPORT) --extra dev -o requirements/dev.txt

## Move every dependency to its newest version within pyproject.toml's ranges, then test.
upgrade: $(STAMP)
	$(BIN)/uv lock --upgrade
	$(EXPORT) -o requirements/runtime.txt
	$(EXPORT) --extra dev -o requirements/dev.txt
	$(MAKE) test

## Serve on http://127.0.0.1:8000 with embedded PostgreSQL and local storage.
run: $(STAMP)
	$(BIN)/docgraph dev

## The whole test suite against real PostgreSQL and a real S3-protocol server.
test: $(STAMP)
	scripts/install-system-deps
	$(BIN)/ruff check .
	$(BIN)/pytest

## Write the GraphQL schema to schema.graphql (a test checks it matches the code).
schema: $(STAMP)
	$(BIN)/docgraph schema > schema.graphql

## Rewrite README.md's configuration table from docgraph/config.py (a test checks it).
readme-config: $(STAMP)
	$(BIN)/docgraph config --readme README.md

## Load the service as production runs it and print the speed table (see bench/).
bench: $(STAMP)
	scripts/install-system-deps
	$(BIN)/python -m bench.run $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy docgraph bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
