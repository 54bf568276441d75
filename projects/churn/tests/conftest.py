"""Small, fast fixtures for the churn tests: a synthetic Telco-shaped frame and a quickly
trained model, so API and pipeline tests run in seconds."""

from __future__ import annotations

import dataclasses

import pytest

from churn.config import ChurnConfig
from churn.data import make_synthetic
from churn.train import make_pipeline, prepare, split, xgboost


@pytest.fixture(scope="session")
def synthetic_frame():  # type: ignore[no-untyped-def]
    return make_synthetic(1500, seed=7)


@pytest.fixture(scope="session")
def small_model(synthetic_frame):  # type: ignore[no-untyped-def]
    """A small XGBoost pipeline on the synthetic twin (not the published model)."""
    cfg = dataclasses.replace(ChurnConfig(), seed=7)
    prepared = prepare(synthetic_frame, cfg)
    data = split(prepared, cfg)
    pipeline = make_pipeline(prepared, xgboost(cfg, n_estimators=60, max_depth=3), scale=False)
    pipeline.fit(data.X_train, data.y_train)
    return pipeline, data
