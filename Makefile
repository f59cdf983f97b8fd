# Carebook — `make help` lists the targets. `make run` and `make test` are all a new user needs.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
# Two processes (the machine has 2 cores); each has its own database, so tests never meet.
PYTEST_ARGS ?= -n 2

.DEFAULT_GOAL := help
.PHONY: help install run test test-fast lint format bench migrate worker clean

help: ## Show this help
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "Carebook needs Python 3.11 or newer on PATH."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv and install Carebook with its dev tools

run: $(STAMP) ## Start Carebook (embedded PostgreSQL + Redis unless DATABASE_URL/REDIS_URL) with a demo clinic
	$(BIN)/carebook run

test: $(STAMP) ## Run the whole test suite (installs Debian's chromium for browser tests if missing)
	scripts/ensure_chromium.sh
	scripts/ensure_axe.sh
	$(BIN)/pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Run the tests without the browser and slow ones
	$(BIN)/pytest -m "not e2e and not slow" $(PYTEST_ARGS)

lint: $(STAMP) ## ruff check, ruff format --check, mypy src
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy src

format: $(STAMP) ## Format and autofix with ruff
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: $(STAMP) ## Run every benchmark in bench/ and print the figures
	@for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

migrate: $(STAMP) ## Migrate the platform schema and every clinic schema
	$(BIN)/carebook migrate

worker: $(STAMP) ## Run a Dramatiq worker
	$(BIN)/carebook worker

clean: ## Remove the virtualenv and local data (.carebook/)
	rm -rf $(VENV) .carebook test-artifacts
