# One command to run the service, one to run the tests; both set up .venv first.
# Every install comes from requirements.lock: exact versions and hashes for the project and all
# its extras, resolved once by `make lock`. Installing never resolves a version.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
PIP := $(BIN)/python -m pip install --quiet --no-deps --require-hashes --no-build-isolation
# Published only as source: built in a second pass, with the build tools the first pass installed.
SOURCE_BUILT := llama-cpp-python|forbiddenfruit
# llama.cpp for any x86_64 CPU since 2013 rather than for the build machine: a native build on a
# CPU with AMX uses its tile kernels, which crash (SIGSEGV in ggml_backend_amx_mul_mat) where the
# kernel does not grant AMX state to the process, as on some sandboxed machines.
LLAMA_CMAKE_ARGS := -DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON

.PHONY: run test lint setup studio lock check-lock bench clean

run: $(STAMP)
	$(BIN)/personas serve

test: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

setup: $(STAMP)

# LangGraph Studio: the dev server on http://127.0.0.1:2024 with the embedded defaults.
studio: $(STAMP)
	$(BIN)/langgraph dev --no-browser

# Reinstalls when the lock changes. torch is the CPU build (torch==2.13.0+cpu, a file this
# machine's pip configuration finds through find-links); llama.cpp compiles once, after which
# pip's wheel cache serves it.
$(STAMP): $(LOCK) pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info[:2] == (3, 11), "requirements.lock is for Python 3.11: set PYTHON=/path/to/python3.11"'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	awk '/^[a-z0-9]/ { keep = ($$1 !~ /^($(SOURCE_BUILT))==/) } /^[#-]/ { keep = 1 } keep' $(LOCK) > $(VENV)/binary.lock
	$(PIP) --only-binary :all: -r $(VENV)/binary.lock
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(PIP) -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	touch $(STAMP)

# Resolve the project and all its extras into requirements.lock (Linux x86_64, Python 3.11),
# with torch's CPU build, which PyPI does not carry (pip's find-links here has it).
lock: $(STAMP)
	echo 'torch==2.13.0+cpu' > $(VENV)/lock-constraints.txt
	$(BIN)/uv pip compile pyproject.toml --all-extras --python-version 3.11 \
	  --python-platform x86_64-manylinux_2_28 --find-links /opt/wheels \
	  --constraint $(VENV)/lock-constraints.txt --generate-hashes --emit-find-links \
	  --custom-compile-command "make lock" --quiet -o $(LOCK)

# Fails when a requirement in pyproject.toml is missing from the lock or not met by its pin.
check-lock: $(STAMP)
	$(BIN)/python -m pytest -p no:cacheprovider -q tests/packaging/test_lock.py

bench: $(STAMP)
	$(BIN)/python -m bench.chat_overhead

clean:
	rm -rf $(VENV) .data
