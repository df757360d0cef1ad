# The two commands a newcomer needs: `make demo` and `make test`.
# With DATABASE_URL and CELERY_BROKER_URL set they use PostgreSQL and Redis; without, SQLite and
# eager tasks.

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
HOST ?= 127.0.0.1
PORT ?= 8000

# Find a Python 3.12 even where `python3.12` is a pyenv shim that is not active.
PYTHON312 := $(shell for c in python3.12 $$HOME/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12; do \
	$$c -c 'import sys; assert sys.version_info[:2] == (3, 12)' >/dev/null 2>&1 && echo $$c && break; done)

.PHONY: demo test lint fmt bench messages serve install clean

$(BIN)/activate:
	@test -n "$(PYTHON312)" || { echo "Python 3.12 is required (python3.12 not found)"; exit 1; }
	$(PYTHON312) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/activate pyproject.toml
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $@

install: $(VENV)/.installed

messages: install
	@if [ -d locale ]; then $(BIN)/pybabel compile --statistics -d locale -D django 2>&1 | tail -n 2; fi

# The embedded default: SQLite, eager tasks, static files served by WhiteNoise (no DEBUG needed).
demo: install messages
	$(PY) manage.py migrate --noinput
	LOG_LEVEL=WARNING DEMO_URL=http://$(HOST):$(PORT) $(PY) manage.py seed_demo
	@echo "Serving the demo: open http://$(HOST):$(PORT)/$${ADMIN_URL:-console/} and log in as printed above (Ctrl-C stops)."
	$(PY) manage.py runserver --noreload $(HOST):$(PORT)

# Development server with auto-reload, on whatever DATABASE_URL / CELERY_BROKER_URL say.
serve: install messages
	$(PY) manage.py migrate --noinput
	$(PY) manage.py runserver $(HOST):$(PORT)

# pytest exits 5 when nothing was collected: fine for a narrowed selection (PYTEST_ARGS), an
# error for the whole suite.
test: install messages
	@echo "$(BIN)/pytest $(PYTEST_ARGS)"
	@$(BIN)/pytest $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ] && [ -n "$(strip $(PYTEST_ARGS))" ]; then \
		echo "pytest: no tests matched the selection"; status=0; \
	fi; exit $$status

# Every check runs even when an earlier one fails; the target fails if any did.
lint: install
	@status=0; \
	for check in "$(BIN)/ruff check ." "$(BIN)/ruff format --check ." "$(BIN)/mypy ." \
		"$(BIN)/lint-imports" "env -u DATABASE_URL $(PY) manage.py makemigrations --check --dry-run"; do \
		echo "$$check"; $$check || { echo "FAILED: $$check"; status=1; }; \
	done; exit $$status

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	$(PY) benchmarks/ingest.py --json
	$(PY) benchmarks/notifications.py --json
	$(PY) benchmarks/tracking_page.py --json

clean:
	rm -rf $(VENV) var db.sqlite3*
