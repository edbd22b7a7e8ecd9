# Podium developer commands. `make help` lists them.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
PY := $(VENV)/bin/python
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
# Apache Kafka for `make dev` and `make test`, fetched from Maven Central (ADR 0005).
KAFKA_VERSION := $(shell sed -n 's/^KAFKA_VERSION = "\(.*\)"/\1/p' libs/runtime/src/podium_runtime/kafka_embedded.py)
KAFKA_LIBS := $(TOOLS)/kafka-$(KAFKA_VERSION)/libs/.complete
# Parallel workers for `make test` (each gets its own Postgres, Redis and broker).
TEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install kafka xapi-player dev test test-fast test-slow lint format contracts bench loadtest clean
.PHONY: web web-api web-dev test-python test-web lint-web bench-web

# The web app (web/): Node 20+ with npm; Chromium for its end-to-end tests and benchmark.
WEB := web
WEB_INSTALLED := $(WEB)/node_modules/.installed
WEB_BUILT := $(WEB)/dist/index.html
WEB_SOURCES := $(shell find $(WEB)/src $(WEB)/public -type f 2>/dev/null) $(WEB)/index.html \
	$(WEB)/vite.config.ts $(WEB)/tsconfig.json $(WEB)/package.json
CHROMIUM ?= /usr/bin/chromium
# Playwright drives the distribution's Chromium; it never downloads browsers.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

