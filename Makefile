# `make example` and `make test` each work on a fresh clone: they make .venv
# and install what they need first: `make example` the package alone, the
# other targets the package with its development set (the `dev` extra).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: example test bench check docs clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(VENV)/.installed-dev: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $@

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

example: $(VENV)/.installed
	$(BIN)/python examples/scrape.py

test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q

check: $(VENV)/.installed-dev
	$(BIN)/ruff check asynckit tests examples bench
	$(BIN)/mypy asynckit

bench: $(VENV)/.installed-dev
	$(BIN)/python -m bench

docs: $(VENV)/.installed-dev
	$(BIN)/python -m sphinx -W -n -b html docs docs/_build

clean:
	rm -rf $(VENV) .venv-3.* build *.egg-info .pytest_cache .mypy_cache .ruff_cache
