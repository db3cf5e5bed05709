# The README's two commands are `make demo` and `make test`; both set
# themselves up. Everything installs into .venv/ under the repository.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed

.PHONY: help setup demo test fuzz lint fmt bench bench-backfill package package-host lock lock-dev lock-checkov tf-check tf-test clean \
  mutate mutate-targeted coverage

help: ## list the targets
	@# the name column as wide as the longest target name (tests/test_readme.py)
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | sort | \
	  awk 'BEGIN {FS = ":.*## "} {name[NR] = $$1; text[NR] = $$2; if (length($$1) > w) w = length($$1)} \
	    END {fmt = "  make %-" w "s  %s\n"; for (i = 1; i <= NR; i++) printf fmt, name[i], text[i]}'

# Building the environments shows pip's progress (one line per package): on a
# fresh clone they take minutes (README, "Try it"), and silence looks like a hang.
$(STAMP): requirements/dev.txt pyproject.toml
	@echo "==> $(VENV): the pinned tools and test dependencies (requirements/dev.txt), once"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install -r requirements/dev.txt
	@# setuptools' "Editable installation ... folders with the same name" notice is
	@# information, not a problem (imgpipe/ is that folder, on purpose): not shown.
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

$(CHECKOV_STAMP): requirements/checkov.txt
	@echo "==> $(CHECKOV_VENV): checkov for make tf-check and make test (requirements/checkov.txt), once"
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install -r requirements/checkov.txt
	touch $(CHECKOV_STAMP)

setup: $(STAMP) $(CHECKOV_STAMP) ## create .venv (package + pinned dev deps) and .venv-checkov

demo: $(STAMP) ## the whole pipeline on this machine: samples -> routing -> handler -> variants
	$(BIN)/imgpipe demo

# On every core (pytest-xdist): each test file's tests run in one worker, so a
# file's module-wide fixtures (a demo run, a Terraform init) are made once.
# docs/development.md has the wall time before and after.
test: setup ## lint, check the import layers, then run the whole test suite on every core
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=function_src:. $(BIN)/lint-imports --no-cache
	$(BIN)/pytest -n auto --dist loadfile

FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP) ## property tests long and random (FUZZ_EXAMPLES per test); make each failure an @example
	HYPOTHESIS_PROFILE=fuzz FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest -p no:cacheprovider \
	  --hypothesis-show-statistics tests/test_processor_fuzz.py tests/test_processor_shapes.py \
	  tests/test_pngdecode.py

lint: setup ## ruff check and format check, and the import layers (.importlinter)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	PYTHONPATH=function_src:. $(BIN)/lint-imports --no-cache

fmt: setup ## format Python code
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Mutation testing: not part of `make test` (minutes to hours). See tests/mutations/.
MODULE ?=
mutate: setup ## mutmut over function_src/, build.py, imgpipe/ tools, .github/scripts/ (MODULE=x: one), then the targeted lists
	$(BIN)/python tests/mutations/mutmut_run.py $(MODULE)
	$(BIN)/python tests/mutations/run.py

mutate-targeted: setup ## apply the named bugs of tests/mutations/*.toml one at a time; print the score
	$(BIN)/python tests/mutations/run.py

coverage: setup ## line coverage of function_src/ and build.py (coverage.py) over the whole suite
	$(BIN)/pytest -q --cov --cov-report=term-missing:skip-covered

bench: setup ## benchmark the processor against the naive design and libvips
	$(BIN)/imgpipe bench

bench-backfill: setup ## backfill listing/scheduling rate and peak memory, 25k-100k objects (docs/day-two.md)
	$(BIN)/python tests/bench_backfill.py

RUNTIME ?= python3.10
package: $(STAMP) ## build dist/function.zip + dist/function.json for FC (RUNTIME=python3.12, LAYER=1)
	$(BIN)/python build.py --runtime $(RUNTIME) $(if $(LAYER),--layer)

package-host: $(STAMP) ## build a package for this machine's CPython and time its cold import
	$(BIN)/python build.py --host --out build/host
	$(BIN)/python tests/devtools/package_stats.py --zip build/host/function.zip

lock: setup ## re-pin requirements/function.txt (with hashes) from requirements/function.in
	$(BIN)/python build.py lock

lock-checkov: ## re-pin requirements/checkov.txt from .venv-checkov
	{ echo "# checkov and its dependencies, pinned (pip freeze); a venv of its own (.venv-checkov)"; \
	  echo "# because checkov pins versions that clash with moto's. Regenerate: make lock-checkov"; \
	  $(CHECKOV_VENV)/bin/pip freeze | sort -f; } > requirements/checkov.txt

tf-test: $(STAMP) ## real Terraform offline (stand-in provider): validate, plan dev/prod, terraform test, planted bugs
	@summary=$$(mktemp); \
	  IMGPIPE_TF_SUMMARY=$$summary $(BIN)/pytest -p no:cacheprovider tests/test_terraform_real.py; \
	  status=$$?; cat $$summary 2>/dev/null; rm -f $$summary; exit $$status

tf-check: setup ## no deprecated alicloud arguments (tests/devtools/tf_check.py), checkov, fmt
	$(BIN)/python tests/devtools/tf_check.py
	$(CHECKOV_VENV)/bin/checkov -d . --framework terraform --quiet --compact --skip-download \
	  --skip-path .venv --skip-path .venv-checkov --skip-path tests
	@if command -v terraform >/dev/null; then terraform fmt -recursive -check .; \
	  else echo "terraform not installed: fmt check skipped (CI runs it)"; fi

lock-dev: ## re-pin requirements/dev.txt from the current .venv
	{ echo "# Development environment for \`make setup\`: everything pinned (pip freeze)."; \
	  echo "# Regenerate: make lock-dev"; $(BIN)/pip freeze --exclude-editable | sort -f; } > requirements/dev.txt

clean: ## remove build outputs and caches (keeps .venv)
	rm -rf dist build .pytest_cache .ruff_cache .hypothesis
