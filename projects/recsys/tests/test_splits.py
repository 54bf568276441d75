"""The protocols: recommenders' stratified split reproduced, the time split, validation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from recsys.splits import stratified_split, time_split, validation_split


def recommenders_stratified(data: pd.DataFrame, ratio: float, seed: int) -> pd.DataFrame:
    """A literal transcription of recommenders' ``_do_stratification`` (is_random=True,
    filter_by="user"), global numpy seeding included: the reference to match."""
    np.random.seed(seed)  # noqa: NPY002 - the reference seeds the global state
    data = data.copy()
    data["random"] = np.random.rand(data.shape[0])  # noqa: NPY002
    data = data.sort_values(["user", "random"])
    groups = data.groupby("user")
    data["count"] = groups["user"].transform("count")
    data["rank"] = (groups.cumcount() + 1) / data["count"]
    return data[data["rank"] <= ratio]


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    users = rng.integers(1, 30, 600).astype(str)
    return pd.DataFrame(
        {
            "user": users,
            "item": rng.integers(1, 200, 600).astype(str),
            "rating": 1.0,
            "timestamp": rng.integers(0, 10_000, 600),
        }
    )


def test_stratified_split_is_the_recommenders_split(frame: pd.DataFrame) -> None:
    ours = stratified_split(frame, ratio=0.75, seed=42)
    theirs = recommenders_stratified(frame, 0.75, 42)
    assert sorted(ours.train.index) == sorted(theirs.index)
    assert len(ours.train) + len(ours.test) == len(frame)
    assert set(ours.train.index).isdisjoint(ours.test.index)


def test_every_user_keeps_about_three_quarters(frame: pd.DataFrame) -> None:
    split = stratified_split(frame, ratio=0.75, seed=1)
    counts = frame["user"].value_counts()
    kept = split.train["user"].value_counts().reindex(counts.index, fill_value=0)
    # floor(0.75 n) rows of a user with n rows, whatever the seed
    assert (kept == np.floor(0.75 * counts + 1e-9)).all()


def test_time_split_holds_out_each_users_latest(frame: pd.DataFrame) -> None:
    split = time_split(frame, test_fraction=0.2)
    for user, test in split.test.groupby("user"):
        train = split.train[split.train["user"] == user]
        assert train["timestamp"].max() <= test["timestamp"].min()
        n = len(train) + len(test)
        assert len(test) == n - int(np.floor(0.8 * n + 1e-9))


def test_validation_comes_from_training_only(frame: pd.DataFrame) -> None:
    split = stratified_split(frame, ratio=0.75, seed=42)
    valid = validation_split(split.train, ratio=0.8, seed=42)
    assert set(valid.train.index) | set(valid.test.index) == set(split.train.index)
    assert set(valid.test.index).isdisjoint(split.test.index)


def test_bad_ratio() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        stratified_split(pd.DataFrame({"user": []}), ratio=1.0)
