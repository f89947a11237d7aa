# The two commands of the README's quickstart: `make demo` and `make test`.
# Both create .venv/ under the repo and install the package from this checkout.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench fuzz clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "catalog-sync needs Python 3.11+; set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

# scripts/system-deps.sh installs what pytest needs outside Python (a headless Chromium for the
# report browser tests, the PostgreSQL server for the state contract suite on PostgreSQL) when
# it is missing and we are root, as on a fresh CI machine.
test: lint
	sh scripts/system-deps.sh
	$(BIN)/pytest

demo: $(STAMP)
	$(BIN)/python -m catalog_sync.demo

# Every benchmark but the soak; every target printed with PASS/FAIL and the baseline of the same
# run, then all of them again; exits non-zero if any target was missed.
bench: $(STAMP)
	$(BIN)/python -m benchmarks --strict

# The fuzz tests of make test, with 100x the examples (about FUZZ_EXAMPLES per test).
FUZZ_EXAMPLES ?= 20000
fuzz: $(STAMP)
	CATALOG_SYNC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/pytest tests/fuzz -p no:cacheprovider --timeout=0

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
