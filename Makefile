# The one entry point for people and CI: make run | test | lint | bench
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 5000
# Without REDIS_URL the rate limits and the user cache live in each process and change notices go
# through files, so make run serves from ONE process with threads: every limit is then exact.
# Several workers need REDIS_URL.
ifeq ($(strip $(REDIS_URL)),)
WORKERS ?= 1
else
WORKERS ?= 2
endif
# Threads per worker (Granian's blocking threads): 8 measured at least as cheap per request as 4 (README:
# Why Granian) and overlap the waits on the database and Redis; the pool (5 + 10) never runs dry.
THREADS ?= 8
export FLASK_APP := wsgi

.PHONY: run test lint bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

# The sources compiled once, where the interpreter would otherwise compile them at every start when it
# may not write its cache (PYTHONDONTWRITEBYTECODE, a read-only checkout): ~50 ms of each start.
SOURCES := wsgi.py $(shell find app oauth keys -name '*.py')
$(VENV)/.compiled: $(SOURCES) | $(BIN)/python
	$(BIN)/python -m compileall -q wsgi.py app oauth keys
	touch $@

# The issuer follows PORT unless ISSUER is set. One process migrates (only when the database is behind),
# runs the first-start setup and serves with Granian, its workers forked from it (app/serve.py).
run: export ISSUER ?= http://localhost:$(PORT)
run: $(VENV)/.installed $(VENV)/.compiled
	@echo "Serving on http://localhost:$(PORT) (sign in at http://localhost:$(PORT)/login)"
	$(BIN)/python wsgi.py --port $(PORT) --workers $(WORKERS) --threads $(THREADS)

# Two pytest processes at once, one per backend: every test that touches data is parametrised by
# it and its id names it. The SQLite half (and the tests without a backend) prints as it goes; the
# PostgreSQL + Redis half prints when it ends. Both must pass (5: nothing selected, is no failure).
test: $(VENV)/.installed-test
	@log=$$(mktemp); \
	$(BIN)/pytest $(PYTEST_ARGS) -k postgresql > $$log 2>&1 & production=$$!; \
	$(BIN)/pytest $(PYTEST_ARGS) -k "not postgresql"; embedded=$$?; \
	wait $$production; status=$$?; \
	echo "--- PostgreSQL + Redis ---"; cat $$log; rm -f $$log; \
	for code in $$embedded $$status; do [ $$code -eq 0 ] || [ $$code -eq 5 ] || exit 1; done

lint: $(VENV)/.installed-test
	$(BIN)/flake8 app oauth keys tests wsgi.py
	$(BIN)/isort --check-only --diff app oauth keys tests wsgi.py

# Our server beside node-oidc-provider, with the peer kit in PEERS_BENCH (bench/README.md). Needs
# PostgreSQL and Redis (the bench database is dropped and created again), wrk, Node and npm.
BENCH_DATABASE_URL ?= postgresql://postgres:postgres@127.0.0.1:5432/idp_bench
BENCH_REDIS_URL ?=
PEERS_BENCH ?= $(abspath $(CURDIR)/../shared/peers-bench)
export BENCH_DATABASE_URL BENCH_REDIS_URL PEERS_BENCH
bench: $(VENV)/.installed-test $(VENV)/.compiled
	@command -v wrk >/dev/null || (apt-get update -qq && apt-get install -y -qq wrk)
	$(BIN)/python -m bench.run $(BENCH_ARGS)
