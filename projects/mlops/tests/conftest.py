"""Small, fast fixtures for the mlops tests: a synthetic frame, a quickly fitted
scorecard, and a served predictor built from it (no registry needed)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from mlops.config import MlopsConfig
from mlops.data import make_synthetic
from mlops.scorecard import CalibratedScorecard
from mlops.serve import ScorecardPredictor
from mlops.train import make_pipeline, prepare, split, xgboost
from tenfold.explain import encoded_mean
from tenfold.serving import ModelCard


@pytest.fixture(scope="session")
def cfg() -> MlopsConfig:
    return dataclasses.replace(MlopsConfig(), seed=7, cv_folds=3)


@pytest.fixture(scope="session")
def synthetic_frame() -> Any:
    return make_synthetic(3000, seed=7)


@pytest.fixture(scope="session")
def small_model(synthetic_frame: Any, cfg: MlopsConfig) -> tuple[CalibratedScorecard, Any]:
    """A small calibrated XGBoost scorecard on the twin (not the published model)."""
    data = split(prepare(synthetic_frame, cfg), cfg)
    pipeline = make_pipeline(xgboost(cfg, n_estimators=40, max_depth=3), scale=False)
    model = CalibratedScorecard(pipeline, cv=3, random_state=7).fit(data.X_train, data.y_train)
    return model, data


@pytest.fixture(scope="session")
def predictor(small_model: tuple[CalibratedScorecard, Any]) -> ScorecardPredictor:
    model, data = small_model
    card = ModelCard(name="mlops", version="1", run_id="test")
    return ScorecardPredictor(
        model, card=card, background_mean=encoded_mean(model.pipeline_, data.X_train)
    )
