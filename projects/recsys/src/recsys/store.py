"""Where the precomputed lists live: Redis, or an in-process store with the same interface.

Versioned writes: a snapshot is written under keys of a new version
(``recsys:v{N}:user:{id}``, ``...:similar:{id}``, ``...:popular``, ``...:titles``) with
pipelined batches, and only then does one ``SET recsys:current vN`` switch readers to
it. A read is one Lua script (atomic in Redis) that looks up the current version and the
list in the same step, so a reader never combines two versions; older versions are
deleted once two newer ones exist, so one in flight is never pulled away.

A list is stored as text, ``item:score item:score ...`` (compact, and one GET).
:func:`open_store` is the resource the service's lifespan opens: the real Redis when it
answers, else the in-process store, announced in one line. Each version records which
model it holds (``{version}:meta``), so a service can tell whether the store already
holds the lists of the model it serves.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from recsys.snapshot import Scored, Snapshot

log = logging.getLogger("recsys.store")

PREFIX = "recsys"
CURRENT = f"{PREFIX}:current"
VERSIONS = f"{PREFIX}:versions"
Kind = Literal["user", "similar", "popular"]

# KEYS[1] = the pointer; ARGV = kind ("user"/"similar"/"popular") and id
_READ = """
local v = redis.call('GET', KEYS[1])
if not v then return false end
local key = ARGV[1] == 'popular' and (v .. ':popular') or (v .. ':' .. ARGV[1] .. ':' .. ARGV[2])
return {v, redis.call('GET', key) or false}
"""


class StoreSettings(BaseSettings):
    """``RECSYS_REDIS_URL`` (default the local server); ``RECSYS_STORE=memory`` skips Redis."""

    model_config = SettingsConfigDict(env_prefix="RECSYS_", extra="ignore")

    redis_url: str = Field(default="redis://127.0.0.1:6379/0")
    store: Literal["auto", "redis", "memory"] = Field(default="auto")
    connect_timeout: float = Field(default=0.5, gt=0)


def encode(entries: Iterable[Scored]) -> str:
    return " ".join(f"{e.item}:{e.score:.6g}" for e in entries)


def decode(text: str | bytes | None, limit: int | None = None) -> list[Scored]:
    """The entries of a stored list; only the first ``limit`` are parsed when given (a
    request for 10 items should not parse 100)."""
    if not text:
        return []
    if isinstance(text, bytes):
        text = text.decode()
    pairs = text.split(" ", limit) if limit is not None else text.split(" ")
    if limit is not None:
        pairs = pairs[:limit]
    out = []
    for pair in pairs:
        item, _, score = pair.rpartition(":")
        out.append(Scored(item, float(score)))
    return out


@dataclass(frozen=True)
class Versioned:
    version: str
    entries: list[Scored]


class Store(Protocol):
    """What the API reads (async), and how a service writes a new version (sync: call it
    on a thread)."""

    backend: str

    async def current_version(self) -> str | None: ...

    async def meta(self) -> dict[str, str] | None:
        """What the current version holds (``model``, ``model_version``, ...), or None
        when no version is published."""
        ...

    def publish(self, snapshot: Snapshot, *, model: str, model_version: str | None) -> str:
        """Write ``snapshot`` as a new version and switch readers to it; its name."""
        ...

    async def read(self, kind: Kind, key: str = "", limit: int | None = None) -> Versioned | None:
        """The list of the current version (its first ``limit`` entries when given), or
        None when no version is published; an unknown key gives an empty list and the
        version."""
        ...

    async def titles(self, version: str) -> dict[str, str]: ...


# --------------------------------------------------------------------------- writing


def snapshot_records(snapshot: Snapshot) -> Iterator[tuple[Kind, str, str]]:
    """Every list of a snapshot as (kind, id, encoded text)."""
    for user, items, scores in snapshot.user_rows():
        yield (
            "user",
            user,
            " ".join(
                f"{i}:{s:.6g}"
                for i, s in zip(items.tolist(), np.round(scores, 6).tolist(), strict=True)
            ),
        )
    for item in snapshot.items:
        entries = snapshot.similar(str(item)) or []
        if entries:
            yield "similar", str(item), encode(entries)
    yield "popular", "", encode(snapshot.most_popular())


def _key(version: str, kind: Kind, ident: str) -> str:
    return f"{version}:popular" if kind == "popular" else f"{version}:{kind}:{ident}"


def publish(
    client: Any,
    snapshot: Snapshot,
    *,
    model: str,
    model_version: str | None,
    batch: int = 2000,
    keep: int = 2,
) -> str:
    """Write ``snapshot`` as a new version (pipelined, ``batch`` commands per round trip),
    switch ``recsys:current`` to it, then delete all but the ``keep`` newest versions.
    ``client`` is a synchronous redis-py client. Returns the new version's name."""
    number = int(client.incr(f"{PREFIX}:version_counter"))
    version = f"{PREFIX}:v{number}"
    pipe = client.pipeline(transaction=False)
    pending = 0
    for kind, ident, text in snapshot_records(snapshot):
        pipe.set(_key(version, kind, ident), text)
        pending += 1
        if pending >= batch:
            pipe.execute()
            pending = 0
    titles = snapshot.title_map()
    items = list(titles.items())
    for start in range(0, len(items), batch):
        pipe.hset(f"{version}:titles", mapping=dict(items[start : start + batch]))
        pipe.execute()
    pipe.hset(
        f"{version}:meta",
        mapping={
            "model": model,
            "model_version": model_version or "",
            "users": len(snapshot.users),
            "items": len(snapshot.items),
            "written_at": f"{time.time():.0f}",
        },
    )
    pipe.rpush(VERSIONS, version)
    pipe.execute()
    # the switch: one atomic SET, after every key of the version exists
    client.set(CURRENT, version)
    _drop_old_versions(client, keep)
    return version


