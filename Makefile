# Two commands, both safe to repeat:
#   make run    set up .venv, then serve perfapi (embedded PostgreSQL unless PERFAPI_DATABASE_URL);
#               a first start loads the demo data: open http://127.0.0.1:8000/ for the console
#   make test   set up .venv, then run the whole test suite (PERFAPI_TEST_DATABASE_URL or embedded)

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test check lint openapi typescript-check fuzz lock clean screenshot vendor-uplot

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "perfapi needs Python 3.11 or newer")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint constraints.txt --editable '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/perfapi serve --demo

test: $(STAMP)
	$(BIN)/pytest

# Static checks CI runs besides the tests.
check: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy --strict src
	$(BIN)/perfapi openapi --check

openapi: $(STAMP)
	$(BIN)/perfapi openapi

# Schemathesis against a live `perfapi serve` on a fresh database: 5 minutes, every check,
# the stateful phase; reports in .perfapi/fuzz/. ARGS="--ci" is the short run CI keeps.
fuzz: $(STAMP)
	$(BIN)/python -m tests.fuzz.run $(ARGS)

# The committed openapi/openapi.json still generates a TypeScript client that type-checks:
# openapi-typescript + openapi-fetch + tsc, pinned by examples/typescript/package-lock.json.
typescript-check:
	cd examples/typescript && npm ci --no-audit --no-fund && npm run check

# docs/console.png, the README's picture of the console: a real `perfapi serve --demo` (on
# PERFAPI_TEST_DATABASE_URL's server, else an embedded PostgreSQL) shot by Chromium.
screenshot: $(STAMP)
	$(BIN)/python -m tests.console.screenshot

# The console's chart library, vendored from the npm registry (npm checks the tarball's
# integrity); bump UPLOT_VERSION and run this to update it.
UPLOT_VERSION := 1.6.32
UPLOT_DIR := src/perfapi/console/static/vendor/uplot
vendor-uplot:
	rm -rf .vendor-uplot && mkdir .vendor-uplot
	cd .vendor-uplot && npm pack --silent uplot@$(UPLOT_VERSION) >/dev/null && tar xzf uplot-$(UPLOT_VERSION).tgz
	cp .vendor-uplot/package/dist/uPlot.iife.min.js .vendor-uplot/package/dist/uPlot.min.css \
		.vendor-uplot/package/LICENSE $(UPLOT_DIR)/
	rm -rf .vendor-uplot

# Re-pin every dependency to the newest release allowed by pyproject.toml.
lock:
	rm -rf .lock-venv
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet --upgrade pip
	.lock-venv/bin/python -m pip install --quiet '.[dev]'
	.lock-venv/bin/python -m pip freeze --exclude perfapi > constraints.txt
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	rm -rf examples/typescript/node_modules examples/typescript/src/perfapi.d.ts
