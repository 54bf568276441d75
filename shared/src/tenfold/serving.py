"""The FastAPI app factory every project serves through.

A project supplies a :class:`ServiceSpec`: its request and response models and a
function that loads a :class:`Predictor`. The factory adds the rest, the same for all
ten projects:

- ``/health`` (process is up), ``/ready`` (model loaded), ``/v1/predict``,
  ``/v1/predict/batch``, ``/v1/model`` (name, version, run id, trained at, metrics,
  input schema), ``/metrics`` (Prometheus);
- the model is loaded in ``lifespan``, never at import;
- 422 with one entry per bad field for client mistakes, never a 500;
- a request id on every response (``X-Request-ID``, echoed when the client sends one);
- request counts and latency by endpoint and status, and the model version, for
  Prometheus; an optional API key (``TENFOLD_API_KEY``) on the ``/v1`` routes.

The middleware is plain ASGI rather than ``BaseHTTPMiddleware``: the latter adds
hundreds of microseconds per request, which is the whole latency budget.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint annotations at
# runtime, and the request model is a local variable of the factory.

import logging
import re
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, MutableMapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from pydantic import BaseModel, Field, SecretStr, create_model
from pydantic_settings import BaseSettings, SettingsConfigDict

from tenfold.errors import InvalidInput as InvalidInput  # re-exported (older imports)
from tenfold.explain import Scores, plain, top_factors, value_at

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

log = logging.getLogger("tenfold.serving")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
LATENCY_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0, 5.0)


class ServiceSettings(BaseSettings):
    """Environment values of a running service (``TENFOLD_MODEL_URI`` etc.)."""

    model_config = SettingsConfigDict(
        env_prefix="TENFOLD_", extra="ignore", protected_namespaces=()
    )

    model_uri: str | None = Field(
        default=None, description="models:/<name>@champion, models:/<name>/<version> or a path"
    )
    api_key: SecretStr | None = Field(default=None, description="required X-API-Key if set")
    max_batch: int = Field(default=1000, ge=1, description="largest accepted batch")


class ModelCard(BaseModel):
    """What ``/v1/model`` reports."""

    name: str
    version: str | None = None
    run_id: str | None = None
    trained_at: str | None = None
    uri: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    input_schema: dict[str, Any] = Field(default_factory=dict)


def card_from_record(
    record: "ModelRecord",
    *,
    details: Mapping[str, Any] | None = None,
    metric_prefixes: tuple[str, ...] = ("cv_", "test_"),
) -> ModelCard:
    """The card of a model loaded with :func:`tenfold.tracking.load_sklearn_model`: its
    registry identity and the run's headline metrics (per-fold steps left out)."""
    return ModelCard(
        name=record.name,
        version=record.version,
        run_id=record.run_id,
        trained_at=record.trained_at,
        uri=record.uri,
        metrics={
            k: v
            for k, v in record.metrics.items()
            if k.startswith(metric_prefixes) and not k.endswith("_fold")
        },
        details=dict(details or {}),
    )


class ReasonCode(BaseModel):
    """One driver of a prediction, in words and numbers (a field of a response)."""

    feature: str
    value: str | float | int | None
    direction: Literal["increases", "decreases"]
    contribution: float = Field(description="contribution to the margin (log-odds of a classifier)")
    readable: str


def reason_codes(
    scores: Scores,
    i: int,
    sources: Sequence[str],
    *,
    outcome: str,
    label: Callable[[str], str] = str,
    k: int = 3,
) -> list[ReasonCode]:
    """Row ``i``'s ``k`` largest contributions (from :class:`tenfold.explain.FastScorer`)
    as reason codes that read "<label> = <value> increases <outcome>"."""
    values = {name: plain(value_at(v, i)) for name, v in scores.inputs.items()}
    return [
        ReasonCode(
            feature=f.feature,
            value=f.value,
            direction=f.direction,
            contribution=round(f.contribution, 4),
            readable=f"{label(f.feature)} = {f.value} {f.direction} {outcome}",
        )
        for f in top_factors(scores.contributions[i], sources, values, k=k)
    ]


