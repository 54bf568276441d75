"""Metrics computed by hand on a two-hour window, and the README table from metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecasting.config import HOURLY
from forecasting.evaluate import results_table, score_windows


def test_metrics_of_a_tiny_window_by_hand() -> None:
    history_hours = pd.date_range("2018-01-01 01:00", periods=336, freq="h")
    # every value is 5 above the one a week earlier: the seasonal naive's in-sample MAE is 5
    history = pd.DataFrame(
        {"unique_id": "a", "ds": history_hours, "y": 100.0 + 5.0 * (np.arange(336) // 168)}
    )
    cutoff = history_hours[-1]
    window = pd.DataFrame(
        {
            "unique_id": "a",
            "cutoff": cutoff,
            "ds": cutoff + pd.to_timedelta([1, 2], unit="h"),
            "step": [1, 2],
            "y": [100.0, 200.0],
            "imputed": [False, False],
            "LightGBM": [110.0, 180.0],
            "LightGBM-lo-80": [105.0, 190.0],
            "LightGBM-hi-80": [115.0, 210.0],
        }
    )
    scores = score_windows(window, history, ["LightGBM"], [80], HOURLY).iloc[0]
    assert scores["mape"] == pytest.approx(10.0)  # (10/100 + 20/200) / 2
    assert scores["smape"] == pytest.approx(100 * (20 / 210 + 40 / 380) / 2)  # M4 definition
    assert scores["mae"] == pytest.approx(15.0)
    assert scores["rmse"] == pytest.approx(np.sqrt((100 + 400) / 2))
    assert scores["mase"] == pytest.approx(15.0 / 5.0)
    assert scores["coverage_80"] == pytest.approx(50.0)  # 100 is outside [105, 115]
    assert scores["width_80"] == pytest.approx(10.0)  # (10/100 + 20/200) / 2 in %


def test_imputed_hours_are_not_scored() -> None:
    history = pd.DataFrame(
        {
            "unique_id": "a",
            "ds": pd.date_range("2018-01-01 01:00", periods=200, freq="h"),
            "y": np.linspace(100, 300, 200),
        }
    )
    cutoff = history["ds"].iloc[-1]
    window = pd.DataFrame(
        {
            "unique_id": "a",
            "cutoff": cutoff,
            "ds": cutoff + pd.to_timedelta([1, 2], unit="h"),
            "step": [1, 2],
            "y": [100.0, 1.0],
            "imputed": [False, True],
            "M": [110.0, 1000.0],
            "M-lo-80": [0.0, 0.0],
            "M-hi-80": [1.0, 1.0],
        }
    )
    assert score_windows(window, history, ["M"], [80], HOURLY).iloc[0]["mape"] == pytest.approx(
        10.0
    )


def metrics_document() -> dict[str, Any]:
    model = {
        "mape": 3.21,
        "mape_median": 2.9,
        "smape": 3.2,
        "mae": 1000.0,
        "rmse_pooled": 1400.0,
        "mase": 0.8,
        "coverage_80": 79.5,
        "coverage_95": 94.8,
        "origins_won": 30,
        "fit_cpu_seconds": 2.5,
    }
    return {
        "champion": "LightGBM",
        "models": {"Prophet": {**model, "mape": 8.0}, "LightGBM": model},
        "protocol": {
            "levels": [80, 95],
            "origins": 52,
            "first_origin": "2017-08-10 00:00:00",
            "last_origin": "2018-08-02 00:00:00",
            "horizon_steps": 24,
            "calibration_windows": 39,
            "seed": 42,
        },
        "data": {
            "kind": "real",
            "series": ["PJME"],
            "rows": 145392,
            "cadence": "hourly",
            "start": "2002-01-01 01:00:00",
            "end": "2018-08-03 00:00:00",
        },
    }


def test_results_table_marks_the_champion_and_shows_coverage() -> None:
    table = results_table(metrics_document())
    lines = table.splitlines()
    assert lines[0].startswith("| Model | MAPE % (mean)")
    champion = next(line for line in lines if "champion" in line)
    assert champion.startswith("| LightGBM")
    assert "| 3.21 |" in champion
    assert "| 79.5 | 94.8 |" in champion
    assert "52 weekly origins 2017-08-10 … 2018-08-02" in table
