# Every gate of the project behind one command each; `make check` runs them all.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Touched once the project is installed, so `make test` does not reinstall each time;
# editing pyproject.toml (dependencies) triggers a new install.
INSTALLED := $(VENV)/.installed
INI ?= config/kinto.ini
SOURCES := kinto_clone kinto tests bench

.PHONY: venv serve test lint format check migrate clean

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[test]'
	touch $(INSTALLED)

serve: $(INSTALLED)
	$(BIN)/kinto start --ini $(INI)

test: $(INSTALLED)
	$(BIN)/pytest -n 2

lint: $(INSTALLED)
	$(BIN)/ruff check $(SOURCES)
	$(BIN)/ruff format --check $(SOURCES)

format: $(INSTALLED)
	$(BIN)/ruff check --fix $(SOURCES)
	$(BIN)/ruff format $(SOURCES)

check: lint test

migrate: $(INSTALLED)
	$(BIN)/kinto migrate --ini $(INI)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

# Throughput against Kinto 26.5.0 with wrk (bench/README.md), e.g.
# make bench BENCH_ARGS="--quick --backends memory"
.PHONY: bench
bench: $(INSTALLED)
	$(BIN)/python bench/run.py $(BENCH_ARGS)
