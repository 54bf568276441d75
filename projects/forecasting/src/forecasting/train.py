"""Training: Prophet's prior scales tuned on data before the first origin, the
rolling-origin backtest of the three models, and each model refit on all the data.

``train`` is pure (no tracking) and returns a :class:`tenfold.training.TrainResult`: one
candidate per model, whose "fold" scores are its MAPE at each backtest origin (each
forecast made by a model refit on the data before that origin only: time-series
cross-validation), whose out-of-fold predictions are its day-ahead track record with
intervals, and whose model is a :class:`forecasting.models.Champion` refit on all the
data, ready to be registered. The best is the lowest mean MAPE over the origins.
Logging, the ``challenger`` alias and the promotion gate (on the same backtest) are the
library's separate steps (:class:`tenfold.cli.ProjectCli`).

:func:`from_run` rebuilds the same result from a logged training (``evaluate``), and
:func:`read_track_record` gives the app the backtest of a registered model's training.
"""

from __future__ import annotations

import io
import itertools
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from forecasting.backtest import (
    KEYS,
    Backtest,
    Calendar,
    FitTask,
    Progress,
    backtest,
    calendar,
    make_forecaster,
    run_fits,
)
from forecasting.config import Cadence, ForecastConfig
from forecasting.data import Series
from forecasting.features import lightgbm_params
from forecasting.models import MODELS, Champion, Forecaster
from forecasting.scoring import score_windows
from tenfold.errors import DataError
from tenfold.training import Candidate, TrainResult

if TYPE_CHECKING:
    from tenfold.tracking import LoggedTraining

# what loading each registered model needs beside mlflow and scikit-learn (pinned from
# the environment by tenfold.tracking); Prophet only for a Prophet model
REQUIREMENTS = {
    "SeasonalNaive": ("pandas", "numpy", "holidays", "mlforecast", "utilsforecast"),
    "Prophet": ("pandas", "numpy", "holidays", "mlforecast", "utilsforecast", "prophet"),
    "LightGBM": ("pandas", "numpy", "holidays", "mlforecast", "utilsforecast", "lightgbm"),
}
METRIC = "mape"  # each candidate's per-origin score, lower is better


@dataclass
class ForecastData:
    """What the candidates were fitted and scored on: the series, the backtest of all
    three (same origins), Prophet's tuning table, and CPU/wall seconds."""

    series: Series
    backtest: Backtest
    tuning: pd.DataFrame  # changepoint/seasonality prior scale, MAPE per tuning origin, mean
    fit_cpu_seconds: dict[str, float] = field(default_factory=dict)  # mean per fit
    stage_seconds: dict[str, float] = field(default_factory=dict)  # wall, this process
    fit_counts: dict[str, int] = field(default_factory=dict)  # backtest fits per model


ForecastResult = TrainResult[Candidate, ForecastData]


# --------------------------------------------------------------------------- tuning


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
            make_forecaster(
                "Prophet",
                cadence,
                cfg,
                (("changepoint_prior_scale", cps), ("seasonality_prior_scale", sps)),
            ),
            origin,
            (origin,),
            steps,
        )
        for cps, sps in grid
        for origin in origins
    ]
    results = run_fits(tasks, series.frame, cfg.n_jobs, progress=progress, label="Prophet tuning")
    actual = series.frame.set_index(["unique_id", "ds"])
    rows = []
    per_grid = len(origins)
    chunks = [results[i : i + per_grid] for i in range(0, len(results), per_grid)]
    for (cps, sps), chunk in zip(grid, chunks, strict=True):
        row: dict[str, Any] = {"changepoint_prior_scale": cps, "seasonality_prior_scale": sps}
        for result in chunk:
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


def model_params(
    cfg: ForecastConfig, cadence: Cadence, prophet: Mapping[str, float]
) -> dict[str, dict[str, Any]]:
    """Each candidate's parameters, as its MLflow run and metrics.json show them."""
    return {
        "SeasonalNaive": {"season_steps": cadence.season},
        "Prophet": {
            **prophet,
            "train_days": cfg.prophet.train_days,
            "yearly_weekly_daily": True,
            "holidays": cfg.prophet.country,
        },
        "LightGBM": {
            **{k: v for k, v in lightgbm_params(cfg.lightgbm, cfg.seed).items() if k != "verbose"},
            "train_days": cfg.lightgbm.train_days,
            "lags": list(cadence.lags),
            "rolling_windows": list(cadence.windows),
        },
    }


# --------------------------------------------------------------------------- refit


