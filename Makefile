# Everything a person types. `make demo` and `make test` work on a fresh machine with
# Python 3.11 and nothing else: dependencies go into .venv, PostgreSQL is embedded.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev

.PHONY: venv demo up test lint bench clean

venv: $(VENV)/.installed-$(EXTRAS)

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

demo: venv  ## start on embedded defaults and walk through the registry
	$(VENV)/bin/harness demo

up: venv  ## the registry on http://127.0.0.1:8000 (API docs at /docs)
	$(VENV)/bin/harness up

test: venv  ## the whole test suite (HARNESS_TEST_DATABASE_URL selects a PostgreSQL)
	$(PY) -m pytest -q

lint: venv
	$(VENV)/bin/ruff check .

bench: venv  ## benchmarks, JSON on stdout
	$(PY) bench/registry.py

clean:
	rm -rf $(VENV) .harness .pytest_cache .ruff_cache
