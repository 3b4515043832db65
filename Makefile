# The README's two set-up commands: `make demo` and `make test`. Each creates (or refreshes)
# .venv and installs what it needs; the stamp files make a second run skip the install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
TORCH := torch==2.13.0
PYTEST_ARGS ?= -n 2

.PHONY: demo test lint bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet "$(TORCH)"
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

demo: $(VENV)/.installed
	$(BIN)/minuet demo --out report

test: lint
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# ruff reads pyproject.toml; codespell reads setup.cfg
lint: $(VENV)/.installed-test
	$(BIN)/ruff check minuet_sk tests benchmarks
	$(BIN)/codespell minuet_sk tests benchmarks docs README.md

bench: $(VENV)/.installed-test
	$(BIN)/python benchmarks/run.py --quick

clean:
	rm -rf $(VENV) report build *.egg-info .pytest_cache