def refit(
    cfg: ForecastConfig,
    series: Series,
    forecasters: Sequence[Forecaster],
    *,
    progress: Progress | None = None,
) -> dict[str, Champion]:
    """Each forecaster refit on all the data, with intervals for every step up to the
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
    tasks = [
        task
        for f in forecasters
        for task in (
            FitTask(f, first, windows, cadence.max_horizon),
            FitTask(f, end, (), cadence.max_horizon, keep_model=True),
        )
    ]
    results = run_fits(tasks, frame, cfg.n_jobs, progress=progress, label="refit on all data")
    champions = {}
    actual = frame[["unique_id", "ds", "y", "imputed"]]
    for calibration, fitted in zip(results[::2], results[1::2], strict=True):
        name = calibration.task.model
        joined = calibration.forecasts.merge(actual, on=["unique_id", "ds"])
        joined["score"] = (joined[name] - joined["y"]).abs().where(~joined["imputed"])
        scores = {
            str(uid): one.pivot(index="cutoff", columns="step", values="score")
            .reindex(columns=range(1, cadence.max_horizon + 1))
            .to_numpy()
            for uid, one in joined.groupby("unique_id")
        }
        assert fitted.model is not None
        champions[name] = Champion(
            fitted.model,
            frame,
            scores,
            cadence=cadence,
            levels=cfg.levels,
            details={"candidate": name, "calibration_cutoffs": [str(w) for w in windows]},
        )
    return champions


# --------------------------------------------------------------------------- train


def train(
    cfg: ForecastConfig,
    series: Series,
    *,
    progress: Progress | None = None,
) -> ForecastResult:
    """Tune Prophet on earlier data, backtest every model on the same origins, refit each
    on all the data; the best candidate has the lowest mean MAPE over the origins."""
    cadence = series.cadence
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    prophet, tuning = tune_prophet(series, cfg, progress=progress)
    seconds["prophet_tuning"] = time.perf_counter() - started
    params = model_params(cfg, cadence, prophet)
    forecasters = [
        make_forecaster(m, cadence, cfg, tuple(sorted(prophet.items())) if m == "Prophet" else ())
        for m in MODELS
    ]
    started = time.perf_counter()
    bt = backtest(series.frame, cadence, cfg, forecasters=forecasters, progress=progress)
    seconds["backtest"] = time.perf_counter() - started
    started = time.perf_counter()
    champions = refit(cfg, series, forecasters, progress=progress)
    seconds["refit"] = time.perf_counter() - started
    fit_cpu = {m: float(np.mean(bt.fit_seconds[m])) for m in bt.models}
    counts = {m: len(bt.fit_seconds[m]) for m in bt.models}
    data = ForecastData(series, bt, tuning, fit_cpu, seconds, counts)
    candidates = {m: candidate(m, champions[m], params[m], data, cfg) for m in bt.models}
    best = min(bt.models, key=lambda m: candidates[m].cv_score)
    example = pd.DataFrame({"steps": [cadence.horizon]})
    return TrainResult(candidates, best, data, series.source, example)


def candidate(
    name: str, champion: Champion, params: dict[str, Any], data: ForecastData, cfg: ForecastConfig
) -> Candidate:
    """One model's candidate: its per-origin MAPE as fold scores, its track record as
    out-of-fold predictions, its refit champion as the model."""
    bt = data.backtest
    per_origin = score_windows(bt.forecasts, data.series.frame, [name], (), data.series.cadence)
    metadata: dict[str, Any] = {
        "candidate": name,
        "cadence": data.series.cadence.name,
        "series": data.series.ids,
        "data_end": str(data.series.end),
        "levels": list(cfg.levels),
        "backtest_origins": [str(o) for o in bt.calendar.origins],
        "backtest_warmup": [str(o) for o in bt.calendar.warmup],
        "backtest_mape": float(per_origin["mape"].mean()),
        # the training's wall time by stage, for `evaluate` of a logged training
        "stage_wall_seconds": dict(data.stage_seconds),
    }
    if name == "LightGBM":
        metadata["importance"] = {str(k): float(v) for k, v in bt.importance.items()}
    if name == "Prophet":
        metadata["tuning"] = data.tuning.to_dict("records")
    return Candidate(
        name=name,
        model=champion,
        params=params,
        metric=METRIC,
        fold_scores=[float(v) for v in per_origin["mape"]],
        oof=bt.track_record[[*KEYS, "y", "imputed", *_columns(bt.track_record, name)]],
        requirements=REQUIREMENTS[name],
        metadata=metadata,
        metrics={"fit_cpu_seconds": data.fit_cpu_seconds[name], "fits": data.fit_counts[name]},
    )


def _columns(track: pd.DataFrame, model: str) -> list[str]:
    """A model's forecast and interval columns, in the track record's order."""
    return [c for c in track.columns if c == model or c.startswith(f"{model}-")]


# --------------------------------------------------------------------------- read back


def _track_of(oof: pd.DataFrame) -> pd.DataFrame:
    """A logged track record (CSV text read back) with its types restored."""
    out = oof.copy()
    out["unique_id"] = out["unique_id"].astype(str)
    for column in ("cutoff", "ds"):
        out[column] = pd.to_datetime(out[column])
    out["imputed"] = out["imputed"].astype(str).str.lower().eq("true")
    return out


def merge_tracks(tracks: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Several models' track records side by side (same windows)."""
    merged: pd.DataFrame | None = None
    for model, track in tracks.items():
        part = track[[*KEYS, "y", "imputed", *_columns(track, model)]]
        merged = part if merged is None else merged.merge(part, on=[*KEYS, "y", "imputed"])
    if merged is None:
        raise DataError("no track record to read")
    return merged.sort_values(["cutoff", "unique_id", "ds"], ignore_index=True)


