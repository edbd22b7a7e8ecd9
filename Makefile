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
.PHONY: help install kafka xapi-player dev test test-fast test-slow lint format contracts bench clean

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

dev: install ## Start infrastructure and all seven services; prints the gateway URL (Ctrl-C stops)
	@$(PY) -m podium_runtime.devstack

XAPI_PLAYER := bench/xapi-player/node_modules/.package-lock.json
$(XAPI_PLAYER): bench/xapi-player/package-lock.json
	@echo "installing the xAPI course-player client from its lock (npm ci)"
	@npm ci --prefix bench/xapi-player --no-audit --no-fund --loglevel=error

xapi-player: $(XAPI_PLAYER) ## Install the npm xAPI client the course-player test drives

test: install $(XAPI_PLAYER) ## Run every test against real Postgres, Redis and Apache Kafka
	@$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: install ## Run the pure and service-level tiers: no uvicorn, no Kafka (Postgres only)
	@$(PY) -m pytest -m "not slow" -n 0 $$(find libs services -path '*/tests/unit' -type d) $$(find libs services -path '*/tests/service' -type d) libs/contracts/tests tests/architecture

lint: install ## ruff (lint + format check), mypy on libraries and services, the architecture test
	@$(VENV)/bin/ruff check .
	@$(VENV)/bin/ruff format --check .
	@$(VENV)/bin/mypy libs/contracts/src libs/runtime/src services/*/src
	@$(PY) -m pytest -q -n 0 -p no:randomly tests/architecture

format: install ## Apply ruff's formatter and safe fixes
	@$(VENV)/bin/ruff format .
	@$(VENV)/bin/ruff check --fix .

consumers-doc: install ## Write the event → handler table of every consumers.py into docs/consumers.md
	@$(PY) tests/architecture/consumers_doc.py write

contracts: install ## Write the JSON Schemas of every event into libs/contracts/schemas
	@$(PY) -m podium_contracts.schemas

bench: install ## Run the benchmarks under bench/ and print their tables
	@for script in bench/bench_*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean: ## Remove the virtual environment, tools and local dev data
	rm -rf $(VENV) $(TOOLS) .podium

.PHONY: deploy-manifests render-manifests
deploy-manifests: install ## Regenerate the compose topic script and deploy/k8s base from the registry
	@$(PY) deploy/k8s/generate.py write

render-manifests: ## Render the Kubernetes overlays into build/k8s/{dev,prod}.yaml (needs kubectl)
	@mkdir -p build/k8s
	@for overlay in dev prod; do kubectl kustomize deploy/k8s/overlays/$$overlay > build/k8s/$$overlay.yaml && echo "build/k8s/$$overlay.yaml"; done
