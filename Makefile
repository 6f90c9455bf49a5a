# The everyday loop. `make demo` and `make test` are the README's two set-up commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo
# The demo: a quarter-width dcgan64 on the built-in synthetic faces, a few CPU minutes.
DEMO_TRAIN ?= --width 0.25 --epochs 2 --steps-per-epoch 60 --batch-size 64

.PHONY: install demo test test-all lint format bench

$(BIN)/pbgan: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(BIN)/pbgan

demo: $(BIN)/pbgan
	$(BIN)/pbgan analyze dcgan64
	$(BIN)/pbgan train --setting A $(DEMO_TRAIN) --out $(RUN)/A
	$(BIN)/pbgan train --setting auto $(DEMO_TRAIN) --out $(RUN)/auto
	$(BIN)/pbgan convert $(RUN)/A --setting A -o $(RUN)/A.tflite
	$(BIN)/pbgan convert $(RUN)/auto --setting auto -o $(RUN)/auto.tflite
	$(BIN)/pbgan bench $(RUN)/auto.tflite --baseline $(RUN)/A.tflite --threads 1 --runs 50 --report $(RUN)/bench
	@echo "samples: $(RUN)/*/samples/  losses: $(RUN)/*/loss_curves.png  speed/memory: $(RUN)/bench/report.md"

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
