# One command to set up and run the explorer (`make serve`), one to set up and run the tests (`make test`).
# Everything installs into .venv/ at the repository root; torch is pinned by constraints.txt.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml constraints.txt | cksum | cut -d' ' -f1)

.PHONY: setup serve serve-dummy test lint bench clean

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -q -c constraints.txt -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

setup: $(STAMP)

serve: setup  ## set up, fetch the default models, start the explorer on http://127.0.0.1:8080
	$(BIN)/latentwalk fetch
	$(BIN)/latentwalk serve

serve-dummy: setup  ## the explorer on the procedural generator, no download
	$(BIN)/latentwalk serve --dummy

test: setup  ## set up and run the whole test suite (lint, unit, default model, browser)
	bash scripts/install-browser.sh
	$(BIN)/ruff check src tests benchmarks
	bash scripts/test

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench: setup
	$(BIN)/python benchmarks/bench_generate.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .latentwalk-test
