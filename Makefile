# Two commands do all the set-up on a fresh machine with python3, pip and make:
#   make run    sets up .venv, pulls the default model, streams an answer from it
#   make test   sets up .venv (with the dev tools), pulls the test models, runs lint, types, tests
# Both are idempotent: a second run reuses the venv, pip's wheel cache and hearth's model store.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PROMPT ?= What is the capital of France?

.PHONY: run test lint typecheck pytest models chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# llama-cpp-python compiles from source the first time (~7-12 min); pip caches the wheel after.
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(VENV)/.installed
	$(BIN)/hearth run "$(PROMPT)"

models: $(VENV)/.installed
	$(BIN)/hearth pull smollm2
	$(BIN)/hearth pull gemma3-270m
	$(BIN)/hearth pull minilm

lint: $(VENV)/.installed
	$(BIN)/ruff check src tests bench

typecheck: $(VENV)/.installed
	$(BIN)/mypy

# The chat page's tests drive Debian's chromium through Playwright's Python API (Playwright's
# own browser download is not used). Installed once; needs root, as on CI.
chromium:
	command -v chromium >/dev/null 2>&1 || (apt-get update && apt-get install -y chromium)

pytest: $(VENV)/.installed models chromium
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(VENV)/.installed models
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
