# Two entry points: `make dev` runs the whole backend offline, `make test` runs every test.
VENV ?= .venv
SAM_VENV ?= .venv-sam
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SAM_STAMP := $(SAM_VENV)/.installed

.PHONY: dev test fuzz lint bench install clean

$(STAMP): requirements-dev.txt layers/core/requirements.txt layers/core/pyproject.toml gpu_worker/pyproject.toml client/pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt -e layers/core -e gpu_worker -e client
	touch $(STAMP)

$(SAM_STAMP): requirements-sam.txt
	test -x $(SAM_VENV)/bin/python || python3 -m venv $(SAM_VENV)
	$(SAM_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(SAM_VENV)/bin/python -m pip install --quiet -r requirements-sam.txt
	touch $(SAM_STAMP)

install: $(STAMP) $(SAM_STAMP)

# Keeps its state in .local-stack/state across restarts; `make dev ARGS=--fresh` starts empty.
dev: $(STAMP)
	$(PY) -m stratus.local $(ARGS)

test: $(STAMP) $(SAM_STAMP)
	$(PY) -m pytest

# A long schemathesis run against a fresh local stack (make test runs a bounded one).
fuzz: $(STAMP)
	STRATUS_FUZZ_EXAMPLES=200 $(PY) -m pytest -p no:cacheprovider tests/e2e/test_fuzz.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) bench/api_latency.py
	$(PY) bench/e2e.py
	$(PY) bench/compute_core.py
	$(PY) bench/training.py
	$(PY) bench/workflows.py
	$(PY) bench/campaigns.py
	$(PY) bench/cold_start.py
	$(PY) bench/client.py
	$(PY) bench/dashboard.py

clean:
	rm -rf $(VENV) $(SAM_VENV) .pytest_cache .mypy_cache .ruff_cache .aws-sam .local-stack .bench
