# Every gate of the project behind one command each; `make check` runs them all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Stamps touched once an install is done, so targets do not reinstall each time;
# editing pyproject.toml (dependencies) triggers a new install.  `serve` and
# `migrate` need the runtime dependencies only; the test tools come with `test`.
RUNTIME := $(VENV)/.installed-runtime
TESTING := $(VENV)/.installed-test
INI ?= config/kinto.ini
SOURCES := kinto_clone kinto tests bench

.PHONY: venv serve test lint format check migrate clean

venv: $(RUNTIME)

$(RUNTIME): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $(RUNTIME)

$(TESTING): $(RUNTIME)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(TESTING)

serve: $(RUNTIME)
	$(BIN)/kinto start --ini $(INI)

test: $(TESTING)
	$(BIN)/pytest -n 2

lint: $(TESTING)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format: $(TESTING)
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

check: lint test

migrate: $(RUNTIME)
	$(BIN)/kinto migrate --ini $(INI)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Throughput against Kinto 26.5.0 with wrk (bench/README.md), e.g.
# make bench BENCH_ARGS="--quick --backends memory"
.PHONY: bench
bench: $(TESTING)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
