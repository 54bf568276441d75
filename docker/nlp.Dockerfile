# syntax=docker/dockerfile:1.7
# nlp API image: multi-stage, only the nlp package and its locked dependencies, non-root.
# Build from the repository root:  docker build -f docker/nlp.Dockerfile -t tenfold-nlp .
#
# By default the build trains the TF-IDF model itself (stage `model`): BBC News is
# assembled from the commit-pinned archive in data/datasets.toml, its sha256 checked, and
# the build fails rather than train on anything else. The image holds the fitted model,
# never the articles. So the image runs as is (this is what deploy/render.yaml builds):
#   docker run -p 8000:8000 tenfold-nlp
# The service unpickles a model folder only when its sha256 is pinned: the build writes
# the baked model's hash beside it (read-only, owned by root) and the command pins it.
# Serve a model of your own store instead (the embeddings model needs WITH_DEEP=1),
# pinning the hash export-model prints:
#   uv run python -m tenfold export-model models:/nlp@embeddings model
#   docker build -f docker/nlp.Dockerfile --build-arg WITH_DEEP=1 -t tenfold-nlp-deep .
#   docker run -p 8000:8000 -v "$PWD/model:/app/model:ro" \
#     -e TENFOLD_MODEL_SHA256=<the sha256 export-model printed> tenfold-nlp-deep

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
COPY --from=ghcr.io/astral-sh/uv:0.13.9 /uv /bin/uv
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
WORKDIR /app
# Dependencies first, from the lock alone, so code changes do not invalidate this layer.
COPY pyproject.toml uv.lock ./
COPY shared/pyproject.toml shared/README.md shared/
COPY projects/nlp/pyproject.toml projects/nlp/README.md projects/nlp/
# --no-dev: the package's runtime dependencies only (no optuna, matplotlib, mlflow server)
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package nlp --no-install-workspace
# WITH_DEEP=1 adds the embeddings model's torch (CPU build: PyPI's Linux wheel brings
# several GB of CUDA) and the rest of the `deep` extra at its locked versions.
ARG WITH_DEEP=0
RUN --mount=type=cache,target=/root/.cache/uv \
    if [ "$WITH_DEEP" = "1" ]; then \
        uv export --frozen --package nlp --extra deep --no-hashes --no-header --no-annotate \
            --no-emit-workspace | grep -v -E '^(torch|triton)==|^(nvidia-|cuda-)' > /tmp/deep.txt \
        && uv pip install --python /app/.venv/bin/python \
            --index-url https://download.pytorch.org/whl/cpu "torch==$(grep -A1 '^name = "torch"$' uv.lock | sed -n 's/^version = "\(.*\)"$/\1/p' | head -1)" \
        && uv pip install --python /app/.venv/bin/python -r /tmp/deep.txt; \
    fi
COPY shared/src shared/src
COPY projects/nlp/src projects/nlp/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package nlp --no-editable --inexact

# The served model: trained here on the verified BBC News archive (TF-IDF, ~1 min).
FROM build AS model
COPY data/datasets.toml /app/data/datasets.toml
# Training needs the `train` extra (full mlflow with its sqlite store, optuna); only this
# stage has it: the runtime copies the build stage's venv.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package nlp --extra train --no-editable --inexact
ENV PATH=/app/.venv/bin:$PATH TENFOLD_HOME=/app TENFOLD_STATE_DIR=/tmp/state
RUN python -m nlp train --model tfidf --require-real-data \
    && python -m tenfold export-model models:/nlp@champion /app/model \
        --sha256-file /app/model.sha256

FROM ${PYTHON_IMAGE} AS runtime
RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin app
WORKDIR /app
COPY --from=build --chown=app:app /app/.venv /app/.venv
COPY --chown=app:app data/datasets.toml /app/data/datasets.toml
# root-owned: the service user can read the model, not change it
COPY --from=model /app/model /app/model
COPY --from=model /app/model.sha256 /app/model.sha256
# PORT: Render (and most PaaS) tell the service where to listen; 8000 elsewhere.
ENV PATH=/app/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    TENFOLD_HOME=/app \
    TENFOLD_STATE_DIR=/tmp/state \
    TENFOLD_MODEL_URI=/app/model \
    HF_HUB_OFFLINE=1 \
    PORT=8000
USER app
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request, sys; sys.exit(urllib.request.urlopen(f\"http://127.0.0.1:{os.environ['PORT']}/ready\", timeout=2).status != 200)"]
# the baked model's hash unless the run pins another (a mounted folder)
CMD ["sh", "-c", "TENFOLD_MODEL_SHA256=\"${TENFOLD_MODEL_SHA256:-$(cat /app/model.sha256)}\" exec python -m nlp serve --host 0.0.0.0 --port \"$PORT\""]
