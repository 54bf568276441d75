"""The backtest in MLflow through the library's training runs: a run per model with its
per-origin metrics as steps and the plots, the challenger through the gate under the
synthetic name, ``evaluate`` rebuilding the same numbers from the runs, and the gate
re-scoring a registered recipe by the backtest."""

from __future__ import annotations

import dataclasses
from typing import Any

import pandas as pd
import pytest

from forecasting.config import ForecastConfig
from forecasting.data import Series
from forecasting.evaluate import evaluate, promotion_gate, rescore
from forecasting.models import ProphetForecaster, recipe_key
from forecasting.serve import load
from forecasting.train import from_run
from tenfold import tracking
from tenfold.repro import format_metrics


def test_a_run_per_model_with_one_step_per_origin(champion_store: dict[str, Any]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    result = champion_store["result"]
    origins = result.data.backtest.calendar.origins
    for name, candidate in result.candidates.items():
        run = client.get_run(candidate.run_id)
        assert run.data.tags["tenfold.candidate"] == name
        assert run.data.tags["mlflow.parentRunId"] == result.run_id
        for metric in ("cv_mape_fold", "origin_mape", "origin_mae", "origin_coverage_80"):
            history = client.get_metric_history(candidate.run_id, metric)
            assert [m.step for m in history] == list(range(len(origins))), metric
        mape = [m.value for m in client.get_metric_history(candidate.run_id, "origin_mape")]
        assert mape == pytest.approx(candidate.fold_scores, abs=1e-4)
        assert run.data.metrics["backtest_mape"] == pytest.approx(candidate.cv_score)
        artifacts = {a.path for a in client.list_artifacts(candidate.run_id, "plots")}
        assert "plots/mape_by_origin.png" in artifacts


def test_the_synthetic_model_never_takes_the_real_name(champion_store: dict[str, Any]) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    version = client.get_model_version_by_alias("forecasting-synthetic", "champion")
    assert version.tags["data_kind"] == "synthetic"
    assert version.tags["candidate"] == champion_store["result"].best_name
    assert version.tags["promotion.decision"] == "promoted"
    with pytest.raises(MlflowException):
        client.get_registered_model("forecasting")


def test_the_registered_champion_serves_what_it_was(champion_store: dict[str, Any]) -> None:
    service = load(champion_store["uri"])
    best = champion_store["result"].best_name
    assert service.card.version == champion_store["version"]
    assert service.card.details["candidate"] == best
    forecast = service.forecast(hours=24)
    assert len(forecast.points) == 24
    assert forecast.model == best


def test_evaluate_rebuilds_the_backtest_from_the_runs(
    champion_store: dict[str, Any], series: Series
) -> None:
    cfg: ForecastConfig = champion_store["cfg"]
    result = champion_store["result"]
    again = from_run(cfg, series, tracking.read_training(cfg, series.source, run_id=result.run_id))
    assert again.best_name == result.best_name
    evaluation = evaluate(again, cfg)
    assert format_metrics(evaluation.metrics) == format_metrics(
        champion_store["evaluation"].metrics
    )


def test_the_gate_scores_a_known_recipe_by_this_backtest(
    champion_store: dict[str, Any],
) -> None:
    result = champion_store["result"]
    cfg = champion_store["cfg"]
    gate, score = promotion_gate(result, cfg)
    assert gate.metric == "backtest mean MAPE (%)"
    assert not gate.higher_is_better
    record = tracking.load_sklearn_model(champion_store["uri"])
    assert score(record) == pytest.approx(result.best.cv_score)
    assert gate.validation_set.rows == len(result.data.backtest.forecasts)


def test_another_recipe_is_refit_at_every_origin(
    champion_store: dict[str, Any], series: Series
) -> None:
    """A champion from other code or settings is not trusted from its tags: its recipe
    is re-backtested on the gate's origins, and the same recipe gives this run's score."""
    result = champion_store["result"]
    cfg = champion_store["cfg"]
    origins = result.data.backtest.calendar.origins
    lightgbm = result.candidates["LightGBM"].model.model
    assert rescore(lightgbm.unfitted(), series, origins, cfg) == pytest.approx(
        result.candidates["LightGBM"].cv_score, abs=1e-9
    )
    prophet = result.candidates["Prophet"].model.model
    assert isinstance(prophet, ProphetForecaster)
    other = ProphetForecaster(
        prophet.cadence,
        prophet.settings,
        changepoint_prior_scale=prophet.changepoint_prior_scale * 10,
        seasonality_prior_scale=prophet.seasonality_prior_scale,
        seed=prophet.seed,
    )
    assert recipe_key(other) != recipe_key(prophet)
    changed = rescore(other, series, origins, cfg)
    assert changed != pytest.approx(result.candidates["Prophet"].cv_score)


def test_evaluate_with_another_seed_finds_no_training(
    champion_store: dict[str, Any], series: Series
) -> None:
    from tenfold.errors import DataError

    cfg = dataclasses.replace(champion_store["cfg"], seed=8)
    with pytest.raises(DataError, match="no finished training"):
        tracking.read_training(cfg, series.source)


def test_the_per_origin_table_is_committed_in_both_forms(champion_store: dict[str, Any]) -> None:
    out = champion_store["reports"]
    table = pd.read_csv(out / "backtest_origins.csv")
    metrics = champion_store["evaluation"].metrics
    assert len(table) == len(metrics["origins"]) * 3
    first = table.iloc[0]
    assert metrics["origins"][first["origin"]][first["model"]]["mape"] == pytest.approx(
        first["mape"], abs=1e-4
    )


def test_evaluate_of_a_logged_training_keeps_its_timings(
    champion_store: dict[str, Any], series: Series
) -> None:
    cfg: ForecastConfig = champion_store["cfg"]
    result = champion_store["result"]
    again = from_run(cfg, series, tracking.read_training(cfg, series.source, run_id=result.run_id))
    assert set(again.data.stage_seconds) == {"prophet_tuning", "backtest", "refit"}
    assert again.data.stage_seconds == pytest.approx(result.data.stage_seconds)
    assert again.data.fit_cpu_seconds == pytest.approx(result.data.fit_cpu_seconds)
