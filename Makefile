# The two commands the README starts with: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
UV := $(VENV)/bin/uv
PY := $(VENV)/bin/python
UV_VERSION := 0.13.9

.PHONY: run test lint typecheck schema-check migrations-check pytest install bench clean system-deps

# Create .venv with the locked dependencies (uv is bootstrapped inside it).
$(VENV)/.synced: pyproject.toml uv.lock cli/pyproject.toml formats/pyproject.toml
	@test -x $(UV) || ($(PYTHON) -m venv $(VENV) && $(VENV)/bin/pip install -q "uv==$(UV_VERSION)")
	UV_PYTHON=$(PY) $(UV) sync --frozen --inexact --quiet
	@touch $@

install: $(VENV)/.synced

run: install
	$(PY) -m datasharing.local_stack

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports --no-cache

typecheck: install
	$(VENV)/bin/mypy .
	$(VENV)/bin/mypy --config-file cli/pyproject.toml cli/src
	$(VENV)/bin/mypy --config-file formats/pyproject.toml formats/src

migrations-check: install
	$(PY) manage.py makemigrations --check --dry-run

schema-check: install
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

system-deps:
	@bash .ci/system-deps

# CI builds the test database afresh (a database kept from an earlier run could hold migrations
# that no longer exist); locally it is reused between runs for speed.
PYTEST_DB := $(if $(CI),--create-db,)

pytest: install system-deps
	$(PY) -m pytest $(PYTEST_DB) $(PYTEST_ARGS)

test: lint typecheck migrations-check schema-check pytest

bench: install
	$(PY) -m bench.run_all

clean:
	rm -rf $(VENV) var .mypy_cache .ruff_cache .pytest_cache
