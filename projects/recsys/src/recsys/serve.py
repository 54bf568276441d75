"""The recsys service: :mod:`recsys.api`'s router on ``tenfold.serving``'s factory.

- the model (``SPEC.load``): the registered serving model (its precomputed lists, and
  the fitted system to compute a list at request time) with its card;
- the resource ``store`` (:func:`store_resource`, opened in the lifespan): Redis when it
  answers, else the in-process store, announced in one line;
- the routes read the store through :func:`RecsysModel.store_for`: the first request
  after a (re)load checks that the store's current version holds this model's lists
  and writes them as a new version when it holds none or another model's (a fresh
  Redis, the in-process store, a hot-reloaded champion). A version published by the
  training run is used as it is.

``RECSYS_MODE=compute`` (``serve --mode compute``) answers the same routes computing
each user's list at request time on the service's threads (the latency benchmark's
baseline).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from recsys.api import router
from recsys.snapshot import ServingModel, Snapshot
from recsys.store import Kind, MemoryStore, Store, StoreSettings, Versioned, open_store
from tenfold import tracking
from tenfold.serving import ModelCard, ServiceSettings, ServiceSpec, card_from_record, run_blocking

log = logging.getLogger("recsys.serve")
DEFAULT_MODEL_URI = "models:/recsys@champion"
Mode = Literal["precomputed", "compute"]


class RecsysSettings(ServiceSettings):
    """The recsys service's environment: the shared ``TENFOLD_*`` settings and the mode
    (``RECSYS_MODE``); the store's own (``RECSYS_REDIS_URL``, ``RECSYS_STORE``) are
    :class:`recsys.store.StoreSettings`."""

    model_config = SettingsConfigDict(
        env_prefix="TENFOLD_", extra="ignore", protected_namespaces=(), populate_by_name=True
    )

    mode: Mode = Field(
        default="precomputed",
        validation_alias=AliasChoices("RECSYS_MODE"),
        description="precomputed: the store's lists; compute: each list computed per request",
    )


def load_serving_model(uri: str) -> tuple[ServingModel, ModelCard]:
    """A registered recsys model and its card (one clear error for anything else)."""
    record = tracking.load_sklearn_model(uri)
    model = record.model
    if not isinstance(model, ServingModel):
        raise tracking.IncompatibleModel(uri, "it is not a recsys serving model")
    card = card_from_record(
        record,
        details={"system": model.system, "top_n": model.top_n},
        metric_prefixes=("cv_", "test_", "validation_"),
    )
    return model, card


class ComputeStore:
    """Reads like a store, but a user's list is computed now from the model (on the
    service's threads: scoring is CPU work); similar items and popularity as precomputed."""

    backend = "compute"

    def __init__(self, model: ServingModel) -> None:
        self.model = model
        self.memory = MemoryStore()
        self.version = self.memory.publish(model.snapshot, model="compute")

    async def current_version(self) -> str | None:
        return self.version

    async def meta(self) -> dict[str, str] | None:
        return await self.memory.meta()

    def publish(self, snapshot: Snapshot, *, model: str, model_version: str | None) -> str:
        raise TypeError("the compute-at-request-time store holds no published lists")

    async def read(self, kind: Kind, key: str = "", limit: int | None = None) -> Versioned | None:
        if kind != "user":
            return await self.memory.read(kind, key, limit)
        try:
            entries = await run_blocking(
                self.model.compute_for_user, key, limit or self.model.top_n
            )
        except KeyError:
            entries = []
        return Versioned(self.version, entries)

    async def titles(self, version: str) -> dict[str, str]:
        return await self.memory.titles(version)


class RecsysModel:
    """What the service serves (``SPEC.load``'s answer): the serving model, its card, and
    which store holds its lists."""

    def __init__(self, model: ServingModel, card: ModelCard, *, mode: Mode = "precomputed"):
        self.model = model
        self.card = card
        self.card.details["mode"] = mode
        self.computed = ComputeStore(model) if mode == "compute" else None
        self._checked: Store | None = None
        self._lock = asyncio.Lock()

    async def store_for(self, store: Store) -> Store:
        """The store a route reads: ``store`` once it holds this model's lists (checked
        once, written when missing), or the lists computed per request."""
        if self.computed is not None:
            return self.computed
        if self._checked is not store:
            async with self._lock:
                if self._checked is not store:
                    await self._hold_lists(store)
                    self._checked = store
        return store

    async def _hold_lists(self, store: Store) -> None:
        card = self.card
        wanted = {"model": card.name, "model_version": card.version or ""}
        held = await store.meta() or {}
        if {key: held.get(key) for key in wanted} == wanted:
            log.info("the %s store holds %s version %s", store.backend, card.name, card.version)
        else:
            written = await run_blocking(
                store.publish, self.model.snapshot, model=card.name, model_version=card.version
            )
            log.info(
                "published %s version %s to the %s store as %s",
                card.name,
                card.version,
                store.backend,
                written,
            )
        card.details.update(store=store.backend, store_version=await store.current_version())


def load_predictor(settings: RecsysSettings) -> RecsysModel:
    model, card = load_serving_model(SPEC.model_uri(settings))
    return RecsysModel(model, card, mode=settings.mode)


@asynccontextmanager
async def store_resource(
    settings: ServiceSettings, store_settings: StoreSettings | None = None
) -> AsyncIterator[Store]:
    """The lifespan resource ``store``: Redis when it answers (closed on shutdown), else
    the in-process store, said in one line (``RECSYS_STORE=redis`` makes Redis required)."""
    async with open_store(store_settings or StoreSettings()) as store:
        yield store


SPEC = ServiceSpec(
    name="recsys",
    title="tenfold recsys API",
    description="Precomputed MovieLens recommendations and similar items, from Redis.",
    settings=RecsysSettings,
    load=load_predictor,
    default_model_uri=DEFAULT_MODEL_URI,
    routers=(router,),
    resources={"store": store_resource},
)

# the ASGI app factory: ``uvicorn --factory recsys.serve:app``
app = SPEC.app
