"""The committed backtest is what the code produces today, checked on a sample CI can
afford (the whole run is 75 Prophet fits of about half a minute each: `make forecasting`),
and the same seed gives the same bytes.

The sample, re-computed by the run's own code and compared with ``reports/metrics.json``
through the metrics writer: for the seasonal naive and LightGBM, the last origin with
everything (its intervals need the nine weekly fits before it, which are themselves the
nine origins before it), so the point metrics of the last ten origins and the coverage
and width of the last one; for Prophet, the point metrics of the last two origins (each
forecast by its scheduled fit; its intervals come from the same conformal code as
the others').
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forecasting.backtest import FitTask, backtest, make_forecaster, refit_cutoff, run_fits
from forecasting.config import PROJECT_DIR, ForecastConfig
from forecasting.data import Series, load
from forecasting.evaluate import evaluate
from forecasting.scoring import per_origin_document, score_windows
from forecasting.train import train
from tenfold.repro import format_metrics, read_metrics
from tenfold.testing import assert_reproduces_sample

COMMITTED = PROJECT_DIR / "reports" / "metrics.json"
REMAKE = "TENFOLD_DATA_DIR=../shared/datasets make forecasting"


CHEAP = ["SeasonalNaive", "LightGBM"]
PROPHET_ORIGINS = 2


def recompute_sample(
    cfg: ForecastConfig, series: Series, committed: dict[str, Any]
) -> tuple[dict[str, Any], int]:
    """The sample (see the module's docstring) and how many fits LightGBM needed."""
    frame, cadence = series.frame, series.cadence
    origins = sorted(committed["origins"])
    result = backtest(frame, cadence, cfg, models=CHEAP, origins=[origins[-1]])
    fitted = set(result.calendar.fits)
    points = result.points.loc[result.points["cutoff"].isin(fitted)]
    sample = per_origin_document(score_windows(points, frame, CHEAP, (), cadence))
    full = per_origin_document(score_windows(result.forecasts, frame, CHEAP, cfg.levels, cadence))
    tuned = committed["models"]["Prophet"]["params"]
    prophet = make_forecaster(
        "Prophet",
        cadence,
        cfg,
        tuple((k, float(tuned[k])) for k in ("changepoint_prior_scale", "seasonality_prior_scale")),
    )
    last = [pd.Timestamp(o) for o in origins[-PROPHET_ORIGINS:]]
    by_fit: dict[pd.Timestamp, list[pd.Timestamp]] = {}
    for origin in last:
        by_fit.setdefault(refit_cutoff(origin, cadence, prophet.refit_every), []).append(origin)
    tasks = [FitTask(prophet, cut, tuple(ws), cadence.horizon) for cut, ws in by_fit.items()]
    fits = run_fits(tasks, frame, cfg.n_jobs)
    windows = pd.concat([f.forecasts for f in fits]).merge(
        frame[["unique_id", "ds", "y", "imputed"]], on=["unique_id", "ds"]
    )
    prophet_scores = per_origin_document(score_windows(windows, frame, ["Prophet"], (), cadence))
    for part in (full, prophet_scores):
        for origin, models in part.items():
            sample.setdefault(origin, {}).update(models)
    return {"origins": sample}, len(fitted)


@pytest.mark.slow
@pytest.mark.repro
@pytest.mark.real_data
def test_committed_origins_are_reproduced(data_dir: Path) -> None:
    cfg = ForecastConfig()
    series = load(cfg)
    assert series.source.is_real
    committed = read_metrics(COMMITTED)
    sample, fits = recompute_sample(cfg, series, committed)
    assert fits == committed["protocol"]["warmup_fits"] + 1
    origins = sample["origins"]
    assert len(origins) == fits
    last = sorted(origins)[-1]
    assert {"coverage_80", "coverage_95"} <= set(origins[last]["LightGBM"])
    assert sum("Prophet" in models for models in origins.values()) == PROPHET_ORIGINS
    assert_reproduces_sample(sample, COMMITTED, remake=REMAKE)


@pytest.mark.slow
def test_same_seed_same_bytes(registered: dict[str, Any], series: Series) -> None:
    """A second run of the small configuration gives byte-identical metrics (tuning,
    every fit, the intervals, the best model)."""
    cfg = registered["cfg"]
    again = evaluate(train(cfg, series), cfg)
    assert format_metrics(again.metrics) == format_metrics(registered["evaluation"].metrics)
    assert (
        again.files["backtest_origins.csv"]
        == registered["evaluation"].files["backtest_origins.csv"]
    )
