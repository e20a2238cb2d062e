# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test lint bench clean install schema readme-config

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

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
