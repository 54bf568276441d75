"""The committed backtest is what the code produces today, checked on a sample CI can
afford (the whole year is about 180 fits per model: `make forecasting`), and the same
seed gives the same bytes.

The sample is the last origin with everything (its intervals need the nine weekly fits
before it, which are themselves the nine origins before it): point metrics of the last
ten origins and the coverage and width of the last one, re-computed by the run's own
code and compared with ``reports/metrics.json`` through the metrics writer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from forecasting.backtest import backtest
from forecasting.config import PROJECT_DIR, ForecastConfig
from forecasting.data import Series, load
from forecasting.evaluate import evaluate
from forecasting.models import MODELS
from forecasting.scoring import per_origin_document, score_windows
from forecasting.train import train
from tenfold.repro import format_metrics, read_metrics
from tenfold.testing import assert_reproduces_sample

COMMITTED = PROJECT_DIR / "reports" / "metrics.json"
REMAKE = "TENFOLD_DATA_DIR=../shared/datasets make forecasting"


def recompute_sample(cfg: ForecastConfig, series: Series, committed: dict[str, Any]) -> Any:
    """Point metrics of every origin the last origin's fits cover, and its intervals."""
    prophet = committed["models"]["Prophet"]["params"]
    params = {
        "Prophet": tuple(
            (k, float(prophet[k])) for k in ("changepoint_prior_scale", "seasonality_prior_scale")
        )
    }
    last = sorted(committed["origins"])[-1]
    result = backtest(series.frame, series.cadence, cfg, params=params, origins=[last])
    fitted = set(result.calendar.fits)
    points = result.points.loc[result.points["cutoff"].isin(fitted)]
    sample = per_origin_document(score_windows(points, series.frame, MODELS, (), series.cadence))
    full = per_origin_document(
        score_windows(result.forecasts, series.frame, MODELS, cfg.levels, series.cadence)
    )
    for origin, models in full.items():
        for model, values in models.items():
            sample[origin][model] = values
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
