# trailwarden — `make help` lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
LANDING ?= sample/landing
LAKEHOUSE ?= lakehouse
SCALE ?= 0.1
BENCH_ARGS ?=
# Extra pipeline options for make demo, e.g. destinations (docs/alerting.md).
DEMO_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help setup demo test sql bench lint refresh-asn clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "trailwarden: Python 3.11 or newer is required.")'
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

setup: $(STAMP) ## create .venv, install pinned dependencies, check Java, resolve the Delta jars once
	@$(PY) -m jobs.runtime.jars java
	@$(PY) -m jobs.runtime.jars jars delta > /dev/null
	@echo "setup done: Python deps in $(VENV), jars cached in .cache/jars"

$(LANDING):
	$(PY) -m devtools.sample --out $(LANDING)

demo: setup $(LANDING) ## set up, then run the whole pipeline on the bundled sample
	./spark-submit.sh pipeline --landing $(LANDING) --lakehouse $(LAKEHOUSE) $(DEMO_ARGS)

test: setup ## set up, then run the test suite
	$(PY) -m pytest -q

sql: setup ## a Spark SQL shell with every lakehouse table registered as a view
	./spark-submit.sh sql --lakehouse $(LAKEHOUSE)

bench: setup ## benchmark against DuckDB and the parse floor (SCALE=1 full size; BENCH_ARGS=--scaling for 1x/2x/4x)
	$(PY) -m devtools.bench --scale $(SCALE) $(BENCH_ARGS)

lint: setup ## ruff over the Python code
	$(VENV)/bin/ruff check jobs schemas tests

refresh-asn: setup ## refresh conf/intel/asn from the npm package @ip-location-db/asn (needs npm)
	$(PY) devtools/refresh_asn.py

clean: ## remove generated data, tables and caches (keeps .venv)
	rm -rf sample lakehouse spark-warehouse .cache/dist
