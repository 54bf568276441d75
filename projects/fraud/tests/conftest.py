"""Small, fast fixtures for the fraud tests: a simulated world of 300 customers (same
densities and fraud rate as the default 2,000) and a quickly trained model."""

from __future__ import annotations

import dataclasses

import pytest

from fraud.config import FraudConfig, Simulation
from fraud.data import load_simulated
from fraud.train import make_pipeline, prepare, split_periods

SMALL = dataclasses.replace(FraudConfig(), simulation=Simulation().scaled(300), n_boot=50, n_jobs=1)


@pytest.fixture(scope="session")
def small_cfg() -> FraudConfig:
    return SMALL


@pytest.fixture(scope="session")
def small_frame():  # type: ignore[no-untyped-def]
    return load_simulated(SMALL)[0]


@pytest.fixture(scope="session")
def small_prepared(small_frame):  # type: ignore[no-untyped-def]
    prepared = prepare(small_frame, SMALL)
    return prepared, split_periods(prepared, SMALL)


@pytest.fixture(scope="session")
def small_model(small_prepared):  # type: ignore[no-untyped-def]
    """A LightGBM pipeline on the small world's training days (not the published model)."""
    prepared, periods = small_prepared
    pipeline = make_pipeline(prepared, "lightgbm", SMALL)
    pipeline.fit(periods.split.X_train, periods.split.y_train)
    return pipeline, periods
