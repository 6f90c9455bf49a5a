# The everyday loop. `make demo` and `make test` are the README's two set-up commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo
# The demo: dcgan32 at width 0.25 on the built-in faces, DEMO_STEPS training steps per
# model (1,800 draw recognisable faces; ~20 minutes on 2 cores). Finished work is reused.
DEMO_STEPS ?= 1800

.PHONY: install demo test test-all lint format bench

$(BIN)/pbgan: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/pbgan

demo: $(BIN)/pbgan
	$(BIN)/pbgan demo --out $(RUN) --steps $(DEMO_STEPS)
	@echo "one page on both models: $(RUN)/REPORT.md and $(RUN)/report.png"

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

bench: $(BIN)/pbgan
	$(BIN)/python benchmarks/bench_size.py
	$(BIN)/python benchmarks/bench_generator.py
	$(BIN)/python benchmarks/bench_train_step.py
