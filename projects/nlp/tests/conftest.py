"""Fixtures for the nlp tests: a tiny corpus, a quickly fitted TF-IDF pipeline, and the
`deep` marker's skip when torch / sentence-transformers are not installed."""

from __future__ import annotations

import dataclasses

import pandas as pd
import pytest

from nlp.config import NlpConfig
from nlp.data import make_synthetic
from nlp.features import DEEP_HINT, dense_available
from nlp.train import make_pipeline, prepare, sgd, split


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Dense-path tests run wherever the extra is installed (CI runs `make nlp-deep`);
    elsewhere they are skipped with the reason, never silently passed."""
    if dense_available():
        return
    skip = pytest.mark.skip(reason=f"torch / sentence-transformers not installed: {DEEP_HINT}")
    for item in items:
        if "deep" in item.keywords and "projects/nlp/" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def small_cfg() -> NlpConfig:
    return dataclasses.replace(NlpConfig(), seed=7, cv_folds=3, n_trials=2, models=("tfidf",))


@pytest.fixture(scope="session")
def corpus() -> pd.DataFrame:
    return make_synthetic(300, seed=7)


@pytest.fixture(scope="session")
def tfidf_model(corpus: pd.DataFrame, small_cfg: NlpConfig):  # type: ignore[no-untyped-def]
    """A TF-IDF pipeline fitted on the synthetic corpus (not the published model)."""
    prepared = prepare(corpus, small_cfg)
    data = split(prepared, small_cfg)
    pipeline = make_pipeline("tfidf", small_cfg, sgd(small_cfg, alpha=1e-4))
    pipeline.fit(data.X_train, data.y_train)
    return pipeline, data
