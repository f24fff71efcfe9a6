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

.PHONY: run test lint typecheck pytest models bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# llama-cpp-python compiles from source the first time (~7-12 min); pip caches the wheel after.
# The note is printed only when neither the venv nor pip's cache has it.
$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	@$(BIN)/python -c "import llama_cpp" 2>/dev/null \
	  || $(BIN)/python -m pip cache list 'llama_cpp_python*' 2>/dev/null | grep -q '\.whl' \
	  || echo "building llama-cpp-python from source (7–12 minutes the first time)…"
	$(BIN)/python -m pip install --quiet -e .
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

pytest: $(VENV)/.installed-dev models
	$(BIN)/python -m pytest

test: lint typecheck pytest

bench: $(VENV)/.installed-dev models
	$(BIN)/python bench/decode.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
