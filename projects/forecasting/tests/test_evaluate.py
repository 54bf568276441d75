"""Metrics computed by hand on a two-hour window, and the README table from metrics."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from forecasting.config import HOURLY
from forecasting.evaluate import acceptance, results_table
from forecasting.scoring import score_windows


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
        "coverage_95": 92.8,
        "width_80": 9.6,
        "origins_won": 30,
    }
    per_model = {
        "Prophet": {"backtest": {**model, "mape": 8.0, "coverage_80": 85.0}},
        "LightGBM": {"backtest": model},
    }
    return {
        "champion": "LightGBM",
        "models": per_model,
        "acceptance": acceptance(per_model, [80, 95]),
        "protocol": {
            "levels": [80, 95],
            "origins": 52,
            "first_origin": "2017-08-10 00:00:00",
            "last_origin": "2018-08-02 00:00:00",
            "horizon_steps": 24,
            "calibration_windows": 59,
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


def test_results_table_marks_the_best_and_shows_coverage() -> None:
    table = results_table(metrics_document())
    lines = table.splitlines()
    assert lines[0].startswith("| Model | MAPE % (mean)")
    best = next(line for line in lines if "(best)" in line)
    assert best.startswith("| LightGBM")
    assert "| 3.21 |" in best
    assert "| 79.5 | 92.8 |" in best
    assert "52 weekly origins 2017-08-10 … 2018-08-02" in table


def test_acceptance_is_measured_against_the_issues_goals() -> None:
    """3.21 % meets ≤ 3.3 %; 79.5 % is within 2 points of 80; 92.8 % and Prophet's 85 %
    are not: the table says so rather than leaving them out."""
    table = results_table(metrics_document())
    rows = {line.split(" | ")[0].strip("| "): line for line in table.splitlines()}
    assert rows["LightGBM mean MAPE over the origins"].endswith("| 3.21 % | ≤ 3.3 % | yes |")
    assert rows["LightGBM 80 % interval coverage"].endswith("| 79.5 % | 78–82 % | yes |")
    assert rows["LightGBM 95 % interval coverage"].endswith("| 92.8 % | 93–97 % | **no** |")
    assert rows["Prophet 80 % interval coverage"].endswith("| 85.0 % | 78–82 % | **no** |")
