# syntax=docker/dockerfile:1.7
# retraining worker image: the Prefect flows (retrain, monitor) and an MLflow client, non-root.
# It serves both deployments on their interval schedules against PREFECT_API_URL and logs
# to MLFLOW_TRACKING_URI; the lake is RETRAINING_LAKE (s3://bucket/prefix). On EC2 the AWS
# credentials come from the instance profile (docs: projects/retraining/deploy/aws/DEPLOY.md).
# Build from the repository root:  docker build -f docker/retraining.Dockerfile -t tenfold-retraining .
# The whole host (Prefect server, MLflow, worker, API):  docker compose -f docker/retraining.compose.yml up -d
# The same image serves the champion:  docker run ... tenfold-retraining python -m retraining serve --host 0.0.0.0

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, from the lock alone, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/README.md shared/
COPY projects/fraud/pyproject.toml projects/fraud/README.md projects/fraud/
COPY projects/churn/pyproject.toml projects/churn/README.md projects/churn/
COPY projects/retraining/pyproject.toml projects/retraining/README.md projects/retraining/
# --no-dev --extra train: the worker trains (mlflow, prefect, evidently, s3fs, the projects it
# retrains), none of the developers' tools; the API runs from the same image
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package retraining --extra train --no-install-workspace
COPY shared/src shared/src
COPY projects/fraud/src projects/fraud/src
COPY projects/churn/src projects/churn/src
COPY projects/retraining/src projects/retraining/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package retraining --extra train --no-editable

FROM ${PYTHON_IMAGE} AS runtime
# LightGBM's wheel links OpenMP at run time
RUN apt-get update \
    && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app data/datasets.toml /app/data/datasets.toml
# The runner's own webserver answers /health while the worker keeps polling the Prefect
# API (503 once it misses polls): the container's health is the schedule's.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TENFOLD_HOME=/app \
    PREFECT_HOME=/home/app/.prefect \
    PREFECT_SERVER_ANALYTICS_ENABLED=false \
    PREFECT_RUNNER_SERVER_ENABLE=true \
    PREFECT_RUNNER_SERVER_HOST=127.0.0.1 \
    PREFECT_RUNNER_SERVER_PORT=8080 \
    RETRAIN_EVERY_SECONDS=3600 \
    MONITOR_EVERY_SECONDS=21600
USER app
HEALTHCHECK --interval=60s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=3).status != 200)"]
# shell form: the intervals and the lake come from the environment (compose, or docker run -e)
CMD exec python -m retraining deploy --lake "${RETRAINING_LAKE:?set RETRAINING_LAKE=s3://bucket/prefix}" \
    --every "$RETRAIN_EVERY_SECONDS" --monitor-every "$MONITOR_EVERY_SECONDS"
