"""The versioned store against a real redis-server, and its in-process twin."""

from __future__ import annotations

import asyncio
import dataclasses
import threading

import numpy as np
import pandas as pd
import pytest
import redis

from recsys.snapshot import Scored, ServingModel, Snapshot
from recsys.store import (
    CURRENT,
    MemoryStore,
    RedisStore,
    StoreSettings,
    decode,
    encode,
    open_store,
    publish,
)


def marked(snapshot: Snapshot, version: int) -> Snapshot:
    """A copy whose every score is ``version``: a list mixing two versions shows it."""
    return dataclasses.replace(
        snapshot,
        user_scores=np.full_like(snapshot.user_scores, float(version)),
        similar_scores=np.full_like(snapshot.similar_scores, float(version)),
        popular_counts=np.full_like(snapshot.popular_counts, float(version)),
    )


def test_encoding_round_trip() -> None:
    entries = [Scored("12", 0.5), Scored("a:b", 3.25)]
    assert decode(encode(entries)) == entries
    assert decode(None) == []


def test_publish_then_read(redis_url: str, serving: ServingModel) -> None:
    client = redis.Redis.from_url(redis_url)
    version = publish(client, serving.snapshot, model="recsys", model_version="3")
    assert client.get(CURRENT) == version.encode()

    async def read() -> None:
        async with open_store(StoreSettings(redis_url=redis_url)) as store:
            assert isinstance(store, RedisStore)
            user = str(serving.snapshot.users[0])
            found = await store.read("user", user)
            assert found is not None
            assert found.version == version
            assert [e.item for e in found.entries] == [
                e.item for e in serving.snapshot.for_user(user) or []
            ]
            unknown = await store.read("user", "nobody")
            assert unknown is not None
            assert unknown.entries == []
            titles = await store.titles(version)
            assert titles == serving.snapshot.title_map()

    asyncio.run(read())


def test_old_versions_are_dropped(redis_url: str, serving: ServingModel) -> None:
    client = redis.Redis.from_url(redis_url)
    first = publish(client, serving.snapshot, model="m", model_version="1")
    second = publish(client, serving.snapshot, model="m", model_version="2")
    assert client.exists(f"{first}:popular")  # kept: a reader may still be on it
    third = publish(client, serving.snapshot, model="m", model_version="3")
    assert not list(client.scan_iter(match=f"{first}:*"))
    assert client.exists(f"{second}:popular")
    assert client.exists(f"{third}:popular")


def test_a_reader_during_a_rewrite_never_gets_a_mixed_answer(
    redis_url: str, serving: ServingModel
) -> None:
    """Readers hammer the store while versions 1..6 are written and switched (small
    pipeline batches, so each write takes many round trips): every answer must be
    entirely one version (its scores say which) and that version's own list."""
    client = redis.Redis.from_url(redis_url)
    publish(client, marked(serving.snapshot, 1), model="m", model_version="1", batch=5)
    user = str(serving.snapshot.users[0])
    stop = threading.Event()
    seen: list[tuple[str, set[float]]] = []

    async def reader() -> None:
        async with open_store(StoreSettings(redis_url=redis_url)) as store:
            while not stop.is_set():
                for kind, key in (("user", user), ("popular", ""), ("similar", "1")):
                    found = await store.read(kind, key)  # type: ignore[arg-type]
                    assert found is not None
                    seen.append((found.version, {e.score for e in found.entries}))

    thread = threading.Thread(target=lambda: asyncio.run(reader()))
    thread.start()
    try:
        for version in range(2, 7):
            publish(
                client,
                marked(serving.snapshot, version),
                model="m",
                model_version=str(version),
                batch=5,
            )
    finally:
        stop.set()
        thread.join(timeout=30)
    assert len(seen) > 50
    versions = set()
    for name, scores in seen:
        number = int(name.rsplit("v", 1)[1])
        versions.add(number)
        assert scores == {float(number)}, f"{name} answered with scores {scores}"
    assert len(versions) >= 2  # the readers did see switches happen


def test_memory_store_has_the_same_interface(serving: ServingModel) -> None:
    store = MemoryStore()
    assert asyncio.run(store.read("user", "x")) is None
    v1 = store.publish(marked(serving.snapshot, 1))
    user = str(serving.snapshot.users[0])
    found = asyncio.run(store.read("user", user))
    assert found is not None
    assert found.version == v1
    assert {e.score for e in found.entries} == {1.0}
    v2 = store.publish(marked(serving.snapshot, 2))
    assert asyncio.run(store.read("popular")).version == v2  # type: ignore[union-attr]


def test_without_redis_the_in_process_store_says_so(caplog: pytest.LogCaptureFixture) -> None:
    from tenfold.benchmark import free_port

    settings = StoreSettings(redis_url=f"redis://127.0.0.1:{free_port()}/0", connect_timeout=0.2)

    async def open_it() -> str:
        async with open_store(settings) as store:
            return store.backend

    with caplog.at_level("WARNING", logger="recsys.store"):
        assert asyncio.run(open_it()) == "memory"
    assert sum("IN-PROCESS store" in r.message for r in caplog.records) == 1


def test_the_batch_lists_are_the_per_user_lists(serving: ServingModel) -> None:
    """``predict``'s whole-column path gives each user's own list, an unknown user the
    popular items (flagged), in the order asked, duplicates kept."""
    snap = serving.snapshot
    users = [str(snap.users[4]), "stranger", str(snap.users[0]), str(snap.users[4])]
    frame = snap.top_frame(pd.Series(users), 7)
    assert list(frame.columns) == ["user_id", "rank", "item_id", "title", "score", "cold_start"]
    titles = snap.title_map()
    for position, user in enumerate(users):
        rows = frame.iloc[7 * position : 7 * (position + 1)]
        expected = snap.for_user(user)
        entries = (snap.most_popular() if expected is None else expected)[:7]
        assert rows["user_id"].tolist() == [user] * 7
        assert rows["rank"].tolist() == list(range(1, 8))
        assert rows["item_id"].tolist() == [e.item for e in entries]
        assert rows["score"].tolist() == pytest.approx([e.score for e in entries])
        assert rows["title"].tolist() == [titles[e.item] for e in entries]
        assert rows["cold_start"].tolist() == [expected is None] * 7
