# The everyday loop. `make demo` and `make test` are the README's two set-up commands.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
RUN ?= runs/demo
# The demo: dcgan32 at width 0.25 on the built-in faces, DEMO_STEPS training steps per
# model (1,800 draw recognisable faces; ~20 minutes on 2 cores). Finished work is reused.
DEMO_STEPS ?= 1800

.PHONY: install demo test test-all lint format bench android-test

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
	$(BIN)/python benchmarks/bench_generator.py --runs 100
	$(BIN)/python benchmarks/peers.py --out benchmarks/results/peers
	$(BIN)/python benchmarks/profile_threads.py --out benchmarks/results/threads
	$(BIN)/python benchmarks/phase_forms.py
	$(BIN)/python benchmarks/tail_forms.py
	$(BIN)/python benchmarks/bench_train_step.py --rounds 30
	$(BIN)/python benchmarks/bench_cli_help.py --runs 10

# android_demo/core (plain Java) and its JUnit 4 tests on the JVM, with test vectors from
# `pbgan android-assets` on a tiny converted generator: Java must draw exactly the pixels
# Python draws and apply the converter's parity rule. Needs javac and Debian's junit4.
ANDROID_BUILD ?= build/android-test
JUNIT_JARS ?= /usr/share/java/junit4.jar:$(firstword $(wildcard /usr/share/java/hamcrest-core.jar /usr/share/java/hamcrest.jar))
CORE := android_demo/core/src

android-test: $(BIN)/pbgan
	@command -v javac >/dev/null || { echo "android-test: needs a JDK (javac): apt-get install default-jdk-headless"; exit 2; }
	@test -f /usr/share/java/junit4.jar || { echo "android-test: needs JUnit 4: apt-get install junit4"; exit 2; }
	rm -rf $(ANDROID_BUILD) && mkdir -p $(ANDROID_BUILD)/classes
	$(BIN)/pbgan convert --model dcgan32 --init random --width 0.0625 --setting auto \
		-o $(ANDROID_BUILD)/generator.tflite
	$(BIN)/pbgan android-assets $(ANDROID_BUILD)/generator.tflite -o $(ANDROID_BUILD)/assets
	javac -Xlint:all --release 8 -cp $(JUNIT_JARS) -d $(ANDROID_BUILD)/classes \
		$$(find $(CORE)/main/java $(CORE)/test/java -name '*.java')
	java -cp $(ANDROID_BUILD)/classes:$(JUNIT_JARS) -Dpbgan.assets=$(ANDROID_BUILD)/assets \
		org.junit.runner.JUnitCore \
		$$(cd $(CORE)/test/java && find . -name '*Test.java' | sed 's|^\./||; s|\.java$$||; s|/|.|g' | sort)
