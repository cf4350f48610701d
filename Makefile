# Deputy. Quick start: `make run` (start Deputy on embedded defaults), `make test` (the whole suite).
# Both bootstrap everything on a fresh machine with Python 3.11: a tools venv with uv, then .venv from uv.lock.

PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# .pyc at install: where PYTHONDONTWRITEBYTECODE is set, every process would compile the dependencies again
export UV_COMPILE_BYTECODE := 1
export LITELLM_LOCAL_MODEL_COST_MAP := True

SOURCES := bot agents orchestrator memory connectors config
.PHONY: run test lint typecheck suite unit soak bench test-model install bytecode testcode clean
# Six pytest workers on two cores: most tests wait on real processes (Redis, workers, SMTP) or on real time (a
# minute-later reminder, retries), so six keep both cores busy (275 s against 311 s with four, same tree).
PYTEST := $(BIN)/pytest -q -n 6 --dist worksteal

run: $(VENV)/.synced bytecode
	$(BIN)/deputy up

# The type check runs beside the suite without soak tests (one core for its first 15 s; the suite is CPU-bound on
# two cores: 196-221 s on a quiet box, 1,143 tests), then the soak tests (many tasks while workers are killed, 20,000 fuzzed
# payloads, a minute for real) as a step of their own (117-167 s).
test: $(VENV)/.synced lint bytecode
	@$(MAKE) --no-print-directory -j 2 -Oline typecheck unit
	@$(MAKE) --no-print-directory soak

lint: $(VENV)/.synced
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.synced
	$(BIN)/mypy

suite: $(VENV)/.synced bytecode testcode
	$(PYTEST)

unit: $(VENV)/.synced bytecode testcode
	$(PYTEST) -m "not soak"

soak: $(VENV)/.synced bytecode testcode
	$(PYTEST) -m soak

bench: $(VENV)/.synced
	$(BIN)/python -m bench.pipeline
	$(BIN)/python -m bench.llm_economy
	$(BIN)/python -m bench.memory
	$(BIN)/python -m bench.replay
	$(BIN)/python -m bench.outcomes
	$(BIN)/python -m bench.revise
	$(BIN)/python -m bench.streaming
	$(BIN)/python -m bench.startup
	$(BIN)/python -m bench.footprint
	$(BIN)/python -m bench.inbox
	$(BIN)/python -m bench.patterns

# Opt-in, never part of `make test`: the main flows against a real OpenAI-compatible server (docs/llm.md).
test-model: $(VENV)/.synced bytecode
	$(BIN)/python -m tests.model_flows

install: $(VENV)/.synced bytecode

# Deputy's own modules compiled once (only changed files are redone): each `deputy` process then starts without
# compiling them, which matters where PYTHONDONTWRITEBYTECODE is set.
bytecode: $(VENV)/.synced
	@$(BIN)/python -m compileall -q -j 0 $(SOURCES)

# The test modules as pytest rewrites them, compiled once before its workers start, each of which would otherwise
# compile them all again: 7 s of CPU per worker without them (on a fresh clone, or where PYTHONDONTWRITEBYTECODE
# is set), 3 s with. A module that fails to import is reported by the run that follows.
testcode: $(VENV)/.synced
	@PYTHONDONTWRITEBYTECODE= $(BIN)/pytest --collect-only -q > /dev/null 2>&1 || true

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

$(VENV)/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python $(PYTHON) --quiet
	@touch $@

clean:
	rm -rf $(VENV) $(TOOLS) .mypy_cache .ruff_cache .pytest_cache
