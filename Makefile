# Everything a person types. `make demo` and `make test` work on a fresh machine with
# Python 3.11 and nothing else: dependencies go into .venv, PostgreSQL is embedded.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
EXTRAS ?= dev
# `make test` needs the offline embedding model (torch); `make demo` does not
TEST_EXTRAS ?= dev,embeddings,gcp,scorer,gateway,generator,studio
TORCH_SPEC ?= torch==2.13.0

.PHONY: venv demo up studio observe test lint bench clean stack stack-test

venv: $(VENV)/.installed-$(EXTRAS)

$(VENV)/.installed-$(EXTRAS): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	touch $@

demo: venv  ## start on embedded defaults and walk through the registry
	$(VENV)/bin/harness demo

up: venv  ## the registry on http://127.0.0.1:8000 (API docs at /docs), the studio if installed
	$(VENV)/bin/harness up

observe:  ## Prometheus on :9090 scraping `harness up` (:8000), and Grafana with infra/grafana when installed
	bash tools/observe/run.sh

studio: $(VENV)/.installed-studio  ## `up` with the studio (web UI) on http://127.0.0.1:8501
	$(VENV)/bin/harness up

$(VENV)/.installed-studio: $(VENV)/.installed-$(EXTRAS)
	$(PY) -m pip install -q -e '.[$(EXTRAS),studio]'
	touch $@

test: $(VENV)/.installed-test pubsub-fake  ## the whole test suite (HARNESS_TEST_DATABASE_URL selects a PostgreSQL)
	$(PY) -m pytest -q

stack: $(VENV)/.installed-test pubsub-fake  ## registry, runner, scorer and generator as separate processes over the Pub/Sub fake and a GCS emulator
	$(PY) -m harness.devstack

stack-test: $(VENV)/.installed-test pubsub-fake  ## the end-to-end tests on the multi-process stack
	$(PY) -m pytest -q tests/e2e

$(VENV)/.installed-test: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q '$(TORCH_SPEC)'
	$(PY) -m pip install -q -e '.[$(TEST_EXTRAS)]'
	touch $@

lint: $(VENV)/.installed-test
	$(VENV)/bin/ruff check .

bench: $(VENV)/.installed-test  ## benchmarks, JSON on stdout
	$(PY) bench/registry.py
	$(PY) bench/runner.py
	$(PY) bench/bus.py
	$(PY) bench/online_eval.py  # needs the Pub/Sub fake (make pubsub-fake)
	$(PY) bench/generator.py
	$(PY) bench/studio.py
	$(PY) bench/key_revocation.py
	$(PY) bench/stall.py
	$(PY) bench/traces.py  # fills and drops its own database (1,000,000 traces)
	$(PY) bench/gateway.py  # first run: installs LiteLLM's proxy into .harness/litellm-proxy-venv

clean:
	rm -rf $(VENV) .harness .pytest_cache .ruff_cache

include mk/pubsub.mk
include mk/deploy.mk
