# Runnable Distributed Systems — entry points.
#   make lab    open the course in JupyterLab
#   make test   everything CI runs: ruff, pytest (library, exercises, grader, browser), nbval
# Requires GNU make, python3 with venv, and (for the browser test) /usr/bin/chromium.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.NOTPARALLEL:

PYTHON3 ?= python3
VENV    ?= .venv
PY      := $(VENV)/bin/python
# pyproject sets addopts = "-p no:cacheprovider"; repeated here so it holds even if the ini changes.
# `-p tests.conftest` loads the nbval tweaks (skip plotly JSON / HTML) for notebook folders outside tests/.
PYTEST  := $(PY) -m pytest -p no:cacheprovider
TIMEOUT ?= 300
CELL_TIMEOUT ?= 120
NBVAL   := $(PYTEST) -p tests.conftest --nbval-current-env --timeout=$(TIMEOUT) --nbval-cell-timeout=$(CELL_TIMEOUT)
STAMP   := $(VENV)/.installed

# Jupyter refuses to run as root without this flag (containers, CI).
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: help env lab test lint pytest nbval-strict nbval-lax exercises notebooks bench prometheus clean

help:
	@echo "make lab        start JupyterLab on the course (creates .venv on first use)"
	@echo "make test       ruff + pytest tests + nbval (strict: chapters, solutions; lax: exercises)"
	@echo "make zookeeper  chapter 08's lab: a real ZooKeeper on 127.0.0.1 (Debian package zookeeper)"
	@echo "make exercises  regenerate exercises/ from solutions/"
	@echo "make notebooks  execute chapters/ and solutions/ in place (commit the outputs)"
	@echo "make bench      run every benchmarks/bench_*.py and print the numbers"
	@echo "make prometheus chapter 11's live lab: a Raft cluster serving /metrics, scraped by a real Prometheus"
	@echo "make spark      chapter 10's real engine: install PySpark 4.3.0 (~520 MB, needs Java 17+) into .venv"

# --- environment -------------------------------------------------------------
env: $(STAMP)

# Re-install only when pyproject.toml changes (the stamp is newer otherwise).
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON3) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test,bench]'
	@touch $@

# --- using the course --------------------------------------------------------
lab: env
	$(VENV)/bin/jupyter lab --ServerApp.root_dir="$(CURDIR)" \
	  $(if $(wildcard chapters/*.ipynb),--LabApp.default_url=/lab/tree/chapters,) $(ALLOW_ROOT)

# Chapter 11's live lab: the simulated Raft cluster in real time, each node serving /metrics on 127.0.0.1,
# scraped by a real Prometheus (Debian: apt-get install -y --no-install-recommends prometheus) whose URL
# it prints. PROMETHEUS_SECONDS=600 make prometheus runs it longer.
PROMETHEUS_SECONDS ?= 300
prometheus: env
	$(PY) -m distlib.monitoring.live --seconds $(PROMETHEUS_SECONDS)

# Chapter 08's lab: Debian's ZooKeeper (apt-get install -y --no-install-recommends zookeeper) started as a
# child process on 127.0.0.1:<free port> (no systemd); it prints the address for KazooClient and stops on
# Ctrl-C or after ZOOKEEPER_SECONDS.
ZOOKEEPER_SECONDS ?= 3600
.PHONY: zookeeper
zookeeper: env
	$(PY) -m distlib.coordination.zookeeper --seconds $(ZOOKEEPER_SECONDS)

# Chapter 10's real engine: the `spark` extra (PySpark 4.3.0 with its jars, ~520 MB; Java 17+ from the system,
# e.g. apt-get install -y --no-install-recommends openjdk-17-jre-headless). Not part of `make env`/`make lab`:
# the course runs without it; tests/test_spark_equality.py skips without it (fails under CI=true).
.PHONY: spark
spark: env
	$(PY) -m pip install --disable-pip-version-check -q -e '.[test,bench,spark]'

# --- checks ------------------------------------------------------------------
# Each step stops the target on failure; pytest exit code 5 (nothing collected) is a failure too.
test: env lint pytest nbval-strict nbval-lax

lint: env
	$(VENV)/bin/ruff check .

pytest: env
	$(PYTEST) --timeout=$(TIMEOUT) tests

# Strict nbval: every output is compared (see tests/conftest.py for the mime types excluded).
nbval-strict: env
	@dirs="$(strip $(foreach d,chapters solutions,$(if $(wildcard $(d)/*.ipynb),$(d))))"; \
	if [ -z "$$dirs" ]; then echo "nbval: no notebooks in chapters/ or solutions/ yet, skipped"; \
	else set -x; $(NBVAL) --nbval $$dirs; fi

# Lax nbval on exercises: stubs raise NotImplementedError in cells tagged raises-exception;
# only errors (and cells marked NBVAL_CHECK_OUTPUT) fail.
nbval-lax: env
	@if [ -z "$(wildcard exercises/*.ipynb)" ]; then echo "nbval: no notebooks in exercises/ yet, skipped"; \
	else set -x; $(NBVAL) --nbval-lax exercises; fi

# --- maintaining the course --------------------------------------------------
exercises: env
	$(PY) -m distlib.grading.generate

notebooks: env
	@nbs="$(wildcard chapters/*.ipynb solutions/*.ipynb)"; \
	if [ -z "$$nbs" ]; then echo "no notebooks to execute"; \
	else set -x; $(PY) -m distlib.grading.execute $$nbs; fi

bench: env
	@benches="$(sort $(wildcard benchmarks/bench_*.py))"; \
	if [ -z "$$benches" ]; then echo "no benchmarks/bench_*.py yet"; exit 0; fi; \
	for b in $$benches; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf tests/artifacts out build
