"""Small, fast fixtures for the forecasting tests: short synthetic series and a small
configuration (a few origins, short training windows, small models), so backtest, API
and app tests run in seconds. None of it is the published model."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from forecasting.config import ForecastConfig, LightGBMSettings, ProphetSettings
from forecasting.data import Series, prepare, synthetic_long
from tenfold.data import DataSource

SMALL = dataclasses.replace(
    ForecastConfig(),
    seed=7,
    experiment="forecasting-tests",
    n_origins=2,
    calibration_windows=7,
    n_jobs=1,
    prophet=ProphetSettings(
        train_days=120,
        changepoint_prior_scales=(0.05, 0.5),
        seasonality_prior_scales=(10.0,),
        tuning_origins=1,
    ),
    lightgbm=LightGBMSettings(train_days=150, n_estimators=40, num_leaves=15, learning_rate=0.1),
)
SYNTHETIC = DataSource(dataset="energy-hourly", kind="synthetic", origin="synthetic")


def small_series(
    n_series: int = 1, start: str = "2017-11-01 01:00", end: str = "2018-08-03 00:00", seed: int = 3
) -> Series:
    long = synthetic_long(n_series, start, end, seed=seed)
    return prepare(long, SYNTHETIC, max_gap_steps=6, label="synthetic")


@pytest.fixture(scope="session")
def small_cfg() -> ForecastConfig:
    return SMALL


@pytest.fixture(scope="session")
def series() -> Series:
    return small_series()


@pytest.fixture(scope="session")
def make_series() -> Callable[..., Series]:
    """Other synthetic series: ``make_series(n_series=3)``, ``make_series(start=...)``."""
    return small_series


@pytest.fixture(scope="session")
def small_champion(series: Series) -> Any:
    """A LightGBM champion refit on the small series, with its calibration."""
    from forecasting.backtest import make_forecaster
    from forecasting.train import refit

    lightgbm = make_forecaster("LightGBM", series.cadence, SMALL)
    return refit(SMALL, series, [lightgbm])["LightGBM"]


@pytest.fixture(scope="session")
def registered(
    tmp_path_factory: pytest.TempPathFactory, series: Series
) -> Iterator[dict[str, Any]]:
    """A whole small run through the CLI's own steps (tuning, backtest, refit, MLflow
    runs, reports, challenger, the gate) in a private MLflow store: what the app, the
    registry and the read-back tests use."""
    from forecasting.__main__ import CLI, _summary
    from forecasting.evaluate import evaluate
    from forecasting.train import train

    state = tmp_path_factory.mktemp("mlflow-state")
    reports = tmp_path_factory.mktemp("reports")
    cfg = dataclasses.replace(SMALL, reports_dir=reports)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TENFOLD_STATE_DIR", str(state))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        patch.delenv("TENFOLD_MODEL_URI", raising=False)
        result = train(cfg, series)
        CLI.publish(cfg, result, _summary)
        from mlflow import MlflowClient

        version = MlflowClient().get_model_version_by_alias("forecasting-synthetic", "champion")
        yield {
            "state": state,
            "cfg": cfg,
            "reports": cfg.output_dir(result),
            "uri": "models:/forecasting-synthetic@champion",
            "version": str(version.version),
            "evaluation": evaluate(result, cfg),
            "result": result,
        }
        import mlflow

        while mlflow.active_run() is not None:
            mlflow.end_run()


@pytest.fixture
def champion_store(registered: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """The registered small run's store, for one test (MLflow pointed at it again: another
    test may have pointed it elsewhere)."""
    from tenfold import tracking

    monkeypatch.setenv("TENFOLD_STATE_DIR", str(registered["state"]))
    monkeypatch.setenv("TENFOLD_MODEL_URI", registered["uri"])
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    tracking.configure()
    return registered
