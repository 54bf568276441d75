# syntax=docker/dockerfile:1.7
# automl-bench images, from the repository root:
#
# The results API (the default target): the serving install only, the committed results
# baked in (JSON: nothing to unpickle, so no hash to pin).
#   docker build -f docker/automl-bench.Dockerfile -t tenfold-automl-bench .
#   docker run -p 8000:8000 tenfold-automl-bench
# or the registry's published version, followed as it is promoted:
#   docker run -p 8000:8000 -e MLFLOW_TRACKING_URI=http://mlflow:5000 \
#     -e TENFOLD_MODEL_URI=models:/automl_bench@champion -e TENFOLD_RELOAD_SECONDS=60 tenfold-automl-bench
#
# A Dask worker (and scheduler) with the same locked environment as the client that
# submits the grid (the train extra: the frameworks):
#   docker build -f docker/automl-bench.Dockerfile --target worker -t tenfold-automl-bench-worker .
#   docker run -p 8786:8786 -p 8787:8787 tenfold-automl-bench-worker
#   docker run -e TENFOLD_DATA_DIR=/data -v /datasets:/data:ro tenfold-automl-bench-worker \
#     dask worker tcp://SCHEDULER:8786 --nthreads 1 --nworkers 2
#   python -m automl_bench run --profile full --scheduler tcp://SCHEDULER:8786

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS base
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, from the lock alone, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/README.md shared/
COPY projects/churn/pyproject.toml projects/churn/README.md projects/churn/
COPY projects/housing/pyproject.toml projects/housing/README.md projects/housing/
COPY projects/fraud/pyproject.toml projects/fraud/README.md projects/fraud/
COPY projects/nlp/pyproject.toml projects/nlp/README.md projects/nlp/
COPY projects/automl-bench/pyproject.toml projects/automl-bench/README.md projects/automl-bench/

FROM base AS build-worker
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package automl-bench --extra train --no-install-workspace
COPY shared/src shared/src
COPY projects/churn/src projects/churn/src
COPY projects/housing/src projects/housing/src
COPY projects/fraud/src projects/fraud/src
COPY projects/nlp/src projects/nlp/src
COPY projects/automl-bench/src projects/automl-bench/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package automl-bench --extra train --no-editable

FROM ${PYTHON_IMAGE} AS worker
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build-worker --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app data/datasets.toml /app/data/datasets.toml
COPY --chown=app:app projects/automl-bench/constraints.toml /app/projects/automl-bench/constraints.toml
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TENFOLD_HOME=/app \
    # jobs start their framework in a child process: workers must not be daemons
    DASK_DISTRIBUTED__WORKER__DAEMON=False
USER app
EXPOSE 8786 8787
# scheduler and workers answer /health on their HTTP port (8787 for the scheduler)
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8787/health', timeout=2).status != 200)"]
CMD ["dask", "scheduler", "--host", "0.0.0.0", "--port", "8786", "--dashboard-address", ":8787"]

FROM base AS build
# --no-dev, no train extra: what serving the results needs (no frameworks, no optuna,
# matplotlib or mlflow server)
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package automl-bench --no-install-workspace
COPY shared/src shared/src
COPY projects/automl-bench/src projects/automl-bench/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package automl-bench --no-editable

FROM ${PYTHON_IMAGE} AS api
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app data/datasets.toml /app/data/datasets.toml
COPY --chown=app:app projects/automl-bench/constraints.toml /app/projects/automl-bench/constraints.toml
# the committed publication (reports/: metrics.json, <profile>/cells.json, figures)
COPY --chown=app:app projects/automl-bench/reports /app/results
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TENFOLD_HOME=/app \
    TENFOLD_MODEL_URI=/app/results
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"]
CMD ["python", "-m", "automl_bench", "serve", "--host", "0.0.0.0", "--port", "8000"]
