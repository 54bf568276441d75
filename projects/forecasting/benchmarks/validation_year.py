"""Choices made on the year *before* the backtest, never on it.

Runs the same backtest code on the 52 Thursdays 2016-08-11 … 2017-08-03 (the data cut at
2017-08-04 00:00, six days before the first scored origin) and prints, per variant, the
mean and median MAPE of each model and the coverage of the 80 % and 95 % intervals for
several calibration lengths. This is how LightGBM's features and settings and the 59
calibration days were chosen (see the README's *Design decisions*). Real data only; the
LightGBM variants of the README's table:

    TENFOLD_DATA_DIR=/path/to/datasets uv run python \
        projects/forecasting/benchmarks/validation_year.py \
        '{"name": "lags >= 24 h only", "models": ["LightGBM"],
          "cadence": {"short_lags": [], "differences": []},
          "lightgbm": {"n_estimators": 500, "learning_rate": 0.05, "num_leaves": 63}}' \
        '{"name": "+ lags 1-3", "models": ["LightGBM"], "cadence": {"differences": []},
          "lightgbm": {"n_estimators": 500, "learning_rate": 0.05, "num_leaves": 63}}' \
        '{"name": "+ lags 1-3, daily change", "models": ["LightGBM"],
          "lightgbm": {"n_estimators": 500, "learning_rate": 0.05, "num_leaves": 63}}' \
        '{"name": "+ lags 1-3, slower trees", "models": ["LightGBM"],
          "cadence": {"differences": []}}' \
        '{"name": "chosen", "models": ["LightGBM"]}'

Each argument is a JSON variant: ``lightgbm``, ``prophet`` and ``cadence`` override
fields of the config's LightGBMSettings, ProphetSettings and HOURLY cadence;
``prophet_params`` sets Prophet's two prior scales (default Prophet's own); ``models``
picks the models (default all).
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from typing import Any

import pandas as pd

from forecasting.backtest import assemble, calendar, fit_tasks, make_forecaster, run_fits
from forecasting.config import HOURLY, ForecastConfig
from forecasting.data import load
from forecasting.scoring import score_windows

CALIBRATION_DAYS = (19, 28, 39, 59)
PROPHET_DEFAULTS = (("changepoint_prior_scale", 0.05), ("seasonality_prior_scale", 10.0))


def main(variants: list[dict[str, Any]]) -> None:
    base = ForecastConfig()
    series = load(base)
    if not series.source.is_real:
        raise SystemExit("the validation year needs the real PJME file (set TENFOLD_DATA_DIR)")
    first_scored = pd.Timestamp("2017-08-10")
    frame = series.frame.loc[series.frame["ds"] <= first_scored - pd.Timedelta(days=6)]
    for variant in variants:
        # JSON lists as the tuples the cadence holds
        overrides: dict[str, Any] = {k: tuple(v) for k, v in variant.get("cadence", {}).items()}
        cadence = dataclasses.replace(HOURLY, **overrides)
        lightgbm = dataclasses.replace(base.lightgbm, **variant.get("lightgbm", {}))
        prophet = dataclasses.replace(base.prophet, **variant.get("prophet", {}))
        widest = dataclasses.replace(
            base, lightgbm=lightgbm, prophet=prophet, calibration_windows=max(CALIBRATION_DAYS)
        )
        models: tuple[str, ...] = tuple(
            variant.get("models", ("SeasonalNaive", "Prophet", "LightGBM"))
        )
        prophet_params = tuple(variant.get("prophet_params", dict(PROPHET_DEFAULTS)).items())
        cal = calendar(frame, cadence, widest)
        forecasters = [
            make_forecaster(m, cadence, widest, prophet_params if m == "Prophet" else ())
            for m in models
        ]
        tasks = fit_tasks(cal, cadence, frame["ds"].max(), forecasters)
        started = time.perf_counter()
        results = run_fits(tasks, frame, widest.n_jobs)
        elapsed = time.perf_counter() - started
        print(
            f"\n## {variant.get('name', variant)}  ({len(tasks)} fits, {elapsed:.0f} s)", flush=True
        )
        print(f"origins {cal.origins[0]:%Y-%m-%d} … {cal.origins[-1]:%Y-%m-%d}")
        for days in CALIBRATION_DAYS:
            cfg = dataclasses.replace(widest, calibration_windows=days)
            bt = assemble(results, frame, cal, cfg, models)
            scores = score_windows(bt.forecasts, frame, models, cfg.levels, cadence)
            for model in models:
                rows = scores.loc[scores["model"] == model]
                seconds = [r.seconds for r in results if r.task.model == model]
                print(
                    f"{days:>3} days | {model:<13} MAPE {rows['mape'].mean():.3f} "
                    f"(median {rows['mape'].median():.3f}) "
                    f"| cov80 {rows['coverage_80'].mean():5.1f} "
                    f"cov95 {rows['coverage_95'].mean():5.1f} "
                    f"| CPU s/fit {sum(seconds) / len(seconds):.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    main([json.loads(a) for a in sys.argv[1:]] or [{"name": "default"}])
