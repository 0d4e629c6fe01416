# Two entry points (see README): `make run` and `make test`.
# Each creates .venv on first use and reinstalls when pyproject.toml changes.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run install test lint bench clean lock system-deps image screenshots

# Installs are reproducible: the exact versions in requirements/*.lock, then
# olactors itself without resolving anything again. `make lock` refreshes them.
$(VENV)/.run: pyproject.toml requirements/run.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements/run.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.test: pyproject.toml requirements/test.lock
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements/test.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@ $(VENV)/.run

# pip-tools in a throwaway venv: it is how the locks are made, not a dependency.
lock:
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet pip-tools
	.lock-venv/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file requirements/run.lock pyproject.toml
	.lock-venv/bin/pip-compile --quiet --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra test --output-file requirements/test.lock pyproject.toml
	rm -rf .lock-venv

# olactors and its locked dependencies into .venv, nothing else.
install: $(VENV)/.run

# CONFIG=path picks a configuration (else $$OLACTORS_CONFIG, config/olactors.toml...).
run: $(VENV)/.run
	$(BIN)/olactors run $(if $(CONFIG),--config $(CONFIG))

lint: $(VENV)/.test
	$(BIN)/ruff check src tests scripts
	$(BIN)/ruff format --check src tests scripts
	$(BIN)/mypy

# redis-server and chromium, installed with apt when missing.
system-deps:
	scripts/system-deps.sh

# pytest exits 5 when it collects nothing; that is not a failure of the code.
test: system-deps lint
	$(BIN)/pytest; status=$$?; \
	if [ $$status -eq 5 ]; then echo "pytest: no tests collected"; exit 0; fi; exit $$status

bench: $(VENV)/.test
	$(BIN)/python scripts/bench_runtime.py
	$(BIN)/python scripts/bench_store.py
	$(BIN)/python scripts/bench_clients.py
	$(BIN)/python scripts/bench_ingest.py
	$(BIN)/python scripts/bench_e2e.py
	$(BIN)/python scripts/bench_broadcast.py

# The dashboard's main views, as the browser tests see them, for the docs.
screenshots: $(VENV)/.test system-deps
	OLACTORS_SCREENSHOTS=docs/screenshots $(BIN)/pytest -q tests/admin/test_dashboard_endpoints.py

# The container image (Dockerfile), when a Docker engine answers here.
IMAGE ?= olactors:latest
image:
	@if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then \
		docker build -t $(IMAGE) .; \
	else \
		echo "image: no Docker engine answers here; nothing built" >&2; \
	fi

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
