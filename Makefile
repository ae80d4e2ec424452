# The commands the README shows. Everything a target needs is installed by the target itself,
# so a fresh clone on a new machine needs only Python 3.11+ and make (and root or sudo for the
# one system package, `prometheus`, that provides promtool and the Prometheus server).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= staging
CHECKOV_VENV := .tools/checkov
export PATH := $(CURDIR)/$(BIN):$(CURDIR)/$(CHECKOV_VENV)/bin:$(PATH)

.PHONY: synth diff plan plan-pictures bench-plan test lint fmt typecheck pytest docs bench bench-instructions deps dev-deps system-deps clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files make re-runs fast and re-install when a requirements file changes.
$(VENV)/.runtime-deps: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev-deps: requirements.txt requirements-dev.txt app/requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check
	touch $@

# checkov pins packaging<24 and pulumi needs packaging>=26: checkov gets its own environment.
$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

deps: $(VENV)/.runtime-deps

dev-deps: $(VENV)/.dev-deps $(CHECKOV_VENV)/.installed system-deps

# promtool and the Prometheus server come from the Debian package `prometheus`, amtool from
# `prometheus-alertmanager`.
system-deps:
	@{ command -v promtool && command -v amtool; } >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends prometheus prometheus-alertmanager; }

synth: deps
	$(BIN)/python -m stacks synth $(STACK)

diff: deps
	$(BIN)/python -m stacks diff staging production

plan: deps
	$(BIN)/python -m stacks plan $(STACK)

# The README's pictures of each stack's critical path, drawn by Graphviz's `dot` (Debian package
# `graphviz`) from the graph `plan --dot` writes.
plan-pictures: deps
	@command -v dot >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends graphviz; }
	for s in staging production; do \
	  $(BIN)/python -m stacks plan $$s --dot build/$$s-critical-path.dot >/dev/null && \
	  dot -Tsvg build/$$s-critical-path.dot -o docs/critical-path-$$s.svg || exit 1; \
	done

lint: $(VENV)/.dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-deps
	$(BIN)/mypy

pytest: dev-deps
	$(BIN)/pytest

test: lint typecheck pytest

# The API reference of `components` (and `components.testing`), generated from the docstrings
# by pdoc into build/docs; tests/test_public_api.py fails when a public name lacks a docstring.
docs: $(VENV)/.dev-deps
	$(BIN)/python -m pdoc components components.testing --docformat markdown -o build/docs

fmt: $(VENV)/.dev-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: dev-deps
	$(BIN)/python -m bench

# Each stack's critical path against its floor (seconds; no timing): the figures in bench/PLAN.md.
bench-plan: deps
	$(BIN)/python -m bench.plan

# Instruction counts under valgrind's callgrind (Debian package `valgrind`): ~20 minutes.
bench-instructions: dev-deps
	@command -v valgrind >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends valgrind; }
	$(BIN)/python -m bench.instructions

clean:
	rm -rf build .pytest_cache .mypy_cache .ruff_cache

# The whole stack on a laptop (README, "The stack on a laptop"): writes compose.yaml's files to
# build/local/ and starts it. Needs a container engine with Docker Compose v2.
.PHONY: local local-check
local: deps
	$(BIN)/python -m stacks local
	@command -v docker >/dev/null 2>&1 || { \
	  echo "make local: needs a container engine with Docker Compose v2 (docker compose); none found" >&2; exit 1; }
	docker compose up --build

# Offline checks of the local environment: the Compose specification schema (check-jsonschema's
# vendored copy), promtool, amtool, Grafana provisioning. `make test` runs them too
# (tests/test_local.py).
local-check: dev-deps
	$(BIN)/python -m stacks local --check
