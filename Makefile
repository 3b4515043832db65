# The README's two set-up commands: `make demo` and `make test`. Each creates (or refreshes)
# .venv and installs what it needs; the stamp files make a second run skip the install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# This machine's CPU wheel; elsewhere: make demo TORCH="torch --index-url URL" (README)
TORCH ?= torch==2.13.0
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint bench docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH)
	$(BIN)/pip install --quiet -e .
	touch $@

# The test and docs environments are pinned (scripts/refresh_constraints.sh writes the pins,
# on purpose); the user's install above is not.
CONSTRAINTS := requirements/test-constraints.txt

$(VENV)/.installed-test: $(VENV)/.installed $(CONSTRAINTS)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[test]"
	touch $@

$(VENV)/.installed-docs: $(VENV)/.installed $(CONSTRAINTS)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[docs]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/minuet demo --out report

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff reads pyproject.toml; codespell reads setup.cfg
lint: $(VENV)/.installed-test
	$(BIN)/ruff check minuet_sk tests benchmarks scripts
	$(BIN)/codespell minuet_sk tests benchmarks scripts docs README.md CHANGELOG.md

# The Sphinx site, warnings as errors; code in the pages is shown, never run.
docs: $(VENV)/.installed-docs
	$(BIN)/sphinx-build -W --keep-going -q -b html docs docs/_build/html
	@echo "Open docs/_build/html/index.html"

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/quality_encoders.py --quick

clean:
	rm -rf $(VENV) report build *.egg-info .pytest_cache docs/_build docs/generated
