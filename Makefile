# One command to run the service, one to run the tests; both set up .venv first.
PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
STUDIO_STAMP := $(VENV)/.studio-installed

.PHONY: run test lint setup studio bench clean

run: $(STAMP)
	$(BIN)/personas serve

# The tests include a run under the LangGraph dev server, so they need the studio extra too.
test: $(STUDIO_STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: $(STAMP)

# Reinstalls only when pyproject.toml changes. torch is pinned to the CPU build
# first so transformers' torch is not a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[local,test]"
	touch $(STAMP)

# LangGraph Studio: the dev server on http://127.0.0.1:2024 with the embedded defaults.
# The `studio` extra is installed on top of the project with the installed versions as
# constraints (resolving everything at once takes many minutes); only the packages the dev
# server needs newer or older (sse-starlette, grpcio, protobuf) may move.
STUDIO_MOVES := sse-starlette|grpcio|grpcio-[a-z-]+|protobuf

studio: $(STUDIO_STAMP)
	$(BIN)/langgraph dev --no-browser

$(STUDIO_STAMP): $(STAMP)
	$(BIN)/python -m pip freeze --exclude-editable | grep -viE '^($(STUDIO_MOVES))==' > $(VENV)/studio-constraints.txt
	$(BIN)/python -m pip install -q -c $(VENV)/studio-constraints.txt -e ".[studio]"
	touch $(STUDIO_STAMP)

bench: $(STAMP)
	$(BIN)/python -m bench.chat_overhead

clean:
	rm -rf $(VENV) .data
