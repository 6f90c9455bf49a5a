# The everyday loop. `make demo` and `make test` are the README's two set-up commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo

.PHONY: install demo test test-all lint format bench

$(BIN)/pbgan: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/pbgan

demo: $(BIN)/pbgan
	$(BIN)/pbgan analyze dcgan64

test: $(BIN)/pbgan
	$(BIN)/python -m pytest -q

test-all: $(BIN)/pbgan
	$(BIN)/python -m pytest -q -m "slow or not slow"

lint: $(BIN)/pbgan
	$(BIN)/ruff check pbgan tests benchmarks
	$(BIN)/ruff format --check pbgan tests benchmarks

format: $(BIN)/pbgan
	$(BIN)/ruff format pbgan tests benchmarks
	$(BIN)/ruff check --fix pbgan tests benchmarks
