"""The app factory: a :class:`ServiceSpec` in, a FastAPI service out.

The factory builds every service the same way:

- routers: the ops routes (``/health``, ``/ready``, ``/metrics``, ``/v1/model``), the
  predict routes when the spec has a request model (``/v1/predict``,
  ``/v1/predict/batch``), and the project's own routers;
- ``lifespan``: the project's resources opened in order (a Redis client, a database
  pool) and closed in reverse on shutdown, even when startup fails half-way; the
  prediction log's writer; the model loaded on a thread; optionally a watcher that
  swaps in a new version of the registry alias without a restart;
- CPU work on the service's own threads (:func:`~tenfold.serving.run_blocking`);
- errors in documented shapes, a body limit, request ids, Prometheus metrics, and an
  optional API key (``TENFOLD_API_KEY``) on every ``/v1`` route.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from fastapi import APIRouter, FastAPI, Security
from fastapi.params import Depends as DependsParam
from fastapi.security import APIKeyHeader
from prometheus_client.registry import Collector
from pydantic import BaseModel

from tenfold.serving.concurrency import prediction_executor
from tenfold.serving.errors import Unauthorized, install_contract, install_handlers
from tenfold.serving.fields import standard_bounds
from tenfold.serving.metrics import ServiceMetrics
from tenfold.serving.middleware import BodyLimit, Instrumentation
from tenfold.serving.routers import ops_router, predict_router
from tenfold.serving.settings import ServiceSettings
from tenfold.serving.sink import JsonlSink, PredictionSink, SinkWriter
from tenfold.serving.state import Served, ServiceState

log = logging.getLogger("tenfold.serving")

S = TypeVar("S", bound=ServiceSettings)


@dataclass(frozen=True, kw_only=True)
class ServiceSpec(Generic[S]):
    """What a project declares; :func:`create_app` builds the service from it.

    - ``settings``: the service's settings class (a :class:`ServiceSettings` subclass);
    - ``load(settings)``: the model (anything with a ``card``), from
      ``settings.model_uri`` (already resolved to ``default_model_uri`` when unset);
    - ``request``/``response``: the predict routes' models (none: no predict routes;
      ``single``/``batch`` drop one of the two);
    - ``routers``: the project's own routers, or ``settings → router`` factories;
    - ``resources``: ``name → factory(settings)`` of async context managers, opened in
      ``lifespan`` and handed to routes by ``resource(name)``;
    - ``sink``: ``factory(settings, resources)`` of the prediction log (default: a
      JSONL file when ``TENFOLD_PREDICTION_LOG`` is set, else none);
    - ``registered_version``: the version an alias URI points at now, for hot reload
      (default: :func:`tenfold.tracking.registered_version`);
    - ``collectors``: ``factory(settings, resources)`` of the service's own Prometheus
      collectors (e.g. a resource's gauges), registered on the service's registry after
      the resources open (so ``/metrics`` shows them) and removed on shutdown.
    """

    name: str
    title: str
    load: Callable[[S], Served]
    default_model_uri: str
    # a service's own subclass; the base class is the default for a spec without one
    settings: type[S] = ServiceSettings  # type: ignore[assignment]
    request: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    single: bool = True
    batch: bool = True
    description: str = ""
    routers: Sequence[APIRouter | Callable[[S], APIRouter]] = ()
    resources: Mapping[str, Callable[[S], AbstractAsyncContextManager[Any]]] = field(
        default_factory=dict
    )
    sink: Callable[[S, Mapping[str, Any]], PredictionSink] | None = None
    registered_version: Callable[[str], str | None] | None = None
    collectors: Callable[[S, Mapping[str, Any]], Sequence[Collector]] | None = None
    tags: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if (self.request is None) != (self.response is None):
            raise ValueError(f"{self.name}: give both request and response models, or neither")

    def model_uri(self, settings: ServiceSettings) -> str:
        """The model to load: ``TENFOLD_MODEL_URI`` / ``--model-uri``, else the champion."""
        return settings.model_uri or self.default_model_uri

    def app(self, settings: S | None = None) -> FastAPI:
        """The ASGI app factory a project exposes as ``<pkg>.serve:app``
        (``uvicorn --factory <pkg>.serve:app``)."""
        return create_app(self, settings)


def api_key_guard(settings: ServiceSettings) -> list[DependsParam]:
    """The dependency requiring ``X-API-Key`` when a key is set (and nothing otherwise,
    so the OpenAPI document shows the key as required only then)."""
    if settings.api_key is None:
        return []
    expected = settings.api_key.get_secret_value().encode("utf-8")
    header = APIKeyHeader(name="X-API-Key", auto_error=False)

    async def require_key(key: str | None = Security(header)) -> None:
        # bytes, not str: compare_digest refuses non-ASCII text (a 500 for `café`);
        # HTTP header values arrive as latin-1, which gives back the bytes sent
        if key is None or not secrets.compare_digest(key.encode("latin-1"), expected):
            raise Unauthorized()

    return [Security(require_key)]


def create_app(
    spec: ServiceSpec[S],
    settings: S | None = None,
    *,
    predictor: Served | None = None,
    sink: PredictionSink | None = None,
) -> FastAPI:
    """Build the service. ``predictor`` skips the first load (tests hand in a tiny model;
    ``serve`` loads it before the server starts, to fail with one clear line); ``sink``
    replaces the spec's prediction log."""
    settings = settings if settings is not None else spec.settings()
    resolved = settings.model_copy(update={"model_uri": spec.model_uri(settings)})
    state = ServiceState(name=spec.name, settings=settings, metrics=ServiceMetrics.create())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            executor = prediction_executor(settings.prediction_threads)
            stack.callback(executor.shutdown, wait=False, cancel_futures=True)
            state.executor = executor
            stack.callback(setattr, state, "executor", None)
            stack.callback(state.resources.clear)
            for name, factory in spec.resources.items():
                state.resources[name] = await stack.enter_async_context(factory(settings))
                log.info("%s: opened %s", spec.name, name)
            if spec.collectors is not None:
                for collector in spec.collectors(settings, state.resources):
                    state.metrics.registry.register(collector)
                    stack.callback(state.metrics.registry.unregister, collector)
            chosen = _sink(spec, settings, state.resources, sink)
            if chosen is not None:
                writer = SinkWriter(
                    chosen,
                    state.metrics,
                    max_queue=settings.prediction_log_queue,
                    linger_seconds=settings.prediction_log_linger_ms / 1000,
                )
                writer.start()
                state.sink = writer
                stack.push_async_callback(writer.close)
                stack.callback(setattr, state, "sink", None)
            loaded = predictor
            if loaded is None:
                log.info("loading model %s", resolved.model_uri)
                loaded = await asyncio.to_thread(spec.load, resolved)
            _describe_inputs(spec, loaded)
            state.swap(loaded)
            stack.callback(setattr, state, "predictor", None)
            log.info("serving %s version %s", loaded.card.name, loaded.card.version)
            if settings.reload_seconds > 0:
                watcher = asyncio.get_running_loop().create_task(
                    _watch(spec, resolved, state), name=f"{spec.name}-reload"
                )
                stack.push_async_callback(_cancel, watcher)
            yield

    app = FastAPI(title=spec.title, description=spec.description, version="1.0", lifespan=lifespan)
    app.state.service = state
    guard = api_key_guard(settings)
    # the library's routes on the app's own router (listed in app.routes); a project's
    # routers included beside them
    ops_router(guard=guard, router=app.router)
    if spec.request is not None and spec.response is not None:
        predict_router(
            spec.request,
            spec.response,
            max_batch=settings.max_batch,
            single=spec.single,
            batch=spec.batch,
            guard=guard,
            router=app.router,
            inline_below_seconds=settings.inline_below_ms / 1000,
        )
    for router in spec.routers:
        built = router if isinstance(router, APIRouter) else router(settings)
        app.include_router(built, dependencies=guard)
    install_handlers(app)
    install_contract(app, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Instrumentation, metrics=state.metrics, state=state)
    return app


def _sink(
    spec: ServiceSpec[S],
    settings: S,
    resources: Mapping[str, Any],
    given: PredictionSink | None,
) -> PredictionSink | None:
    if given is not None:
        return given
    if spec.sink is not None:
        return spec.sink(settings, resources)
    if settings.prediction_log is not None:
        return JsonlSink(settings.prediction_log)
    return None


def _describe_inputs(spec: ServiceSpec[Any], loaded: Served) -> None:
    if spec.request is not None:
        loaded.card.input_schema = standard_bounds(spec.request.model_json_schema())


async def _watch(spec: ServiceSpec[S], settings: S, state: ServiceState) -> None:
    """Every ``reload_seconds``: if the alias points at another version, load it on a
    thread and swap it in; requests in flight finish on the model they started with."""
    uri = str(settings.model_uri)
    version_of = spec.registered_version
    if version_of is None:
        from tenfold.tracking import registered_version

        version_of = registered_version
    if "@" not in uri:
        log.info("%s: reload off, %s is not a registry alias", spec.name, uri)
        return
    while True:
        await asyncio.sleep(settings.reload_seconds)
        current = state.predictor.card.version if state.predictor is not None else None
        try:
            latest = await asyncio.to_thread(version_of, uri)
            if latest is None or latest == current:
                continue
            log.info("%s: %s now points at version %s; loading it", spec.name, uri, latest)
            loaded = await asyncio.to_thread(spec.load, settings)
        except Exception as exc:  # keep serving the model we have
            log.warning(
                "%s: reload of %s failed, still serving %s: %s", spec.name, uri, current, exc
            )
            continue
        _describe_inputs(spec, loaded)
        state.swap(loaded)
        state.metrics.model_swaps.inc()
        log.info("%s: now serving version %s (was %s)", spec.name, loaded.card.version, current)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
