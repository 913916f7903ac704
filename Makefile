# circuitsim: all set-up lives here.  `make demo` runs the main job, `make test` the tests.
# Both do the whole set-up first (ngspice from Debian, .venv, the package) when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= out/demo

.PHONY: setup python ngspice venv demo test lint bench clean

setup: python ngspice $(STAMP)

python:
	@PYTHON=$(PYTHON) bash scripts/install-python.sh

ngspice:
	@bash scripts/install-ngspice.sh

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev,verilog-a]'
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/circuitsim demo --out $(DEMO_OUT)

test: setup
	$(PY) -m pytest -q

lint: setup
	$(VENV)/bin/ruff check circuitsim tests benchmarks

bench: setup
	$(PY) benchmarks/run_all.py

clean:
	rm -rf $(VENV) out build *.egg-info
