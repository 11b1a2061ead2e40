# Two commands on a fresh machine with Python 3.11 and make:
#   make run    install everything, load the demo network, serve http://127.0.0.1:8000
#   make test   install everything, run the test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
WORKERS ?= 1

.PHONY: install run test lint bench clean

install: $(VENV)/.installed

# Exact versions come from requirements.lock; the project itself is installed without resolving.
$(VENV)/.installed: requirements.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $@

run: install
	$(BIN)/testbed demo
	$(BIN)/testbed serve --host $(HOST) --port $(PORT) --workers $(WORKERS)

# Playwright keeps an event loop running in pytest's main thread for the rest of the session,
# and the other tests call asyncio.run, so the browser journey runs in a pytest of its own.
test: install
	$(BIN)/pytest -q -m "not browser" $(PYTEST_ARGS)
	$(BIN)/pytest -q -m browser tests/browser $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) data .pytest_cache .ruff_cache .hypothesis
