# Leadloop: `make demo` to try it, `make test` to check it. Both need only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_LEADS ?= 20000
PYTEST_ARGS ?=

.PHONY: install demo serve test lint typecheck check ci clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null || { \
	  echo "Leadloop needs Python 3.11 or newer; '$(PYTHON)' is $$($(PYTHON) --version 2>&1 || echo missing)."; \
	  echo "Run again with PYTHON=/path/to/python3.11 (or newer)."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/leadloop migrate --no-input
	$(BIN)/leadloop demo --leads $(DEMO_LEADS) --if-empty
	$(BIN)/leadloop demo_users --url http://$(HOST):$(PORT)/
	@echo "Serving on http://$(HOST):$(PORT)/ with a background worker and the scheduler (routing, SLA sweeps, webhooks, rescoring); Ctrl-C stops all three."
	@LEADLOOP_EMAIL=console $(BIN)/leadloop worker >var/worker.log 2>&1 & worker=$$!; \
	  $(BIN)/leadloop scheduler >var/scheduler.log 2>&1 & scheduler=$$!; \
	  trap 'kill $$worker $$scheduler 2>/dev/null' EXIT INT TERM; \
	  $(BIN)/leadloop runserver $(HOST):$(PORT)

serve: install
	$(BIN)/leadloop runserver $(HOST):$(PORT)

test: install
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check src tests $(wildcard benchmarks)
	$(BIN)/ruff format --check src tests $(wildcard benchmarks)

typecheck: install
	$(BIN)/mypy

check: lint typecheck
	$(BIN)/leadloop makemigrations --check --dry-run

# What CI runs: PostgreSQL, Redis and Chromium from Debian, then check + tests on SQLite and PostgreSQL.
ci:
	bash .ci/run

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
