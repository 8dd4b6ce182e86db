# cityaware: the two README commands (run, test), the benchmarks and lint (ruff + mypy).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DATA_DIR ?= $(or $(CITYAWARE_DATA_DIR),cityaware-data)
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test bench lint format demo-boundaries

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $@

run: $(VENV)/.installed
	$(VENV)/bin/cityaware demo --data-dir $(DATA_DIR)
	$(VENV)/bin/cityaware serve --host $(HOST) --port $(PORT) --data-dir $(DATA_DIR)

test: $(VENV)/.installed
	bash scripts/test.sh

bench: $(VENV)/.installed
	bash scripts/bench.sh

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check . && $(VENV)/bin/lint-imports && $(PY) scripts/typecheck.py

format: $(VENV)/.installed
	$(VENV)/bin/ruff format . && $(VENV)/bin/ruff check --fix .

# Rebuild the committed demo boundaries (deterministic: same seed, same bytes).
demo-boundaries: $(VENV)/.installed
	$(PY) -m cityaware.geo.demo.city --out data/boundaries/zhengzhou-demo.gpkg
