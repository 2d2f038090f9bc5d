# micromailer — `make run` starts the service in sandbox mode, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install run test lint typecheck bench clean

$(BIN)/micromailer: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@touch $@

install: $(BIN)/micromailer

run: install
	$(BIN)/micromailer run

test: install lint
	$(BIN)/pytest

lint: install
	$(BIN)/ruff check src tests

typecheck: install
	$(BIN)/mypy src

bench: install
	$(BIN)/python -m bench.embedded_latency
	$(BIN)/python -m bench.shared_board

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