class Predictor(Protocol):
    """A loaded model that answers typed requests."""

    card: ModelCard

    def predict(self, items: Sequence[Any]) -> list[Any]: ...


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    title: str
    request: type[BaseModel]
    response: type[BaseModel]
    load: Callable[[ServiceSettings], Predictor]
    default_model_uri: str
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)

    def model_uri(self, settings: ServiceSettings) -> str:
        """The model to load: ``TENFOLD_MODEL_URI`` / ``--model-uri``, else the champion."""
        return settings.model_uri or self.default_model_uri

    def app(self, settings: ServiceSettings | None = None) -> FastAPI:
        """The ASGI app factory a project exposes as ``<pkg>.serve:app``
        (``uvicorn --factory <pkg>.serve:app``)."""
        return create_app(self, settings)


@dataclass
class _Metrics:
    registry: CollectorRegistry
    requests: Counter
    latency: Histogram
    model_info: Gauge
    predictions: Counter

    @classmethod
    def create(cls) -> "_Metrics":
        # A registry per app: several apps in one process (tests) never collide.
        registry = CollectorRegistry()
        return cls(
            registry=registry,
            requests=Counter(
                "tenfold_http_requests",
                "HTTP requests by endpoint and status",
                ["endpoint", "method", "status"],
                registry=registry,
            ),
            latency=Histogram(
                "tenfold_http_request_duration_seconds",
                "Request latency by endpoint",
                ["endpoint", "method"],
                buckets=LATENCY_BUCKETS,
                registry=registry,
            ),
            model_info=Gauge(
                "tenfold_model_info",
                "Loaded model (value 1)",
                ["model", "version", "run_id"],
                registry=registry,
            ),
            predictions=Counter(
                "tenfold_predictions", "Items scored", ["model"], registry=registry
            ),
        )


class _Instrumentation:
    """Request id, latency and status counts for every HTTP request (pure ASGI)."""

    def __init__(self, app: ASGIApp, metrics: _Metrics, known: frozenset[str]) -> None:
        self.app = app
        self.metrics = metrics
        self.known = known

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500
        header = (b"x-request-id", request_id.encode())

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            path = scope["path"]
            endpoint = path if path in self.known else "other"
            method = scope["method"]
            self.metrics.requests.labels(endpoint, method, str(status)).inc()
            self.metrics.latency.labels(endpoint, method).observe(time.perf_counter() - started)


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            text = value.decode("latin-1")
            return text if _REQUEST_ID.match(text) else None
    return None


def _field_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p != "body"]
        out.append(
            {
                "field": ".".join(loc) or "body",
                "message": err.get("msg", "invalid"),
                "type": err.get("type", "value_error"),
            }
        )
    return out


