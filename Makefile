# The two commands a newcomer needs: `make run` and `make test`. See README.md.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test install install-dev lint format typecheck migrations-check ci clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

# Re-install only when the dependency list changes.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## Start the whole app on the embedded default (SQLite, file broker): web, worker and beat.
run: install
	PORT=$(PORT) scripts/run.sh

## Run the whole suite on a throwaway PostgreSQL and Redis started for the run.
test: install-dev
	$(BIN)/python scripts/run_tests.py $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install-dev
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

typecheck: install-dev
	DEBUG=1 $(BIN)/mypy .

migrations-check: install-dev
	DEBUG=1 $(BIN)/python manage.py makemigrations --check --dry-run

ci: test lint typecheck migrations-check

clean:
	rm -rf var .mypy_cache .ruff_cache .pytest_cache
