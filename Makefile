# Two commands for a newcomer: `make run` and `make test`. The virtual environment is
# created and filled from requirements/dev.lock on first use, and again when the lock changes.

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-lock
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: run test test-fast bench lint lock migrate shell clean-data protocol

# The dev lock: the production lock's pins, the dev tools and the embedded engines (skipped
# on machines they have no wheels for: there `make run` asks for DATABASE_URL / REDIS_URL).
$(STAMP): requirements/dev.lock
	@test -x $(PY) || { echo "setup  | creating the virtual environment $(VENV)"; $(PYTHON) -m venv $(VENV); }
	@echo "setup  | installing the locked dependencies into $(VENV) (the first time takes a few minutes)"
	@$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes -r requirements/dev.lock
	@cp requirements/dev.lock $(STAMP)

run: $(STAMP)
	PORT=$(PORT) $(PY) -m server.run

test: $(STAMP)
	$(PY) -m server.embedded --redis-db 1 -- $(PY) -m pytest $(PYTEST_ARGS)

# Everything but the slow end-to-end tests (clone + make run).
test-fast: $(STAMP)
	$(PY) -m server.embedded --redis-db 1 -- $(PY) -m pytest -m "not slow" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) -m server.embedded -- $(PY) -m bench $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(PY) -m server.embedded -- $(VENV)/bin/mypy .

# Re-resolve pinned versions from pyproject.toml (needs the network to a package index),
# keeping the pins already locked: requirements/prod.lock (the image: no dev tools, no
# embedded engines) and requirements/dev.lock (make: all of it), both with hashes.
LOCK_OPTIONS := --quiet --generate-hashes --strip-extras --no-emit-index-url --no-emit-find-links
lock: $(STAMP)
	$(VENV)/bin/pip-compile $(LOCK_OPTIONS) -o requirements/prod.lock pyproject.toml
	$(VENV)/bin/pip-compile $(LOCK_OPTIONS) --extra dev --extra embedded -o requirements/dev.lock pyproject.toml
	$(PY) requirements/restore_markers.py requirements/dev.lock

migrate: $(STAMP)
	$(PY) -m server.embedded -- $(PY) manage.py migrate

shell: $(STAMP)
	$(PY) -m server.embedded -- $(PY) manage.py shell

clean-data:
	rm -rf .iop

# Regenerate docs/websocket-protocol.schema.json and the frame reference in
# docs/websocket-protocol.md from the room's frame models (a test checks they agree).
protocol: $(STAMP)
	$(PY) -m server.embedded -- $(PY) manage.py websocket_protocol
