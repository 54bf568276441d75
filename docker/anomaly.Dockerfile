# syntax=docker/dockerfile:1.7
# anomaly API image: multi-stage, only the anomaly package and its locked dependencies, non-root.
# Build from the repository root:  docker build -f docker/anomaly.Dockerfile -t tenfold-anomaly .
# It runs as is: without a model store it serves the published detectors and thresholds
# (projects/anomaly/reports/metrics.json, baked in). Against an MLflow server:
#   docker run -p 8000:8000 -e MLFLOW_TRACKING_URI=http://mlflow:5000 tenfold-anomaly
# With the autoencoder (CPU torch, several hundred MB):
#   docker build -f docker/anomaly.Dockerfile --build-arg WITH_DEEP=1 -t tenfold-anomaly-deep .

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, from the lock alone, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/README.md shared/
COPY projects/anomaly/pyproject.toml projects/anomaly/README.md projects/anomaly/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package anomaly --no-install-workspace
# WITH_DEEP=1 adds the autoencoder's torch, CPU build (PyPI's Linux wheel brings several
# GB of CUDA), at the version uv.lock pins.
ARG WITH_DEEP=0
RUN --mount=type=cache,target=/root/.cache/uv \
    if [ "$WITH_DEEP" = "1" ]; then \
        uv pip install --python /app/.venv/bin/python \
            --index-url https://download.pytorch.org/whl/cpu "torch==$(grep -A1 '^name = "torch"$' uv.lock | sed -n 's/^version = "\(.*\)"$/\1/p' | head -1)"; \
    fi
COPY shared/src shared/src
COPY projects/anomaly/src projects/anomaly/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package anomaly --no-editable --inexact

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app data/datasets.toml /app/data/datasets.toml
# the published thresholds, used when no model store is reachable
COPY --chown=app:app projects/anomaly/reports/metrics.json /app/projects/anomaly/reports/metrics.json
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TENFOLD_HOME=/app \
    TENFOLD_STATE_DIR=/tmp/state \
    TENFOLD_ANOMALY_REPORTS=/app/projects/anomaly/reports \
    TENFOLD_MAX_STREAMS=1000 \
    TENFOLD_STREAM_TTL_SECONDS=3600
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"]
CMD ["python", "-m", "anomaly", "serve", "--host", "0.0.0.0", "--port", "8000"]
