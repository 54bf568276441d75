"""The backtest in MLflow: runs per model with per-origin steps, the champion registered
under the synthetic name, and ``evaluate`` rebuilding the same numbers from the runs."""

from __future__ import annotations

from typing import Any

from forecasting.config import ForecastConfig
from forecasting.data import Series
from forecasting.evaluate import evaluate
from forecasting.runs import from_latest_run
from forecasting.serve import load
from tenfold.repro import format_metrics


def test_a_run_per_model_with_one_step_per_origin(champion_store: dict[str, Any]) -> None:
    from mlflow import MlflowClient

    client = MlflowClient()
    result = champion_store["result"]
    experiment = client.get_experiment_by_name("forecasting")
    assert experiment is not None
    candidates = client.search_runs(
        [experiment.experiment_id], filter_string="tags.`tenfold.stage` = 'candidate'"
    )
    assert {r.data.tags["tenfold.candidate"] for r in candidates} == set(result.backtest.models)
    for run in candidates:
        history = client.get_metric_history(run.info.run_id, "origin_mape")
        assert [m.step for m in history] == list(range(len(result.backtest.calendar.origins)))
        assert "backtest_mape" in run.data.metrics
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
        assert "plots/mape_by_origin.png" in artifacts


def test_the_synthetic_champion_never_takes_the_real_name(champion_store: dict[str, Any]) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    version = client.get_model_version_by_alias("forecasting-synthetic", "champion")
    assert version.tags["data_kind"] == "synthetic"
    assert version.tags["candidate"] == champion_store["evaluation"].champion
    try:
        client.get_registered_model("forecasting")
    except MlflowException:
        pass
    else:
        raise AssertionError("a synthetic run registered under the real model's name")


def test_the_registered_champion_serves_what_it_was(champion_store: dict[str, Any]) -> None:
    service = load(champion_store["uri"])
    assert service.card.version == champion_store["version"]
    assert service.card.details["candidate"] == champion_store["evaluation"].champion
    forecast = service.forecast(hours=24)
    assert len(forecast.points) == 24
    assert forecast.model == champion_store["evaluation"].champion


def test_evaluate_rebuilds_the_backtest_from_the_runs(
    champion_store: dict[str, Any], series: Series, small_cfg: ForecastConfig
) -> None:
    result, runs = from_latest_run(small_cfg, series)
    assert set(runs.models) == set(result.backtest.models)
    again = evaluate(result.backtest, series, small_cfg, tuning=result.tuning, params=result.params)
    assert format_metrics(again.metrics) == format_metrics(champion_store["evaluation"].metrics)
