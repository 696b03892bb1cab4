# `make up` sets everything up and starts tether; `make test` runs the whole suite; `make test-fast`
# the unit tests alone (no real model, no browser), in under two minutes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
MODEL  ?= qwen2.5-coder-1.5b
TEST_MODEL := smollm2-135m

EXTRAS := local,web,mcp,postgres,test,paradigms,dev

.PHONY: up install sandbox browser postgres pg lint test test-fast data paradigms bench screenshots clean

# Every extra, at the exact versions in constraints.txt (pyproject.toml holds the ranges). The venv
# is brought up to date only when pyproject.toml or constraints.txt changes. llama-cpp-python compiles
# from source the first time (about 11 minutes on 2 cores); pip caches the wheel, so later installs
# take seconds.
$(BIN)/.installed: pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[$(EXTRAS)]'
	touch $@

install: $(BIN)/.installed sandbox

# Checks run model-written code inside bubblewrap (Linux). Installed here when we are root; a user
# without root is told how (tether refuses unsandboxed checks at auto/agent unless told otherwise).
sandbox:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q bubblewrap >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q bubblewrap >/dev/null; }; \
	  else echo "note: install bubblewrap (sudo apt-get install bubblewrap) so that tether can sandbox checks"; fi; }

# The web app's tests drive Debian's chromium (Playwright cannot download a browser here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q chromium >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; \
	  else echo "note: install chromium (sudo apt-get install chromium) for the web app's browser tests"; fi; }

# The team ledger's PostgreSQL: Debian's server binaries (installed here when we are root), and a
# cluster of tether's own on a Unix socket (`tether db up` prints its URL for [ledger] url).
postgres:
	@command -v pg_ctl >/dev/null 2>&1 || ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get install -y -q postgresql >/dev/null 2>&1 || { apt-get update -q >/dev/null && apt-get install -y -q postgresql >/dev/null; }; \
	  else echo "note: install PostgreSQL (sudo apt-get install postgresql) for the team ledger and its tests"; fi; }

pg: install postgres
	$(BIN)/tether db up

up: install
	$(BIN)/tether models --pull $(MODEL)
	$(BIN)/tether ui

# The suite's slow tests use the smallest model, and the default one where a task needs it to
# succeed (the agent end to end, the three-paradigms LLM); the sentiment data comes from PyPI.
# ruff (lint and format, as pyproject.toml configures them) and mypy over the grid, the edits and the faces.
lint: install
	$(BIN)/ruff check src tests benchmarks examples
	$(BIN)/ruff format --check src tests benchmarks examples
	$(BIN)/mypy

test: install lint browser postgres data
	$(BIN)/tether models --pull $(TEST_MODEL)
	$(BIN)/tether models --pull $(MODEL)
	$(BIN)/python -m pytest -q

# The unit tests: scripted providers and fakes, no real model and no browser (those tests are
# marked slow, or live in tests/web/), spread over the cores by pytest-xdist.
test-fast: install lint
	$(BIN)/python -m pytest -q -m "not slow" --ignore=tests/web -n $(or $(JOBS),auto)

# The README's pictures: every page of `tether ui` in the light and the dark theme, 1280x800, taken by
# the browser test that checks them (tests/web/test_screens.py) into docs/screenshots.
screenshots: install browser
	TETHER_SCREENSHOTS=$(CURDIR)/docs/screenshots $(BIN)/python -m pytest -q tests/web/test_screens.py

data: install
	$(BIN)/python -c "from examples.three_paradigms import data; data.wheel_path()"

# Software 1.0, 2.0 and 3.0 on one task: prints the table, writes examples/three_paradigms/results.md
paradigms: install data
	$(BIN)/tether models --pull $(MODEL)
	$(BIN)/python -m examples.three_paradigms $(ARGS)

# The digest and search benchmarks read a checkout of sqlalchemy: make bench SQLALCHEMY=/path/to/it
bench: install
	$(BIN)/python benchmarks/grid.py
	@test -n "$(SQLALCHEMY)" || { echo "set SQLALCHEMY=/path/to/a/sqlalchemy/checkout for the digest and search benchmarks"; exit 1; }
	$(BIN)/python benchmarks/digest.py $(SQLALCHEMY)
	$(BIN)/python benchmarks/search.py --repo sqlalchemy=$(SQLALCHEMY)

clean:
	rm -rf $(VENV) build src/*.egg-info .pytest_cache
