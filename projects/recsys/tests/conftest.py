"""Fixtures for the recsys tests: a tiny interaction set, a snapshot fitted on it in
well under a second, and a real redis-server on 127.0.0.1 (a free port, stopped by PID)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsys import data as recsys_data
from recsys.config import RecsysConfig
from recsys.data import Interactions
from recsys.features import InteractionMatrix, catalogue_index, tfidf_content
from recsys.models import ImplicitALS, item_similarity
from recsys.snapshot import ServingModel, Snapshot, precompute_similar, precompute_user_lists
from tenfold.embeddings import DEEP_HINT, dense_available


@pytest.hookimpl(tryfirst=True)  # before `-m` selects the tiers
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that uses the real redis-server is in the service tier (it starts a
    process); MiniLM tests run wherever the extra is installed (CI runs `make nlp-deep`)."""
    ours = [item for item in items if "projects/recsys/" in str(item.path)]
    for item in ours:
        if "redis_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.service)
    if dense_available():
        return
    skip = pytest.mark.skip(reason=f"torch / sentence-transformers not installed: {DEEP_HINT}")
    for item in ours:
        if "deep" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny() -> Interactions:
    """The synthetic twin at 60 users × 80 items, through the real parsing path."""
    frames = recsys_data.make_synthetic(60, 80, seed=3)
    ratings = frames["u.data"]
    from tenfold.data import DataSource

    return Interactions(
        ratings=pd.DataFrame(
            {
                "user": ratings["user_id"].astype(str),
                "item": ratings["item_id"].astype(str),
                "rating": ratings["rating"].astype(float),
                "timestamp": ratings["timestamp"].astype(np.int64),
            }
        ),
        items=recsys_data.movielens_items(frames["u.item"]),
        source=DataSource(dataset="movielens-100k", kind="synthetic", origin="synthetic"),
    )


def build_snapshot(interactions: Interactions, *, top_n: int = 20) -> ServingModel:
    items = catalogue_index(interactions.items, interactions.ratings)
    catalogue = interactions.items.set_index("item").reindex(items).reset_index()
    data = InteractionMatrix.build(interactions.ratings, items)
    recipe = ImplicitALS(factors=8, iterations=5)
    model = ImplicitALS(factors=8, iterations=5).fit(data)
    top, scores = precompute_user_lists(model, data, top_n)
    similar_top, similar_scores = precompute_similar(
        item_similarity(data, tfidf_content(catalogue), content_weight=0.3), 10
    )
    counts = data.item_counts()
    popular = np.lexsort((np.arange(len(counts)), -counts))[:top_n].astype(np.int32)
    snapshot = Snapshot(
        data.users,
        items,
        catalogue["title"].to_numpy(),
        top,
        scores,
        similar_top,
        similar_scores,
        popular,
        counts[popular].astype(np.float32),
    )
    return ServingModel(snapshot, model, data.binary(), "als", top_n, recipe=recipe)


@pytest.fixture(scope="session")
def serving(tiny: Interactions) -> ServingModel:
    return build_snapshot(tiny)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[str]:
    """A throwaway redis-server; its URL. Missing redis-server fails in CI, skips elsewhere."""
    from tenfold.testing import redis_server as start_redis

    if shutil.which("redis-server") is None:
        message = "redis-server not installed (apt-get install -y redis-server)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    with start_redis() as url:
        yield url


@pytest.fixture
def redis_url(redis_server: str) -> str:
    """The server, emptied before each test."""
    import redis

    client = redis.Redis.from_url(redis_server)
    client.flushdb()
    client.close()
    return redis_server


@pytest.fixture
def small_cfg(tmp_path: Path) -> RecsysConfig:
    import dataclasses

    from recsys.config import TrialBudget

    return dataclasses.replace(
        RecsysConfig(),
        trials=TrialBudget(als=2, bpr=1, ease=1, hybrid=2),
        synthetic_users=80,
        synthetic_items=100,
        use_minilm=False,
        top_n=20,
        reports_dir=tmp_path / "reports",
    )
