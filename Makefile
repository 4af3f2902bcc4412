# `make example` and `make test` each work on a fresh clone: they make .venv
# and install what they need first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example test bench check docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-test: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[test]"
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

example: $(VENV)/.installed
	$(BIN)/python examples/scrape.py

test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -q

check: $(VENV)/.installed-test
	$(BIN)/ruff check asynckit tests examples bench
	$(BIN)/mypy asynckit

bench: $(VENV)/.installed-test
	$(BIN)/python -m bench

docs: $(VENV)/.installed-test
	$(BIN)/python -m sphinx -W -b html docs docs/_build

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
