# The two commands of the README. Each creates .venv and installs Lookout into it on first use.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: up serve test test-quick lint

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $(STAMP)

up: $(STAMP)  ## the whole suite (embedded NATS, SQLite, the example school) playing a simulated week
	$(BIN)/lookout demo

serve: $(STAMP)  ## the whole suite on real time, for real use (Ctrl-C stops it)
	$(BIN)/lookout up

test: $(STAMP)  ## lint, import boundaries, then the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/pytest -q -m serial
	$(BIN)/pytest -q -n 2 --dist worksteal -m "not serial"  # an idle worker takes queued tests from a busy one (the week-long end-to-end test)

test-quick: $(STAMP)
	$(BIN)/pytest -q -m "not slow"
