# tenfold: every target works from a fresh clone with only python3 and make.
# uv is bootstrapped into .tools/ when it is not on PATH; the environment comes from uv.lock.

# every folder under projects/ with a pyproject.toml is a project with the same targets
PROJECTS    := $(patsubst projects/%/pyproject.toml,%,$(wildcard projects/*/pyproject.toml))
UV_VERSION  := 0.13.9
UV          := $(shell command -v uv 2>/dev/null || echo $(CURDIR)/.tools/uv/bin/uv)
RUN         := $(UV) run --frozen --no-sync
SYNCED      := .venv/.synced-$(shell cat uv.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
MLFLOW_PORT ?= 5000
PORT        ?= 8000
REDIS_PORT  ?= 6379
REDIS_DIR   := $(CURDIR)/.redis

.DEFAULT_GOAL := help
.PHONY: help setup test test-unit test-service test-slow test-repro test-fast lint format mlflow-ui clean housing-app forecasting-app nlp-deep anomaly-app anomaly-deep retraining-server retraining-server-stop mlops-demo redis-start redis-stop $(PROJECTS) $(PROJECTS:%=%-serve)

help: ## Show this help
	@echo "tenfold: ten ML engineering projects on one small library"
	@echo
	@echo "  make <project>        run a project end to end (data → training → evaluation → registered model)"
	@echo "  make <project>-serve  serve its champion model on http://127.0.0.1:$(PORT)"
	@echo "  projects: $(PROJECTS)"
	@echo
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@echo "uv not found: installing uv $(UV_VERSION) into .tools/uv"
	python3 -m pip install --quiet --disable-pip-version-check --target .tools/uv "uv==$(UV_VERSION)"

$(SYNCED): uv.lock pyproject.toml | $(UV)
	# --inexact keeps opt-in extras added later (e.g. `make nlp-deep`)
	$(UV) sync --frozen --all-packages --inexact
	@rm -f .venv/.synced-* && touch $@

setup: $(SYNCED) ## Install every project and the dev tools (uv sync --frozen)

$(PROJECTS): %: $(SYNCED)
	$(RUN) python -m $(subst -,_,$*) run

$(PROJECTS:%=%-serve): %-serve: $(SYNCED)
	$(RUN) python -m $(subst -,_,$*) serve --port $(PORT)

housing-app: $(SYNCED) ## Start the housing Streamlit app (http://127.0.0.1:8501)
	$(RUN) streamlit run projects/housing/src/housing/app.py --server.address 127.0.0.1 --server.headless true

forecasting-app: $(SYNCED) ## Start the forecasting Streamlit app (http://127.0.0.1:8501)
	$(RUN) streamlit run projects/forecasting/src/forecasting/app.py --server.address 127.0.0.1 --server.headless true

PREFECT_PORT ?= 4200
retraining-server: $(SYNCED) ## Start a local Prefect server for retraining (127.0.0.1:4200, its own PREFECT_HOME in .prefect/server)
	$(RUN) python -m retraining server start --port $(PREFECT_PORT)

retraining-server-stop: $(SYNCED) ## Stop the server retraining-server started (by its process id)
	$(RUN) python -m retraining server stop

mlops-demo: $(SYNCED) ## The mlops system end to end: PostgreSQL, Prefect, Prometheus, the API, simulated days with drift, retraining, hot reload
	$(RUN) python -m mlops demo

# recsys serves precomputed lists from Redis: its serve target starts the server first
recsys-serve: redis-start
recsys-serve: export RECSYS_REDIS_URL ?= redis://127.0.0.1:$(REDIS_PORT)/0

redis-start: ## Start redis-server on 127.0.0.1:$(REDIS_PORT) unless one answers (recsys; stop: make redis-stop)
	@if redis-cli -h 127.0.0.1 -p $(REDIS_PORT) ping >/dev/null 2>&1; then \
		echo "redis: already answering on 127.0.0.1:$(REDIS_PORT)"; \
	elif ! command -v redis-server >/dev/null 2>&1; then \
		echo "redis: redis-server not installed (apt-get install -y redis-server); recsys will use its in-process store"; \
	else \
		mkdir -p $(REDIS_DIR) && \
		redis-server --bind 127.0.0.1 --port $(REDIS_PORT) --save '' --appendonly no --daemonize yes \
			--pidfile $(REDIS_DIR)/redis.pid --dir $(REDIS_DIR) --logfile $(REDIS_DIR)/redis.log && \
		for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli -h 127.0.0.1 -p $(REDIS_PORT) ping >/dev/null 2>&1 && break; sleep 0.2; done; \
		echo "redis: started on 127.0.0.1:$(REDIS_PORT) (pid $$(cat $(REDIS_DIR)/redis.pid))"; \
	fi

redis-stop: ## Stop the redis-server that redis-start started (by its PID)
	@if [ -f $(REDIS_DIR)/redis.pid ]; then kill "$$(cat $(REDIS_DIR)/redis.pid)" && rm -f $(REDIS_DIR)/redis.pid && echo "redis: stopped"; \
	else echo "redis: none started here"; fi

nlp-deep: $(SYNCED) ## Add the opt-in torch + sentence-transformers extra for the nlp dense model
	sh projects/nlp/scripts/install_deep.sh "$(UV)"

anomaly-app: $(SYNCED) ## Start the anomaly dashboard (Streamlit, http://127.0.0.1:8501)
	$(RUN) streamlit run projects/anomaly/src/anomaly/app.py --server.address 127.0.0.1 --server.headless true

anomaly-deep: $(SYNCED) ## Add the opt-in torch extra for the anomaly autoencoder (CPU wheel when provided)
	sh scripts/install_torch_extra.sh anomaly deep "$(UV)"

# The test tiers (docs/testing.md), fastest first; pytest's exit code 5 (no test in a
# tier) is not a failure. PYTEST_ARGS passes options through (e.g. --durations=20).
PYTEST_ARGS ?=
PYTEST := $(RUN) pytest $(PYTEST_ARGS)
TIER    = || test $$? -eq 5

test: $(SYNCED) ## Every tier, fastest first, all run even if one fails (what CI runs; real data when TENFOLD_DATA_DIR is set)
	@status=0; for tier in unit service slow; do \
	    $(MAKE) --no-print-directory test-$$tier || status=1; \
	done; exit $$status

test-unit: $(SYNCED) ## Tier 1: unit, API, data-layer and estimator checks (no server, no full training)
	$(PYTEST) -m "not slow and not service" $(TIER)

test-service: $(SYNCED) ## Tier 2: tests that start a process or a service (uvicorn, a serving venv, Redis, ...)
	$(PYTEST) -m "service and not slow" $(TIER)

test-slow: $(SYNCED) ## Tier 3: full trainings and the re-runs of the committed results
	$(PYTEST) -m slow $(TIER)

test-repro: $(SYNCED) ## Only the checks that re-compute committed results (before publishing)
	$(PYTEST) -m repro $(TIER)

test-fast: $(SYNCED) ## Tiers 1 and 2 (everything but the slow tests)
	$(PYTEST) -m "not slow" $(TIER)

lint: $(SYNCED) ## ruff (lint + format check) and mypy --strict on the library and every project
	$(RUN) ruff check .
	$(RUN) ruff format --check .
	$(RUN) mypy

format: $(SYNCED) ## Apply ruff's fixes and formatting
	$(RUN) ruff check --fix .
	$(RUN) ruff format .

mlflow-ui: $(SYNCED) ## Open the MLflow UI on the local store (port 5000, or MLFLOW_PORT=...)
	$(RUN) mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.mlflow/mlflow.db --host 127.0.0.1 --port $(MLFLOW_PORT)

clean: ## Remove the venv, caches, the local MLflow store and unpublished reports
	rm -rf .venv .tools .mlflow .redis .pytest_cache .mypy_cache .ruff_cache
	rm -rf projects/*/reports/synthetic projects/*/reports/custom
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