help: ## List every target with its description
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-18s\033[0m %s\n", $$1, $$2}'

$(UV):
	@echo "installing uv $(UV_VERSION) into $(TOOLS)/"
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(UV) uv.lock pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	@echo "installing dependencies from uv.lock into $(VENV)/"
	@$(UV) sync --frozen --all-packages --python $(PYTHON)
	@touch $@

install: $(VENV)/.installed kafka ## Install the locked dependencies into .venv (bootstraps uv) and Apache Kafka

kafka: $(VENV)/.installed ## Fetch the pinned Apache Kafka into .tools/ with Maven (skipped without Java 17+)
	@test -f $(KAFKA_LIBS) || $(PY) -m podium_runtime.kafka_embedded install

dev: install web ## Build the web app if stale, start infrastructure and all seven services; prints the app URL (Ctrl-C stops)
	@$(PY) -m podium_runtime.devstack

XAPI_PLAYER := bench/xapi-player/node_modules/.package-lock.json
$(XAPI_PLAYER): bench/xapi-player/package-lock.json
	@echo "installing the xAPI course-player client from its lock (npm ci)"
	@npm ci --prefix bench/xapi-player --no-audit --no-fund --loglevel=error

xapi-player: $(XAPI_PLAYER) ## Install the npm xAPI client the course-player test drives

test: install ## Every test: pytest (real Postgres, Redis, Apache Kafka) and the web app's, in parallel
	@$(MAKE) --no-print-directory -j2 --output-sync=target test-python test-web

test-python: install $(XAPI_PLAYER) ## Run every Python test against real Postgres, Redis and Apache Kafka
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

$(WEB_INSTALLED): $(WEB)/package.json $(WEB)/package-lock.json
	@command -v npm >/dev/null || { echo "the web app needs Node.js 20+ with npm (https://nodejs.org)"; exit 1; }
	@echo "installing the web app's locked dependencies into $(WEB)/node_modules/"
	@cd $(WEB) && npm ci --no-audit --no-fund --prefer-offline --loglevel=error
	@touch $@

$(WEB_BUILT): $(WEB_INSTALLED) $(WEB_SOURCES)
	@echo "building the web app into $(WEB)/dist/"
	@cd $(WEB) && npm run --silent build

web: $(WEB_BUILT) ## Build the web app into web/dist (npm ci + vite build, only when stale)

web-api: install $(WEB_INSTALLED) ## Regenerate web/openapi.json and the typed API client from the gateway
	@$(PY) -m podium_gateway.openapi_export $(WEB)/openapi.json
	@cd $(WEB) && npx openapi-typescript openapi.json -o src/lib/api-schema.d.ts

web-dev: $(WEB_INSTALLED) ## Vite dev server with hot reload, proxied to the gateway of `make dev` (PODIUM_GATEWAY_PORT)
	@cd $(WEB) && PODIUM_GATEWAY_URL=http://127.0.0.1:$${PODIUM_GATEWAY_PORT:-8000} npx vite

$(CHROMIUM):
	@echo "installing Debian's chromium for the browser tests"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium

test-web: install web $(CHROMIUM) ## The web app's Vitest units, then its end-to-end scenarios in headless Chromium
	@cd $(WEB) && npx vitest run
	@cd $(WEB) && PODIUM_CHROMIUM=$(CHROMIUM) npx playwright test

lint-web: $(WEB_INSTALLED) ## ESLint and strict TypeScript on the web app
	@cd $(WEB) && npx eslint . && npx tsc --noEmit -p .

# The test and lint targets keep Python's bytecode caches even where the shell sets
# PYTHONDONTWRITEBYTECODE: without them every run recompiles every module it imports,
# which was most of `make test-fast`'s CPU time.
test-fast test-python lint: export PYTHONDONTWRITEBYTECODE :=

test-fast: install ## Run the pure and service-level tiers: no uvicorn, no Kafka (Postgres only)
	@$(PY) -m pytest -m "not slow" -n 0 --hypothesis-profile=fast $$(find libs services -path '*/tests/unit' -type d) $$(find libs services -path '*/tests/service' -type d) libs/contracts/tests tests/architecture

lint: install ## ruff (lint + format check), mypy on libraries and services, the architecture test, ESLint + tsc on the web app
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy libs/contracts/src libs/runtime/src services/*/src
	@$(PY) -m pytest -q -n 0 -p no:randomly tests/architecture
	@$(MAKE) --no-print-directory lint-web

format: install ## Apply ruff's formatter and safe fixes
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

consumers-doc: install ## Write the event → handler table of every consumers.py into docs/consumers.md
	@$(PY) tests/architecture/consumers_doc.py write

contracts: install ## Write the JSON Schemas of every event into libs/contracts/schemas
	@$(PY) -m podium_contracts.schemas

# wrk drives the read benchmark (bench/bench_reads.py): a compiled load generator.
WRK ?= /usr/bin/wrk
$(WRK):
	@echo "installing Debian's wrk for the read benchmark"
	@if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q wrk

bench: install $(WRK) ## Run the benchmarks under bench/ (and the web app's), each after a probe of the host's speed, and print their tables
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) bench/_support.py; $(PY) $$script || exit 1; done
	@$(MAKE) --no-print-directory bench-web

loadtest: install ## Locust load test, 5 min: 500 visitors, 50 participants, 20 LRS clients, a sponsor (LOADTEST_DURATION, LOADTEST_SCALE, LOADTEST_URL)
	@PYTHONPATH=bench $(PY) -m loadtest

bench-web: install web $(CHROMIUM) ## The web app in Chromium: initial bundle, first board render, live update delay
	@echo "== web/bench/board.spec.ts"
	@cd $(WEB) && PODIUM_CHROMIUM=$(CHROMIUM) npx playwright test --config bench/playwright.config.ts

clean: ## Remove the virtual environment, tools and local dev data
	rm -rf $(VENV) $(TOOLS) .podium

.PHONY: deploy-manifests render-manifests
deploy-manifests: install ## Regenerate the compose topic script and deploy/k8s base from the registry
	@$(PY) deploy/k8s/generate.py write

render-manifests: ## Render the Kubernetes overlays into build/k8s/{dev,prod}.yaml (needs kubectl)
	@mkdir -p build/k8s
	@for overlay in dev prod; do kubectl kustomize deploy/k8s/overlays/$$overlay > build/k8s/$$overlay.yaml && echo "build/k8s/$$overlay.yaml"; done
