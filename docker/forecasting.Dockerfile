# syntax=docker/dockerfile:1.7
# forecasting API image: multi-stage, only the forecasting package and its locked dependencies, non-root.
# Build from the repository root:  docker build -f docker/forecasting.Dockerfile -t tenfold-forecasting .
# Run against an MLflow server:    docker run -p 8000:8000 -e MLFLOW_TRACKING_URI=http://mlflow:5000 tenfold-forecasting
# or with an exported model folder (the service unpickles a folder only when its sha256 is
# the one the registry recorded at export, or the one TENFOLD_MODEL_SHA256 pins):
#                                  uv run python -m tenfold export-model models:/forecasting@champion model
#                                  docker run -p 8000:8000 -v "$PWD/model:/app/model:ro" -e TENFOLD_MODEL_URI=/app/model \
#                                    -e TENFOLD_MODEL_SHA256=<the sha256 export-model printed> tenfold-forecasting
# The registered champion carries the series it forecasts from, so the API needs no data volume.
# The image serves a LightGBM or seasonal-naive champion; a Prophet champion needs Prophet
# (EXTRAS="--extra train"). The Streamlit app, built with its extra (streamlit, matplotlib;
# it also reads the backtest from the MLflow run):
#   docker build -f docker/forecasting.Dockerfile --build-arg EXTRAS="--extra app" -t tenfold-forecasting .
#   docker run -p 8501:8501 -e MLFLOW_TRACKING_URI=... tenfold-forecasting \
#       streamlit run /app/forecasting_app.py --server.address 0.0.0.0

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, from the lock alone, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/README.md shared/
COPY projects/forecasting/pyproject.toml projects/forecasting/README.md projects/forecasting/
# --no-dev: the package's runtime dependencies only (LightGBM, mlforecast, holidays; no
# Prophet, matplotlib or the MLflow server); EXTRAS="--extra app" adds the app's.
ARG EXTRAS=""
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package forecasting --no-install-workspace $EXTRAS
COPY shared/src shared/src
COPY projects/forecasting/src projects/forecasting/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package forecasting --no-editable $EXTRAS

FROM ${PYTHON_IMAGE} AS runtime
# libgomp: LightGBM's OpenMP runtime (not in the slim image)
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app data/datasets.toml /app/data/datasets.toml
COPY --chown=app:app projects/forecasting/src/forecasting/app.py /app/forecasting_app.py
# the hash of a mounted model folder, pinned at build time (empty: none pinned)
ARG TENFOLD_MODEL_SHA256=""
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TENFOLD_HOME=/app \
    TENFOLD_MODEL_URI=models:/forecasting@champion \
    TENFOLD_MODEL_SHA256=${TENFOLD_MODEL_SHA256}
USER app
EXPOSE 8000 8501
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request, sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/ready', timeout=2).status != 200)"]
CMD ["python", "-m", "forecasting", "serve", "--host", "0.0.0.0", "--port", "8000"]