def from_run(cfg: ForecastConfig, series: Series, training: LoggedTraining) -> ForecastResult:
    """A training read back from MLflow (:func:`tenfold.tracking.read_training`, which
    checked the config and the data's bytes): the backtest rebuilt from each candidate's
    logged track record, the same numbers ``evaluate`` computed when it ran."""
    missing = [m for m in MODELS if m not in training.candidates]
    if missing:
        raise DataError(f"training run {training.run_id} lacks candidate(s) {missing}")
    candidates = {m: training.candidates[m] for m in MODELS}
    track = merge_tracks({m: _track_of(c.oof) for m, c in candidates.items()})
    cal = calendar(series.frame, series.cadence, cfg)
    lightgbm = candidates["LightGBM"].metadata
    importance = pd.Series(lightgbm.get("importance", {}), dtype=float)
    bt = Backtest(
        forecasts=track.loc[track["cutoff"].isin(cal.origins)].reset_index(drop=True),
        calendar=cal,
        models=MODELS,
        levels=tuple(cfg.levels),
        importance=importance.sort_values(ascending=False),
        track_record=track,
    )
    tuning = pd.DataFrame(candidates["Prophet"].metadata.get("tuning", []))
    fit_cpu = {
        m: float(c.metrics.get("fit_cpu_seconds", float("nan"))) for m, c in candidates.items()
    }
    counts = {m: int(c.metrics.get("fits", 0)) for m, c in candidates.items()}
    stages = candidates[training.best_name].metadata.get("stage_wall_seconds", {})
    stage_seconds = {k: float(v) for k, v in stages.items()}
    data = ForecastData(series, bt, tuning, fit_cpu, stage_seconds, counts)
    example = pd.DataFrame({"steps": [series.cadence.horizon]})
    return TrainResult(
        candidates, training.best_name, data, series.source, example, run_id=training.run_id
    )


def read_track_record(
    model_run_id: str, metadata: Mapping[str, Any]
) -> tuple[pd.DataFrame, Calendar]:
    """The backtest of the training a logged model belongs to (``model_run_id``: the
    candidate's run, as the registry records it; ``metadata``: the model's, which names
    the origins): every model's track record and the calendar. What the app shows."""
    import mlflow
    from mlflow import MlflowClient

    from tenfold import tracking

    tracking.configure()
    client = MlflowClient()
    run = client.get_run(model_run_id)
    parent = run.data.tags.get("mlflow.parentRunId", model_run_id)
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=(
            f"tags.`mlflow.parentRunId` = '{parent}' and tags.`tenfold.stage` = 'candidate'"
        ),
    )
    tracks = {}
    for child in sorted(children, key=lambda r: MODELS.index(r.data.tags["tenfold.candidate"])):
        text = mlflow.artifacts.load_text(f"runs:/{child.info.run_id}/{tracking.OOF_ARTIFACT}")
        oof = pd.read_csv(io.StringIO(text), float_precision="round_trip")
        tracks[child.data.tags["tenfold.candidate"]] = _track_of(oof)
    cal = Calendar(
        origins=tuple(pd.Timestamp(o) for o in metadata["backtest_origins"]),
        warmup=tuple(pd.Timestamp(o) for o in metadata.get("backtest_warmup", [])),
    )
    return merge_tracks(tracks), cal
