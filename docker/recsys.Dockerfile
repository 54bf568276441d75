# syntax=docker/dockerfile:1.7
# recsys API image: multi-stage, only the recsys package and its locked dependencies, non-root.
# With Redis: docker/recsys-compose.yml (api + redis, healthchecks).
# Build from the repository root:  docker build -f docker/recsys.Dockerfile -t tenfold-recsys .
# Run against an MLflow server:    docker run -p 8000:8000 -e MLFLOW_TRACKING_URI=http://mlflow:5000 tenfold-recsys
# or with an exported model folder (the service unpickles a folder only when its sha256 is
# the one the registry recorded at export, or the one TENFOLD_MODEL_SHA256 pins):
#                                  uv run python -m tenfold export-model models:/recsys@champion model
#                                  docker run -p 8000:8000 -v "$PWD/model:/app/model:ro" -e TENFOLD_MODEL_URI=/app/model \
#                                    -e TENFOLD_MODEL_SHA256=<the sha256 export-model printed> tenfold-recsys
# (or bake the hash in: docker build --build-arg TENFOLD_MODEL_SHA256=<sha256> ...)

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, from the lock alone, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/README.md shared/
COPY projects/recsys/pyproject.toml projects/recsys/README.md projects/recsys/
# --no-dev: the package's runtime dependencies only (no implicit, cornac, surprise, optuna,
# matplotlib or mlflow server: the registered model is numpy arrays)
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package recsys --no-install-workspace
COPY shared/src shared/src
COPY projects/recsys/src projects/recsys/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package recsys --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app data/datasets.toml /app/data/datasets.toml
# the hash of a mounted model folder, pinned at build time (empty: none pinned)
ARG TENFOLD_MODEL_SHA256=""
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TENFOLD_HOME=/app \
    TENFOLD_MODEL_URI=models:/recsys@champion \
    TENFOLD_MODEL_SHA256=${TENFOLD_MODEL_SHA256} \
    RECSYS_REDIS_URL=redis://redis:6379/0
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"]
CMD ["python", "-m", "recsys", "serve", "--host", "0.0.0.0", "--port", "8000"]