def create_app(
    spec: ServiceSpec,
    settings: ServiceSettings | None = None,
    *,
    predictor: Predictor | None = None,
) -> FastAPI:
    """Build the service. ``predictor`` skips loading (tests hand in a tiny model)."""
    settings = settings or ServiceSettings()
    metrics = _Metrics.create()
    request_model = spec.request
    response_model = spec.response
    batch_request = create_model(
        f"{request_model.__name__}Batch",
        items=(list[request_model], Field(min_length=1, max_length=settings.max_batch)),  # type: ignore[valid-type]
    )
    batch_response = create_model(
        f"{response_model.__name__}Batch",
        predictions=(list[response_model], ...),  # type: ignore[valid-type]
        model_version=(str | None, None),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loaded = predictor
        if loaded is None:
            uri = settings.model_uri or spec.default_model_uri
            log.info("loading model %s", uri)
            loaded = spec.load(settings.model_copy(update={"model_uri": uri}))
        loaded.card.input_schema = request_model.model_json_schema()
        app.state.predictor = loaded
        card = loaded.card
        metrics.model_info.labels(card.name, card.version or "", card.run_id or "").set(1)
        log.info("serving %s version %s", card.name, card.version)
        yield
        app.state.predictor = None

    app = FastAPI(title=spec.title, description=spec.description, version="1.0", lifespan=lifespan)
    app.state.predictor = None

    api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False)

    async def require_key(key: str | None = Security(api_key_header)) -> None:
        expected = settings.api_key
        if expected is None:
            return
        if key is None or not secrets.compare_digest(key, expected.get_secret_value()):
            raise _Unauthorized()

    def current(request: Request) -> Predictor:
        loaded: Predictor | None = request.app.state.predictor
        if loaded is None:
            raise _NotReady()
        return loaded

    @app.get("/health", tags=["ops"], summary="Liveness: the process answers")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        tags=["ops"],
        summary="Readiness: a model is loaded",
        responses={503: {"description": "model not loaded"}},
    )
    async def ready(request: Request) -> JSONResponse:
        loaded = request.app.state.predictor
        if loaded is None:
            return JSONResponse({"status": "loading"}, status_code=503)
        return JSONResponse(
            {"status": "ready", "model": loaded.card.name, "version": loaded.card.version}
        )

    guarded = [Depends(require_key)]
    model_label = spec.name

    @app.post(
        "/v1/predict",
        response_model=response_model,
        tags=["predict"],
        dependencies=guarded,
        summary="Score one item",
        responses={422: {"description": "invalid input, one entry per bad field"}},
    )
    async def predict(item: request_model, request: Request) -> Any:  # type: ignore[valid-type]
        result = current(request).predict([item])[0]
        metrics.predictions.labels(model_label).inc()
        return result

    @app.post(
        "/v1/predict/batch",
        response_model=batch_response,
        tags=["predict"],
        dependencies=guarded,
        summary="Score a batch of items",
    )
    async def predict_batch(batch: batch_request, request: Request) -> Any:  # type: ignore[valid-type]
        loaded = current(request)
        items = batch.items  # type: ignore[attr-defined]
        results = loaded.predict(items)
        metrics.predictions.labels(model_label).inc(len(items))
        return {"predictions": results, "model_version": loaded.card.version}

    @app.get(
        "/v1/model",
        response_model=ModelCard,
        tags=["model"],
        dependencies=guarded,
        summary="The loaded model: version, run, metrics, input schema",
    )
    async def model_card(request: Request) -> ModelCard:
        return current(request).card

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    def request_id(request: Request) -> str | None:
        state: dict[str, str] = request.scope.get("state", {})
        return state.get("request_id")

    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(
            {"detail": _field_errors(exc.errors()), "request_id": request_id(request)},
            status_code=422,
        )

    @app.exception_handler(InvalidInput)
    async def on_invalid_input(request: Request, exc: InvalidInput) -> JSONResponse:
        return JSONResponse(
            {
                "detail": [{"field": exc.field, "message": exc.message, "type": "value_error"}],
                "request_id": request_id(request),
            },
            status_code=422,
        )

    @app.exception_handler(_Unauthorized)
    async def on_unauthorized(request: Request, exc: _Unauthorized) -> JSONResponse:
        return JSONResponse(
            {"detail": "missing or wrong X-API-Key", "request_id": request_id(request)},
            status_code=401,
        )

    @app.exception_handler(_NotReady)
    async def on_not_ready(request: Request, exc: _NotReady) -> JSONResponse:
        return JSONResponse(
            {"detail": "model not loaded yet", "request_id": request_id(request)}, status_code=503
        )

    @app.exception_handler(Exception)
    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error (request %s)", request_id(request))
        return JSONResponse(
            {"detail": "internal error", "request_id": request_id(request)}, status_code=500
        )

    known = frozenset(route.path for route in app.routes if hasattr(route, "path"))
    app.add_middleware(_Instrumentation, metrics=metrics, known=known)
    return app


class _Unauthorized(Exception):
    pass


class _NotReady(Exception):
    pass


def serve_app(
    build: Callable[[ServiceSettings], FastAPI],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_uri: str | None = None,
) -> None:
    """What every project's ``serve`` command does: settings from the environment, an
    optional model URI from the command line, then uvicorn."""
    settings = ServiceSettings()
    if model_uri:
        settings = settings.model_copy(update={"model_uri": model_uri})
    run(build(settings), host=host, port=port)


def run(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve with uvicorn (uvloop + httptools when installed, as with uvicorn[standard])."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, workers=workers, access_log=False, log_level="info")
