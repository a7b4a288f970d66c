# One command to run the service, one to run the tests; both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test lint setup bench clean

run: $(STAMP)
	$(BIN)/personas serve

test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: $(STAMP)

# Reinstalls only when pyproject.toml changes. torch is pinned to the CPU build
# first so sentence-transformers does not pull a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[local,test]"
	touch $(STAMP)

bench: $(STAMP)
	$(BIN)/python -m bench.chat_overhead

clean:
	rm -rf $(VENV) .data
