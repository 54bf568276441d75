"""Training: Prophet's prior scales tuned on data before the first origin, the backtest
of the three models, and the champion refit on all the data.

``train`` is pure (no tracking): it returns every model's backtest, the candidates. The
champion is chosen on the evaluated backtest and refit by ``retrain``; logging and
registration are separate steps (:mod:`forecasting.tracking_runs`), so that a promotion
gate can come between them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from forecasting.backtest import (
    Backtest,
    FitTask,
    Progress,
    backtest,
    calendar,
    make_forecaster,
    run_fits,
)
from forecasting.config import ForecastConfig
from forecasting.data import Series
from forecasting.features import lightgbm_params
from forecasting.models import MODELS, Champion

Params = tuple[tuple[str, float], ...]


@dataclass
class TrainResult:
    """Every model's backtest on the same origins (the candidates) and how Prophet was tuned."""

    backtest: Backtest
    tuning: pd.DataFrame  # changepoint/seasonality prior scale, MAPE per tuning origin, mean
    params: dict[str, dict[str, Any]]  # per model, for the runs and metrics.json

    @property
    def fit_params(self) -> dict[str, Params]:
        """What each model's constructor takes beyond the config (Prophet's tuned scales)."""
        prophet = self.params.get("Prophet", {})
        keys = ("changepoint_prior_scale", "seasonality_prior_scale")
        return {"Prophet": tuple((k, float(prophet[k])) for k in sorted(keys) if k in prophet)}


def tuning_origins(series: Series, cfg: ForecastConfig) -> list[pd.Timestamp]:
    """Cutoffs before the first backtest origin, ``tuning_every_days`` apart, whose
    forecast windows end by that origin (so tuning never sees a scored value)."""
    first = calendar(series.frame, series.cadence, cfg).origins[0]
    settings = cfg.prophet
    last = first - pd.Timedelta(days=settings.tuning_horizon_days)
    return sorted(
        last - pd.Timedelta(days=k * settings.tuning_every_days)
        for k in range(settings.tuning_origins)
    )


def tune_prophet(
    series: Series, cfg: ForecastConfig, *, progress: Progress | None = None
) -> tuple[dict[str, float], pd.DataFrame]:
    """Grid over the changepoint and seasonality prior scales; the best mean MAPE of
    ``tuning_horizon_days``-ahead forecasts from the tuning origins."""
    settings = cfg.prophet
    cadence = series.cadence
    origins = tuning_origins(series, cfg)
    steps = settings.tuning_horizon_days * cadence.steps_per_day
    grid = list(
        itertools.product(settings.changepoint_prior_scales, settings.seasonality_prior_scales)
    )
    tasks = [
        FitTask(
            "Prophet",
            origin,
            (origin,),
            steps,
            (("changepoint_prior_scale", cps), ("seasonality_prior_scale", sps)),
        )
        for cps, sps in grid
        for origin in origins
    ]
    results = run_fits(tasks, series.frame, cadence, cfg, progress=progress, label="Prophet tuning")
    actual = series.frame.set_index(["unique_id", "ds"])
    rows = []
    for cps, sps in grid:
        row: dict[str, Any] = {"changepoint_prior_scale": cps, "seasonality_prior_scale": sps}
        for result in results:
            if dict(result.task.params) != {
                "changepoint_prior_scale": cps,
                "seasonality_prior_scale": sps,
            }:
                continue
            f = result.forecasts
            truth = actual.reindex(pd.MultiIndex.from_arrays([f["unique_id"], f["ds"]]))
            keep = ~truth["imputed"].to_numpy(dtype=bool)
            ape = np.abs(f["Prophet"].to_numpy() - truth["y"].to_numpy()) / truth["y"].to_numpy()
            row[f"mape_{result.task.cutoff:%Y-%m-%d}"] = float(ape[keep].mean() * 100)
        row["mape"] = float(np.mean([v for k, v in row.items() if k.startswith("mape_")]))
        rows.append(row)
    table = pd.DataFrame(rows)
    best = table.iloc[int(np.argmin(table["mape"].to_numpy()))]
    chosen = {
        "changepoint_prior_scale": float(best["changepoint_prior_scale"]),
        "seasonality_prior_scale": float(best["seasonality_prior_scale"]),
    }
    return chosen, table


def model_params(cfg: ForecastConfig, prophet: dict[str, float]) -> dict[str, dict[str, Any]]:
    return {
        "SeasonalNaive": {"season_steps": 0},
        "Prophet": {
            **prophet,
            "train_days": cfg.prophet.train_days,
            "yearly_weekly_daily": True,
            "holidays": cfg.prophet.country,
        },
        "LightGBM": {
            **{k: v for k, v in lightgbm_params(cfg.lightgbm, cfg.seed).items() if k != "verbose"},
            "train_days": cfg.lightgbm.train_days,
        },
    }


def train(
    cfg: ForecastConfig,
    series: Series,
    *,
    progress: Progress | None = None,
) -> TrainResult:
    """Tune Prophet on earlier data, then backtest every model on the same origins."""
    prophet, tuning = tune_prophet(series, cfg, progress=progress)
    params = model_params(cfg, prophet)
    params["SeasonalNaive"]["season_steps"] = series.cadence.season
    params["LightGBM"]["lags"] = list(series.cadence.lags)
    params["LightGBM"]["rolling_windows"] = list(series.cadence.windows)
    fit_params = {"Prophet": tuple(sorted(prophet.items()))}
    result = backtest(
        series.frame, series.cadence, cfg, params=fit_params, models=MODELS, progress=progress
    )
    return TrainResult(backtest=result, tuning=tuning, params=params)


def retrain(
    cfg: ForecastConfig,
    series: Series,
    champion: str,
    params: dict[str, Params],
    *,
    progress: Progress | None = None,
) -> Champion:
    """The champion refit on all the data, with intervals for every step up to the
    longest served horizon: calibrated on one extra fit ``calibration_windows`` days +
    ``max_horizon`` steps before the end, forecasting ``max_horizon`` steps from each of
    those days (recursively beyond the shortest lag, as the served forecast does)."""
    cadence = series.cadence
    frame = series.frame
    end = pd.Timestamp(frame["ds"].max())
    step = pd.Timedelta(cadence.step)
    every = pd.Timedelta(cadence.calibration_step)
    n = cfg.calibration_windows
    first = end - cadence.max_horizon * step - (n - 1) * every
    windows = tuple(first + j * every for j in range(n))
    report = progress or (lambda stage, done, total: None)
    calibration = run_fits(
        [FitTask(champion, first, windows, cadence.max_horizon, params.get(champion, ()))],
        frame,
        cadence,
        cfg,
        label="champion calibration",
    )[0]
    report("champion refit", 0, 1)
    model = make_forecaster(champion, cadence, cfg, params.get(champion, ()))
    model.fit(frame)
    report("champion refit", 1, 1)
    scores = {}
    joined = calibration.forecasts.merge(
        frame[["unique_id", "ds", "y", "imputed"]], on=["unique_id", "ds"]
    )
    error = (joined[champion] - joined["y"]).abs().where(~joined["imputed"])
    joined = joined.assign(score=error)
    for uid, one in joined.groupby("unique_id"):
        grid = one.pivot(index="cutoff", columns="step", values="score")
        scores[str(uid)] = grid.reindex(columns=range(1, cadence.max_horizon + 1)).to_numpy()
    return Champion(
        model,
        frame,
        scores,
        cadence=cadence,
        levels=cfg.levels,
        details={"candidate": champion, "calibration_cutoffs": [str(w) for w in windows]},
    )
