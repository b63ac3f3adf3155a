# Every target bootstraps .venv on a fresh machine. torch is installed first and pinned so that
# pip never pulls a multi-GB CUDA build on a CPU machine; override with `make TORCH=torch==X ...`.
PYTHON ?= python3
TORCH ?= torch==2.13.0
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test test-slow lint bench clean venv

venv: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH)"
	$(BIN)/python -m pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dis-rl demo --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -m "not slow and not gpu"

# Longer tests (the wheel installed into a fresh venv, ...): a few minutes more; CI runs both.
test-slow: $(STAMP)
	$(BIN)/python -m pytest -m "slow and not gpu"

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python benchmarks/train_step.py

clean:
	rm -rf runs .pytest_cache
