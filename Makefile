# Vigil: the two commands a new user types are `make run` and `make test`.
# Everything installs into .venv (made with $(PYTHON) if missing); VIGIL_* variables in the
# environment or in .env are passed through untouched.

PYTHON ?= python3
# Set on the command line (make run PORT=8080); plain `=` so a HOST or PORT exported by the
# shell or a platform does not silently change where Vigil listens.
HOST = 127.0.0.1
PORT = 8000
TEST_WORKERS ?= 2
PYTEST_ARGS ?=

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Stamps: pip runs again only when pyproject.toml changes.
INSTALLED := $(VENV)/.installed
INSTALLED_DEV := $(VENV)/.installed-dev
# -qq: errors only (setuptools' editable-install warnings are noise here).
PIP := $(BIN)/python -m pip -qq --disable-pip-version-check

.PHONY: help run test lint bench screenshots

help:
	@echo "make run    load the demo into an empty store, then serve the web UI and the API on http://$(HOST):$(PORT)"
	@echo "make test   run the test suite (PostgreSQL tests need a server at 127.0.0.1:5432, browser tests Chromium)"
	@echo "make lint   ruff and mypy --strict"
	@echo "make bench  run the benchmarks in bench/"
	@echo "make screenshots  the README's images (docs/img) from a throwaway demo store, in Chromium"

$(BIN)/python:
	@echo "Creating $(VENV) with $(PYTHON)"
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Vigil needs Python 3.11 or later: make ... PYTHON=python3.11")'
	@$(PYTHON) -m venv $(VENV)

$(INSTALLED): pyproject.toml | $(BIN)/python
	@echo "Installing Vigil into $(VENV) (again only when pyproject.toml changes)"
	@$(PIP) install -e .
	@touch $@

$(INSTALLED_DEV): pyproject.toml | $(BIN)/python
	@echo "Installing Vigil and its dev tools into $(VENV) (again only when pyproject.toml changes)"
	@$(PIP) install -e '.[dev]'
	@touch $@ $(INSTALLED)

run: $(INSTALLED)
	@$(BIN)/vigil demo --if-empty
	@echo "Starting Vigil: the web UI at http://$(HOST):$(PORT)/, the API docs at /docs (Ctrl+C to stop)"
	@$(BIN)/vigil serve --host $(HOST) --port $(PORT)

# pytest exits 5 when it collects nothing; make treats that as the failure it is.
# The browser tests (tests/browser) drive the system's Chromium; without it they skip.
test: $(INSTALLED_DEV)
	@command -v chromium >/dev/null || [ -n "$${VIGIL_CHROMIUM:-}" ] || echo "Chromium not found: the browser tests (tests/browser) will skip. To run them: sudo apt-get install chromium (Debian/Ubuntu), or set VIGIL_CHROMIUM to a Chromium binary."
	$(BIN)/pytest -q -n $(TEST_WORKERS) $(PYTEST_ARGS)

lint: $(INSTALLED_DEV)
	$(BIN)/ruff check .
	$(BIN)/mypy

# bench/naive_peer.py and bench/eventsourcing_floor.py are not benchmarks: they are the servers
# bench/write_path.py measures Vigil beside; bench/support.py is what the benchmarks share.
bench: $(INSTALLED)
	@for script in bench/*.py; do case "$$script" in bench/naive_peer.py|bench/eventsourcing_floor.py|bench/support.py) continue;; esac; echo "== $$script"; $(BIN)/python "$$script"; done

# The README's two images: a throwaway demo store, `vigil serve` on a free port, Chromium.
screenshots: $(INSTALLED_DEV)
	$(BIN)/python docs/screenshots.py
