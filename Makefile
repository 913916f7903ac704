# circuitsim: all set-up lives here.  `make demo` runs the main job, `make test` the tests.
# Both do the whole set-up first (ngspice from Debian, .venv, the package) when it is missing.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_OUT ?= out/demo

.PHONY: setup ngspice venv demo test lint bench clean

setup: ngspice $(STAMP)

ngspice:
	@if command -v ngspice >/dev/null 2>&1 && { ls /usr/lib/*/libngspice.so.0 /usr/lib/libngspice.so.0 \
	    >/dev/null 2>&1 || /sbin/ldconfig -p 2>/dev/null | grep -q 'libngspice\.so\.0'; }; then \
	  echo "ngspice: found $$(command -v ngspice)"; \
	elif [ "$$(id -u)" = 0 ]; then \
	  echo "ngspice: installing Debian packages ngspice libngspice0"; \
	  DEBIAN_FRONTEND=noninteractive apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends ngspice libngspice0; \
	else \
	  echo "ngspice is missing and this is not root. Run:  sudo apt-get install ngspice libngspice0"; \
	  exit 1; \
	fi

$(STAMP): setup.cfg pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
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
