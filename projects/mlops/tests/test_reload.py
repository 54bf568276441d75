"""Hot reload under load: the champion alias moves to a new version while requests
stream in; zero failed requests, and the new version answers without a restart."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import mlflow
import pytest
from mlflow import MlflowClient

from mlops.config import MlopsConfig
from mlops.scorecard import CalibratedScorecard
from mlops.serve import EXAMPLE, SPEC, MlopsSettings
from mlops.train import retrain
from tenfold import tracking
from tenfold.explain import encoded_mean
from tenfold.serving import create_app

from .conftest import load_for, running

pytestmark = pytest.mark.service


def register(model: CalibratedScorecard, X: Any) -> str:
    tracking.configure()
    with mlflow.start_run():
        logged = tracking.log_sklearn_model(
            model,
            input_example=X.head(3),
            requirements=("xgboost",),
            registered_model_name="mlops",
            metadata={
                "candidate": "test",
                "encoded_background_mean": encoded_mean(model.pipeline_, X),
            },
        )
    assert logged.registered_version is not None
    return logged.registered_version


@pytest.mark.usefixtures("isolated_tracking")
def test_new_champion_is_served_under_load_without_a_failed_request(
    small_model: tuple[CalibratedScorecard, Any], cfg: MlopsConfig, tmp_path: Path
) -> None:
    model, data = small_model
    first = register(model, data.X_train)
    second = register(retrain(model, data.X_test, data.y_test, cfg).model, data.X_train)
    client = MlflowClient()
    client.set_registered_model_alias("mlops", "champion", first)
    settings = MlopsSettings(
        reload_seconds=0.2,
        MLOPS_DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}",
        MLOPS_SPOOL_DIR=tmp_path / "spool",
    )
    app = create_app(SPEC, settings)

    def promote() -> None:
        time.sleep(1.5)
        client.set_registered_model_alias("mlops", "champion", second)

    with running(app) as base:
        mover = threading.Thread(target=promote)
        mover.start()
        seen = load_for(base, 5.0, EXAMPLE, concurrency=4)
        mover.join()
        swaps = app.state.service.metrics.registry.get_sample_value("tenfold_model_swaps_total")
    assert not seen.errors
    assert {status for status, _, _ in seen.answers} == {200}
    versions = [v for _, _, v in seen.answers]
    assert versions[0] == first
    assert versions[-1] == second
    # one switch: after the new version first answered, the old one only finished the
    # requests already in flight (at most one per concurrent client)
    switched = versions.index(second)
    assert versions[switched:].count(first) <= 4
    assert set(versions[-20:]) == {second}
    assert swaps == 1.0
