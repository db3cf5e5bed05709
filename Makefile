# The README's two commands are `make demo` and `make test`; both set
# themselves up. Everything installs into .venv/ under the repository.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: help setup test lint fmt bench lock-dev clean

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  make %-10s %s\n", $$1, $$2}'

$(STAMP): requirements/dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements/dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

setup: $(STAMP) ## create .venv with the package and pinned dev dependencies

test: setup ## lint, then run the whole test suite
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

lint: setup ## ruff check and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: setup ## format Python code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup ## benchmark the processor against the naive design and libvips
	$(BIN)/imgpipe bench

lock-dev: ## re-pin requirements/dev.txt from the current .venv
	{ echo "# Development environment for \`make setup\`: everything pinned (pip freeze)."; \
	  echo "# Regenerate: make lock-dev"; $(BIN)/pip freeze --exclude-editable | sort -f; } > requirements/dev.txt

clean: ## remove build outputs and caches (keeps .venv)
	rm -rf dist build .pytest_cache .ruff_cache .hypothesis
