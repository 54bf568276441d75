"""Same seed, same lock → the same numbers; and the committed per-origin results are what
the code produces today (a few origins recomputed, not the whole hour-long year)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from forecasting.backtest import backtest
from forecasting.config import PROJECT_DIR, ForecastConfig
from forecasting.data import Series, load
from forecasting.evaluate import evaluate, write_per_origin
from forecasting.train import train
from tenfold.repro import format_metrics

COMMITTED = PROJECT_DIR / "reports"
# the last two origins: eleven fits per model (nine weeks of calibration before them)
RECOMPUTED = ("2018-07-26 00:00", "2018-08-02 00:00")


@pytest.mark.slow
@pytest.mark.real_data
def test_committed_origins_are_reproduced(data_dir: Path, tmp_path: Path) -> None:
    cfg = ForecastConfig()
    series = load(cfg)
    metrics = json.loads((COMMITTED / "metrics.json").read_text(encoding="utf-8"))
    prophet = metrics["models"]["Prophet"]["params"]
    params = {
        "Prophet": tuple(
            (k, float(prophet[k])) for k in ("changepoint_prior_scale", "seasonality_prior_scale")
        )
    }
    result = backtest(
        series.frame,
        series.cadence,
        cfg,
        params=params,
        origins=[pd.Timestamp(o) for o in RECOMPUTED],
    )
    evaluation = evaluate(result, series, cfg)
    produced = write_per_origin(evaluation.per_origin, tmp_path / "origins.csv")
    committed = (COMMITTED / "backtest_origins.csv").read_text(encoding="utf-8").splitlines()
    lines = produced.read_text(encoding="utf-8").splitlines()
    header, rows = lines[0], lines[1:]
    assert header == committed[0]
    expected = [line for line in committed[1:] if line.startswith(RECOMPUTED)]
    assert len(expected) == len(rows) == 2 * 3
    assert rows == expected, (
        "recomputed origins differ from reports/backtest_origins.csv; if the change is "
        "intended, run `TENFOLD_DATA_DIR=../shared/datasets make forecasting` and commit"
    )


@pytest.mark.slow
def test_same_seed_same_bytes(
    registered: dict[str, Any], series: Series, small_cfg: ForecastConfig
) -> None:
    """A second run of the small configuration gives byte-identical metrics (tuning,
    every fit, the intervals, the champion's choice)."""
    again = train(small_cfg, series)
    evaluation = evaluate(
        again.backtest, series, small_cfg, tuning=again.tuning, params=again.params
    )
    first = registered["evaluation"]
    assert format_metrics(evaluation.metrics) == format_metrics(first.metrics)
    pd.testing.assert_frame_equal(evaluation.per_origin, first.per_origin)
