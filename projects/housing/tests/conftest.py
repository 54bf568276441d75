"""Small, fast fixtures for the housing tests: a synthetic Ames twin of a few hundred
sales and a stack of small members fitted on it once per session (not the published
model), so pipeline, API and app tests run in seconds."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from housing.config import HousingConfig
from housing.data import HousingData, decock_to_kaggle, make_synthetic_files, unseen_sales
from housing.train import Candidate, Prepared, fit_stack, make_folds, prepare
from tenfold.data import DataSource

SMALL = dataclasses.replace(
    HousingConfig(), seed=7, synthetic_rows=300, cv_folds=3, n_trials=2, forest_trials=1, n_jobs=1
)
# members small enough to fit in a fraction of a second each
SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "ridge": {"alpha": 10.0, "polynomial": True},
    "random_forest": {
        "n_estimators": 30,
        "max_features": 0.2,
        "min_samples_leaf": 3,
        "max_samples": 0.8,
    },
    "lightgbm": {
        "n_estimators": 80,
        "learning_rate": 0.1,
        "num_leaves": 6,
        "min_child_samples": 10,
        "subsample": 0.8,
        "colsample_bytree": 0.5,
        "reg_lambda": 1.0,
    },
}


@pytest.fixture(scope="session")
def small_cfg() -> HousingConfig:
    return SMALL


@pytest.fixture(scope="session")
def small_params() -> dict[str, dict[str, Any]]:
    return SMALL_PARAMS


@pytest.fixture(scope="session")
def synthetic_data() -> HousingData:
    files = make_synthetic_files(SMALL)
    train = files[SMALL.train_file]
    full = decock_to_kaggle(files[SMALL.full_file])
    source = DataSource(dataset="ames-housing", kind="synthetic", origin="synthetic")
    return HousingData(train, unseen_sales(full, train, SMALL), source)


@pytest.fixture(scope="session")
def prepared(synthetic_data: HousingData) -> Prepared:
    return prepare(synthetic_data, SMALL)


@pytest.fixture(scope="session")
def small_stack(prepared: Prepared) -> Candidate:
    """The stack with CV+ intervals, fitted on the twin's training sales."""
    return fit_stack(prepared, make_folds(len(prepared.y), SMALL), SMALL, SMALL_PARAMS)


def register_champion(candidate: Candidate, prepared: Prepared) -> str:
    """Log ``candidate`` as a training does and give it the alias ``champion`` (inside
    the caller's isolated MLflow store)."""
    from tenfold import tracking
    from tenfold.training import TrainResult

    source = DataSource(dataset="ames-housing", kind="synthetic", origin="synthetic")
    result = TrainResult({"stack": candidate}, "stack", None, source, prepared.X.head(5))
    tracking.log_training(result, config=SMALL)
    tracking.register(str(candidate.model_uri), SMALL.model_name)
    return f"models:/{SMALL.model_name}@champion"


@pytest.fixture
def champion(isolated_tracking: Path, small_stack: Candidate, prepared: Prepared) -> str:
    """The small stack registered as ``models:/housing@champion`` in a private store."""
    return register_champion(small_stack, prepared)
