"""What a running service holds (on ``app.state.service``) and the dependencies that
hand it to routes: the predictor, the settings, the lifespan resources, the
prediction log.

A project's router asks for them like any FastAPI dependency::

    @router.get("/v1/users/{user_id}/recommendations")
    async def recommend(
        user_id: str,
        predictor: Annotated[Recommender, Depends(current_predictor)],
        redis: Annotated[Redis, resource("redis")],
    ) -> Recommendations:
        return await run_blocking(predictor.recommend, user_id)
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from fastapi import Depends, Request

from tenfold.serving.errors import NotReady
from tenfold.serving.metrics import ServiceMetrics
from tenfold.serving.schemas import ModelCard
from tenfold.serving.settings import ServiceSettings
from tenfold.serving.sink import PredictionRecord, SinkWriter


class Served(Protocol):
    """What a service loads: anything with a :class:`ModelCard` (a forecaster, a
    recommender, an anomaly detector)."""

    card: ModelCard


class Predictor(Served, Protocol):
    """A loaded model that answers typed requests (what the predict routes call)."""

    def predict(self, items: Sequence[Any]) -> list[Any]: ...


@dataclass
class ServiceState:
    """One running service. ``predictor`` is swapped whole (one assignment) by a hot
    reload: a request reads it once and keeps that model to the end."""

    name: str
    settings: ServiceSettings
    metrics: ServiceMetrics
    executor: ThreadPoolExecutor | None = None
    predictor: Served | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    sink: SinkWriter | None = None

    def swap(self, predictor: Served) -> None:
        self.predictor = predictor
        card = predictor.card
        self.metrics.serving(card.name, card.version, card.run_id)


def service_state(request: Request) -> ServiceState:
    state: ServiceState = request.app.state.service
    return state


def served_predictor(request: Request) -> Any:
    """The model being served (503 while none is loaded)."""
    loaded = service_state(request).predictor
    if loaded is None:
        raise NotReady()
    return loaded


# The dependencies are ``async def`` although they never await: FastAPI runs a plain
# ``def`` dependency on a worker thread, and those hops were more than half of a
# Redis-backed GET's CPU (1.3 -> 0.55 ms per request without them) and most of its p99.


async def current_predictor(request: Request) -> Any:
    """Dependency: the model being served (503 while none is loaded)."""
    return served_predictor(request)


async def current_service(request: Request) -> ServiceState:
    """Dependency: the running service's state."""
    return service_state(request)


async def service_settings(request: Request) -> ServiceSettings:
    return service_state(request).settings


def resource(name: str) -> Any:
    """A dependency handing a route the resource ``name`` the service opened in its
    lifespan (``ServiceSpec.resources``): ``redis: Annotated[Redis, resource("redis")]``."""

    async def opened(request: Request) -> Any:
        resources = service_state(request).resources
        if name not in resources:
            raise KeyError(f"no resource {name!r}; the spec declares {sorted(resources)}")
        return resources[name]

    opened.__name__ = f"resource_{name}"
    return Depends(opened)


def record_predictions(
    request: Request,
    inputs: Sequence[Any],
    outputs: Sequence[Any],
    *,
    model: ModelCard,
    single: bool = False,
) -> None:
    """Hand what a route scored to the prediction log (a no-op without a sink): one
    record per item, queued without waiting."""
    state = service_state(request)
    if state.sink is None:
        return
    scope_state: Mapping[str, Any] = request.scope.get("state") or {}
    started = scope_state.get("started", time.perf_counter())
    latency_ms = (time.perf_counter() - started) * 1000
    timestamp = datetime.fromtimestamp(scope_state.get("started_at", time.time()), UTC)
    request_id = str(scope_state.get("request_id", ""))
    endpoint = getattr(request.scope.get("route"), "path", request.url.path)
    state.sink.offer(
        [
            PredictionRecord(
                request_id=request_id,
                endpoint=endpoint,
                model=model.name,
                model_version=model.version,
                inputs=item,
                outputs=output,
                timestamp=timestamp,
                latency_ms=latency_ms,
                index=None if single else k,
            )
            for k, (item, output) in enumerate(zip(inputs, outputs, strict=True))
        ]
    )
