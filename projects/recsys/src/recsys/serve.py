"""The recsys service: the router of :mod:`recsys.api` on the store of :mod:`recsys.store`.

TEMPORARY ASSEMBLY. ``tenfold.serving.create_app`` does not yet take project routers or
lifespan resources (issue 9 adds both); until it does, :func:`app` builds a small
FastAPI app itself: ``/health``, ``/ready``, ``/v1/model``, the shared 422 shape, and
the router. When the new factory lands, mount ``recsys.api.router`` and hand it
:func:`store_resource` as a lifespan resource (overriding ``recsys.api.get_store``);
nothing in the router or the store changes.

Start-up: open the store (Redis, else in-process); when it holds no published version
(a fresh Redis, or the in-process store), load the champion from the registry and
publish its snapshot. ``RECSYS_MODE=compute`` serves the same routes computing each
user's list at request time (the latency benchmark's baseline).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, Literal

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from starlette.concurrency import run_in_threadpool

from recsys.api import router
from recsys.snapshot import ServingModel
from recsys.store import (
    Kind,
    MemoryStore,
    Store,
    StoreSettings,
    Versioned,
    open_store,
    publish,
    sync_client_or_none,
)
from tenfold.serving import ModelCard, ServiceSettings

log = logging.getLogger("recsys.serve")
DEFAULT_MODEL_URI = "models:/recsys@champion"


class RecsysSettings(BaseSettings):
    """``RECSYS_MODE``: ``precomputed`` (the store's lists) or ``compute`` (per request)."""

    model_config = SettingsConfigDict(env_prefix="RECSYS_", extra="ignore")

    mode: Literal["precomputed", "compute"] = Field(default="precomputed")


def load_serving_model(uri: str) -> tuple[ServingModel, ModelCard]:
    from tenfold import tracking
    from tenfold.serving import card_from_record

    record = tracking.load_sklearn_model(uri)
    model = record.model
    if not isinstance(model, ServingModel):
        raise RuntimeError(f"{uri} is not a recsys serving model")
    card = card_from_record(record, details={"champion": model.champion, "top_n": model.top_n})
    return model, card


class ComputeStore:
    """Reads like a store, but a user's list is computed now from the model (in a
    worker thread: scoring is CPU work); similar items and popularity as precomputed."""

    backend = "compute"

    def __init__(self, model: ServingModel) -> None:
        self.model = model
        self.memory = MemoryStore()
        self.version = self.memory.publish(model.snapshot)

    async def current_version(self) -> str | None:
        return self.version

    async def read(self, kind: Kind, key: str = "", limit: int | None = None) -> Versioned | None:
        if kind != "user":
            return await self.memory.read(kind, key, limit)
        try:
            entries = await run_in_threadpool(
                self.model.compute_for_user, key, limit or self.model.top_n
            )
        except KeyError:
            entries = []
        return Versioned(self.version, entries)

    async def titles(self, version: str) -> dict[str, str]:
        return await self.memory.titles(version)


@asynccontextmanager
async def store_resource(
    settings: ServiceSettings, store_settings: StoreSettings | None = None
) -> AsyncIterator[tuple[Store, ModelCard]]:
    """The lifespan resource: a store holding a published version, and the card of the
    model behind it."""
    mode = RecsysSettings().mode
    uri = settings.model_uri or DEFAULT_MODEL_URI
    store_settings = store_settings or StoreSettings()
    async with open_store(store_settings) as store:
        version = await store.current_version()
        card = ModelCard(name="recsys", uri=uri, details={"store": store.backend})
        if mode == "compute" or version is None:
            model, card = await run_in_threadpool(load_serving_model, uri)
            card.details["store"] = store.backend
            if mode == "compute":
                log.info("serving %s computed at request time", uri)
                yield ComputeStore(model), card
                return
            if isinstance(store, MemoryStore):
                store.publish(model.snapshot)
            else:
                client = sync_client_or_none(store_settings)
                await run_in_threadpool(
                    publish, client, model.snapshot, model=card.name, model_version=card.version
                )
                client.close()
            log.info(
                "published %s version %s to the %s store", card.name, card.version, store.backend
            )
        card.details["store_version"] = await store.current_version()
        yield store, card


def _field_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    from tenfold.serving import _field_errors as shared

    return shared(exc.errors())


def app(settings: ServiceSettings | None = None) -> FastAPI:
    """The ASGI app factory (``uvicorn --factory recsys.serve:app``; ``python -m recsys serve``)."""
    settings = settings or ServiceSettings()

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[None]:
        async with store_resource(settings) as (store, card):
            application.state.recsys_store = store
            application.state.card = card
            yield
            application.state.recsys_store = None

    application = FastAPI(
        title="tenfold recsys API",
        description="Precomputed MovieLens recommendations and similar items, from Redis.",
        version="1.0",
        lifespan=lifespan,
    )
    application.state.recsys_store = None
    application.include_router(router)

    @application.get("/health", tags=["ops"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @application.get("/ready", tags=["ops"])
    async def ready(request: Request) -> JSONResponse:
        store = request.app.state.recsys_store
        if store is None:
            return JSONResponse({"status": "loading"}, status_code=503)
        version = await store.current_version()
        return JSONResponse({"status": "ready", "store": store.backend, "version": version})

    @application.get("/v1/model", response_model=ModelCard, tags=["model"])
    async def model_card(request: Request) -> ModelCard:
        card: ModelCard = request.app.state.card
        return card

    @application.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _field_errors(exc)}, status_code=422)

    return application
