"""More features for the recursive LightGBM, on the validation year only (the 52
Thursdays 2016-08-11 … 2017-08-03, data cut at 2017-08-04; never the scored year).

Each variant is the chosen design (``forecasting.features``: same lags, windows, calendar,
daily-change target, four-year window, LightGBM settings) plus one change: more lag
transforms from mlforecast, recency weights, or an average over LightGBM seeds. Every
fit forecasts the 24 hours after its origin; prints each variant's mean day-ahead MAPE,
by step, and its per-origin paired difference from the chosen design with the same
seeds (mean ± standard error, days better):

    TENFOLD_DATA_DIR=/path/to/datasets uv run python \
        projects/forecasting/benchmarks/feature_attempts.py

Measured (README, *Design decisions*): chosen 3.87 %; none is better by more than its
noise (about 20 minutes on 2 cores).
"""

from __future__ import annotations

import time
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from mlforecast import MLForecast
from mlforecast import lag_transforms as lt
from mlforecast.target_transforms import Differences

from forecasting.config import HOURLY, ForecastConfig
from forecasting.data import load
from forecasting.features import calendar_features, lag_transforms, lightgbm_params

STEPS = 24
# name → (extra transforms per lag, recency half-life in days or None, seeds averaged)
Variant = tuple[dict[int, list[Any]], float | None, int]


def variants() -> dict[str, Variant]:
    ewm = [lt.ExponentiallyWeightedMean(alpha=0.5), lt.ExponentiallyWeightedMean(alpha=0.1)]
    return {
        "chosen": ({}, None, 1),
        "+ EWM of the last hour (alpha 0.5, 0.1)": ({1: ewm}, None, 1),
        "+ EWM of the last hour (alpha 0.1)": (
            {1: [lt.ExponentiallyWeightedMean(alpha=0.1)]},
            None,
            1,
        ),
        "+ EWM of the last hour (alpha 0.5, 0.1, 0.02)": (
            {1: [*ewm, lt.ExponentiallyWeightedMean(alpha=0.02)]},
            None,
            1,
        ),
        "+ EWM of the last hour and of the 24-h lag": ({1: ewm, 24: ewm}, None, 1),
        "+ rolling means of the last 3, 6, 24 hours": (
            {1: [lt.RollingMean(window_size=w) for w in (3, 6, 24)]},
            None,
            1,
        ),
        "+ the same hour's mean and spread over 7 days": (
            {
                24: [
                    lt.SeasonalRollingMean(season_length=24, window_size=7),
                    lt.SeasonalRollingStd(season_length=24, window_size=7),
                ]
            },
            None,
            1,
        ),
        "+ the 24-h lag's min and max over a day": (
            {24: [lt.RollingMin(window_size=24), lt.RollingMax(window_size=24)]},
            None,
            1,
        ),
        "recency weights (half-life 365 days)": ({}, 365.0, 1),
        "chosen, 3 seeds averaged": ({}, None, 3),
        "+ EWM of the last hour (alpha 0.5, 0.1), 3 seeds averaged": ({1: ewm}, None, 3),
    }


def one_origin(frame: pd.DataFrame, origin: pd.Timestamp, name: str) -> np.ndarray:
    """Absolute percentage errors of the variant's 24 hours after ``origin``."""
    cfg = ForecastConfig()
    extra, half_life, seeds = variants()[name]
    transforms = lag_transforms(HOURLY)
    for lag, more in extra.items():
        transforms[lag] = transforms.get(lag, []) + more
    models = {
        f"seed{k}": lgb.LGBMRegressor(**lightgbm_params(cfg.lightgbm, cfg.seed + k))
        for k in range(seeds)
    }
    mlf = MLForecast(
        models=models,
        freq=HOURLY.freq,
        lags=list(HOURLY.lags),
        lag_transforms=transforms,
        date_features=calendar_features(HOURLY),
        target_transforms=[Differences(list(HOURLY.differences))],
        num_threads=1,
    )
    start = origin - pd.Timedelta(days=cfg.lightgbm.train_days)
    history = frame.loc[(frame["ds"] > start) & (frame["ds"] <= origin), ["unique_id", "ds", "y"]]
    weight: dict[str, str] = {}
    if half_life is not None:
        age = (origin - history["ds"]).dt.days.to_numpy()
        history = history.assign(weight=0.5 ** (age / half_life))
        weight["weight_col"] = "weight"
    mlf.fit(history, static_features=[], **weight)
    predicted = mlf.predict(STEPS)
    forecast = predicted[list(models)].mean(axis=1).to_numpy()
    actual = frame.set_index("ds").loc[predicted["ds"], "y"].to_numpy()
    return np.asarray(np.abs(forecast - actual) / actual * 100)


def main() -> None:
    cfg = ForecastConfig()
    series = load(cfg)
    if not series.source.is_real:
        raise SystemExit("the validation year needs the real PJME file (set TENFOLD_DATA_DIR)")
    frame = series.frame.loc[series.frame["ds"] <= pd.Timestamp("2017-08-04")]
    origins = pd.date_range("2016-08-11", "2017-08-03", freq="7D")
    errors: dict[str, np.ndarray] = {}
    for name in variants():
        started = time.perf_counter()
        rows = Parallel(n_jobs=cfg.n_jobs)(delayed(one_origin)(frame, o, name) for o in origins)
        e = errors[name] = np.array(rows)  # origins × steps
        base = errors["chosen, 3 seeds averaged" if "3 seeds" in name else "chosen"]
        diff = e.mean(axis=1) - base.mean(axis=1)
        print(
            f"{name}: MAPE {e.mean():.3f} (median {np.median(e.mean(axis=1)):.3f}) "
            f"hour 1/12/24 {e[:, 0].mean():.2f}/{e[:, 11].mean():.2f}/{e[:, 23].mean():.2f} "
            f"| vs chosen {diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.3f}, "
            f"better on {(diff < 0).sum()}/{len(diff)} days "
            f"({time.perf_counter() - started:.0f} s)",
            flush=True,
        )


if __name__ == "__main__":
    main()