def _drop_old_versions(client: Any, keep: int) -> None:
    versions = [v.decode() if isinstance(v, bytes) else v for v in client.lrange(VERSIONS, 0, -1)]
    for old in versions[:-keep] if keep else versions:
        for keys in _chunks(client.scan_iter(match=f"{old}:*", count=5000), 5000):
            client.unlink(*keys)
        client.lrem(VERSIONS, 1, old)


def _chunks(iterable: Iterable[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for value in iterable:
        chunk.append(value)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


# --------------------------------------------------------------------------- Redis


class RedisStore:
    """Reads through ``redis.asyncio``: one script call per request; writes a version
    through a synchronous client of the same server (pipelined, see :func:`publish`)."""

    backend = "redis"

    def __init__(self, client: Any, settings: StoreSettings | None = None) -> None:
        self.client = client
        self.settings = settings or StoreSettings()
        self._read = client.register_script(_READ)
        self._titles: dict[str, dict[str, str]] = {}
        self._lock = asyncio.Lock()

    async def current_version(self) -> str | None:
        value = await self.client.get(CURRENT)
        return _text(value) if value is not None else None

    async def meta(self) -> dict[str, str] | None:
        version = await self.current_version()
        if version is None:
            return None
        raw = await self.client.hgetall(f"{version}:meta")
        return {_text(k): _text(v) for k, v in raw.items()}

    def publish(self, snapshot: Snapshot, *, model: str, model_version: str | None) -> str:
        settings = self.settings
        client = redis_client(settings.redis_url, settings.connect_timeout, asyncio_client=False)
        try:
            return publish(client, snapshot, model=model, model_version=model_version)
        finally:
            client.close()

    async def read(self, kind: Kind, key: str = "", limit: int | None = None) -> Versioned | None:
        found = await self._read(keys=[CURRENT], args=[kind, key])
        if not found:
            return None
        version, text = found
        version = version.decode() if isinstance(version, bytes) else version
        return Versioned(version, decode(text, limit) if text else [])

    async def titles(self, version: str) -> dict[str, str]:
        """A version's titles, fetched once and kept (they never change in a version)."""
        cached = self._titles.get(version)
        if cached is not None:
            return cached
        async with self._lock:
            if version not in self._titles:
                raw = await self.client.hgetall(f"{version}:titles")
                self._titles = {version: {_text(k): _text(v) for k, v in raw.items()}}
            return self._titles[version]


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


# --------------------------------------------------------------------------- in-process


@dataclass
class _Version:
    name: str
    lists: dict[tuple[Kind, str], str]
    titles: dict[str, str]
    meta: dict[str, str]


@dataclass
class MemoryStore:
    """The same interface without Redis: versions are dicts, and the switch is one
    assignment of the current version (atomic under the GIL)."""

    backend: str = "memory"
    _current: _Version | None = None
    _counter: int = 0
    _history: list[str] = field(default_factory=list)

    def publish(
        self, snapshot: Snapshot, *, model: str = "", model_version: str | None = None
    ) -> str:
        self._counter += 1
        name = f"{PREFIX}:v{self._counter}"
        lists = {(kind, ident): text for kind, ident, text in snapshot_records(snapshot)}
        meta = {"model": model, "model_version": model_version or ""}
        self._current = _Version(name, lists, snapshot.title_map(), meta)
        self._history.append(name)
        return name

    async def current_version(self) -> str | None:
        return self._current.name if self._current else None

    async def meta(self) -> dict[str, str] | None:
        current = self._current
        return dict(current.meta) if current is not None else None

    async def read(self, kind: Kind, key: str = "", limit: int | None = None) -> Versioned | None:
        current = self._current  # one read of the pointer: the whole answer is this version
        if current is None:
            return None
        text = current.lists.get((kind, key))
        return Versioned(current.name, decode(text, limit) if text else [])

    async def titles(self, version: str) -> dict[str, str]:
        current = self._current
        return current.titles if current is not None and current.name == version else {}


# --------------------------------------------------------------------------- the resource


def redis_client(url: str, timeout: float, *, asyncio_client: bool) -> Any:
    if asyncio_client:
        import redis.asyncio as aredis

        return aredis.Redis.from_url(url, socket_connect_timeout=timeout)
    import redis

    return redis.Redis.from_url(url, socket_connect_timeout=timeout)


def sync_client_or_none(settings: StoreSettings) -> Any:
    """A synchronous client when Redis answers a PING, else None (used by ``publish``)."""
    if settings.store == "memory":
        return None
    import redis

    client = redis_client(settings.redis_url, settings.connect_timeout, asyncio_client=False)
    try:
        client.ping()
    except redis.RedisError:
        if settings.store == "redis":
            raise
        return None
    return client


@contextlib.asynccontextmanager
async def open_store(settings: StoreSettings | None = None) -> AsyncIterator[Store]:
    """The store resource for a lifespan: Redis when it answers (closed on exit), else
    the in-process store, said in one line. ``RECSYS_STORE=redis`` makes Redis required."""
    settings = settings or StoreSettings()
    if settings.store != "memory":
        import redis

        client = redis_client(settings.redis_url, settings.connect_timeout, asyncio_client=True)
        try:
            await client.ping()
        except (redis.RedisError, OSError) as exc:
            await client.aclose()
            if settings.store == "redis":
                raise RuntimeError(f"Redis at {settings.redis_url} does not answer: {exc}") from exc
            log.warning(
                "store: Redis at %s not reachable (%s): using the IN-PROCESS store",
                settings.redis_url,
                exc,
            )
        else:
            log.info("store: Redis at %s", settings.redis_url)
            try:
                yield RedisStore(client, settings)
            finally:
                await client.aclose()
            return
    else:
        log.warning("store: RECSYS_STORE=memory: using the IN-PROCESS store")
    yield MemoryStore()


def entries_text(entries: Sequence[Scored]) -> str:
    """For logs and tests: ``item item ...``."""
    return " ".join(e.item for e in entries)
