# Two commands do all the set-up on a fresh machine with python3, pip and make:
#   make run    sets up .venv with what running needs (hearth: pip install -e .), then streams an
#               answer from the default model (pulled on first use)
#   make test   adds the dev tools (pip install -e '.[dev]': pytest, mypy, ruff, the SDKs the
#               server tests drive), pulls the test models, runs lint, types and the tests
# Both are idempotent: a second run reuses the venv, pip's wheel cache and hearth's model store.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROMPT ?= What is the capital of France?
# The MCP tests run a real npm server (stdio and streamable HTTP), installed here, not globally.
NPM_PREFIX     := .cache/npm
MCP_EVERYTHING := @modelcontextprotocol/server-everything@2026.8.31

.PHONY: run test lint typecheck pytest models chromium mcp-servers bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# A GPU build of llama.cpp where the machine has an NVIDIA GPU and the CUDA toolkit: nvcc on the
# PATH and `nvidia-smi -L` listing a GPU (a toolkit alone, on a machine without a GPU or its
# driver, would make a build that cannot load). Set CMAKE_ARGS yourself for another backend
# (make CMAKE_ARGS=-DGGML_VULKAN=on, -DGGML_HIP=on); Metal is on by default on Apple silicon.
# Otherwise, or with `make CMAKE_ARGS=`: the CPU build.
LLAMA_PIN := $(shell grep -o 'llama-cpp-python==[0-9.]*' pyproject.toml)
ifeq ($(origin CMAKE_ARGS),undefined)
  ifneq ($(shell command -v nvcc >/dev/null 2>&1 && nvidia-smi -L 2>/dev/null | grep -q '^GPU' && echo cuda),)
    CMAKE_ARGS := -DGGML_CUDA=on
  endif
endif

# llama-cpp-python compiles from source the first time (~7-12 min); pip caches the wheel after.
# The note is printed only when neither the venv nor pip's cache has it. A GPU build (above) is
# compiled again outside pip's cache (whose wheel may be the CPU build), once per CMAKE_ARGS.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null \
	  || $(BIN)/python -m pip cache list 'llama_cpp_python*' 2>/dev/null | grep -q '\.whl' \
	  || echo "building llama-cpp-python from source (7–12 minutes the first time)…"
	$(BIN)/python -m pip install --quiet -e .
ifneq ($(strip $(CMAKE_ARGS)),)
	@test "$$(cat $(VENV)/.llama-cmake-args 2>/dev/null)" = "$(CMAKE_ARGS)" || { \
	  echo "building llama-cpp-python with CMAKE_ARGS=$(CMAKE_ARGS) (10-30 minutes)…" \
	  && CMAKE_ARGS="$(CMAKE_ARGS)" $(BIN)/python -m pip install --quiet --force-reinstall \
	       --no-deps --no-cache-dir "$(LLAMA_PIN)" \
	  && echo "$(CMAKE_ARGS)" > $(VENV)/.llama-cmake-args; }
endif
	touch $@

$(VENV)/.installed-dev: pyproject.toml $(VENV)/.installed-run
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed-run
	$(BIN)/hearth run "$(PROMPT)"

models: $(VENV)/.installed-run
	$(BIN)/hearth pull smollm2
	$(BIN)/hearth pull gemma3-270m
	$(BIN)/hearth pull minilm

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed-dev
	$(BIN)/mypy

# The chat page's tests drive Debian's chromium through Playwright's Python API (Playwright's
# own browser download is not used). Installed once; needs root, as on CI.
chromium:
	command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

# mcp-server-time and mcp-server-git come from PyPI with the dev extra; this is the npm one.
$(NPM_PREFIX)/.installed:
	npm install --prefix $(NPM_PREFIX) --no-audit --no-fund --loglevel=error $(MCP_EVERYTHING)
	touch $@

mcp-servers: $(NPM_PREFIX)/.installed

pytest: $(VENV)/.installed-dev models chromium mcp-servers
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(VENV)/.installed-dev models
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache $(NPM_PREFIX)
