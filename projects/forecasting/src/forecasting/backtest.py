"""The rolling-origin backtest: the same origins for every model, each fit on the past only.

The origins come from the shared splitter (:class:`tenfold.splits.TimeSplitter` with
mlforecast-style cutoffs: the origin is the last known instant). For PJME they are the
issue's calendar, midnight 2017-08-10 … 2018-08-02, and the same as mlforecast's own
``cross_validation(n_windows=52, h=24, step_size=168)`` cutoffs (tested). The splitter,
not mlforecast's ``cross_validation``, drives the loop because two of the three models
are not mlforecast models and because each origin must be computable on its own (the
reproducibility test recomputes a few; the fits spread over processes).

At every fit cutoff each model is refit on data up to the cutoff, then forecasts the
next ``horizon`` steps from every day until the next fit (seven day-ahead windows a
week): the first window is the scored forecast of that origin; all of them are the
model's track record, whose absolute errors over the ``calibration_windows`` days before
a later origin calibrate that origin's conformal intervals (:mod:`forecasting.intervals`).
The first origins' track record comes from a few *warm-up* fits before the first origin,
which are never scored.
"""

from __future__ import annotations

import math
import multiprocessing
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from forecasting.config import Cadence, ForecastConfig
from forecasting.features import history_needed
from forecasting.intervals import add_intervals
from forecasting.models import (
    MODELS,
    Forecaster,
    LightGBMForecaster,
    ProphetForecaster,
    SeasonalNaive,
)
from tenfold.errors import DataError
from tenfold.splits import TimeSplitter

Progress = Callable[[str, int, int], None]
KEYS = ["unique_id", "cutoff", "ds", "step"]


@dataclass(frozen=True)
class Calendar:
    """Scored origins, and the earlier fits whose forecasts only calibrate."""

    origins: tuple[pd.Timestamp, ...]
    warmup: tuple[pd.Timestamp, ...]

    @property
    def fits(self) -> tuple[pd.Timestamp, ...]:
        return self.warmup + self.origins


def windows_per_fit(cadence: Cadence) -> int:
    return int(pd.Timedelta(cadence.origin_step) / pd.Timedelta(cadence.calibration_step))


def calendar(frame: pd.DataFrame, cadence: Cadence, cfg: ForecastConfig) -> Calendar:
    """``n_origins`` weekly origins ending a horizon before the data does, after enough
    warm-up fits to calibrate the first one."""
    warmup = math.ceil(cfg.calibration_windows / windows_per_fit(cadence))
    splitter = TimeSplitter(
        pd.Timedelta(cadence.step) * cadence.horizon,
        n_splits=cfg.n_origins + warmup,
        step=cadence.origin_step,
        origin_kind="last_train",
        time_column="ds",
    )
    fits = [pd.Timestamp(o) for o in splitter.origins_for(frame["ds"])]
    first = pd.Timestamp(frame.groupby("unique_id")["ds"].min().max())
    needed = pd.Timedelta(cadence.step) * (history_needed(cadence) + cadence.season)
    if fits[0] - first < needed:
        raise DataError(
            f"the series are too short for {cfg.n_origins} weekly origins with "
            f"{cfg.calibration_windows} calibration days: the first fit at {fits[0]} would "
            f"have {fits[0] - first} of history, the features need {needed} "
            "(ask for fewer origins with --origins)"
        )
    return Calendar(origins=tuple(fits[warmup:]), warmup=tuple(fits[:warmup]))


# --------------------------------------------------------------------------- one fit


@dataclass(frozen=True)
class FitTask:
    """One forecaster (unfitted, its recipe) fitted at one cutoff, forecasting
    ``horizon`` steps from each window; ``keep_model`` returns the fitted forecaster."""

    forecaster: Forecaster
    cutoff: pd.Timestamp
    windows: tuple[pd.Timestamp, ...]
    horizon: int
    keep_model: bool = False

    @property
    def model(self) -> str:
        return self.forecaster.name


@dataclass
class FitResult:
    task: FitTask
    forecasts: pd.DataFrame  # unique_id, cutoff (the window's), ds, step, <model>
    importance: pd.Series | None
    seconds: float
    model: Forecaster | None = None  # the fitted forecaster, when the task keeps it


def make_forecaster(
    name: str, cadence: Cadence, cfg: ForecastConfig, params: Iterable[tuple[str, float]] = ()
) -> Forecaster:
    """An unfitted forecaster of the configured recipe (``params``: Prophet's scales)."""
    if name == "SeasonalNaive":
        return SeasonalNaive(cadence)
    if name == "Prophet":
        return ProphetForecaster(cadence, cfg.prophet, seed=cfg.seed, **dict(params))
    if name == "LightGBM":
        return LightGBMForecaster(cadence, cfg.lightgbm, seed=cfg.seed)
    raise ValueError(f"unknown model {name!r}; models are {MODELS}")


def run_fit(task: FitTask, frame: pd.DataFrame) -> FitResult:
    """Fit on the rows at or before the cutoff; forecast from each window with the rows at
    or before that window only (``forecast`` slices per window)."""
    started = _cpu_seconds()
    model = task.forecaster.unfitted()
    model.fit(frame.loc[frame["ds"] <= task.cutoff])
    if task.windows:
        known = frame.loc[frame["ds"] <= max(task.windows)]
        forecasts = model.forecast(known, list(task.windows), task.horizon)
    else:
        forecasts = pd.DataFrame(columns=[*KEYS, model.name])
    importance = model.feature_importance() if isinstance(model, LightGBMForecaster) else None
    # CPU seconds of this process and its children (Stan runs as a subprocess)
    return FitResult(
        task,
        forecasts,
        importance,
        _cpu_seconds() - started,
        model if task.keep_model else None,
    )


def _cpu_seconds() -> float:
    import resource

    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


# --------------------------------------------------------------------------- many fits

_WORKER: dict[str, Any] = {}


def _init_worker(frame: pd.DataFrame) -> None:
    _WORKER.update(frame=frame)


def _run_in_worker(task: FitTask) -> FitResult:
    return run_fit(task, _WORKER["frame"])


def run_fits(
    tasks: Sequence[FitTask],
    frame: pd.DataFrame,
    n_jobs: int,
    *,
    progress: Progress | None = None,
    label: str = "fits",
) -> list[FitResult]:
    """Every task, in ``n_jobs`` processes when more than one (slowest first), in task
    order."""
    report = progress or (lambda stage, done, total: None)
    report(label, 0, len(tasks))
    if n_jobs <= 1 or len(tasks) <= 1:
        results = []
        for i, task in enumerate(tasks, start=1):
            results.append(run_fit(task, frame))
            report(label, i, len(tasks))
        return results
    order = sorted(range(len(tasks)), key=lambda i: _expected_cost(tasks[i]), reverse=True)
    out: dict[int, FitResult] = {}
    # spawn, not fork: a forked child inheriting LightGBM's OpenMP state can deadlock
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(n_jobs, len(tasks)),
        mp_context=context,
        initializer=_init_worker,
        initargs=(frame,),
    ) as pool:
        futures = {pool.submit(_run_in_worker, tasks[i]): i for i in order}
        for done, future in enumerate(as_completed(futures), start=1):
            out[futures[future]] = future.result()
            report(label, done, len(tasks))
    return [out[i] for i in range(len(tasks))]


def _expected_cost(task: FitTask) -> float:
    return {"Prophet": 10.0, "LightGBM": 3.0}.get(task.model, 0.1)


# --------------------------------------------------------------------------- the backtest


@dataclass
class Backtest:
    """Every model's scored forecasts with intervals, on the same origins."""

    forecasts: pd.DataFrame  # KEYS, y, imputed, <model>, <model>-lo-<l>, <model>-hi-<l>
    calendar: Calendar
    models: tuple[str, ...]
    levels: tuple[int, ...]
    importance: pd.Series  # LightGBM gain share, mean over its fits
    fit_seconds: dict[str, list[float]] = field(default_factory=dict)  # CPU s per fit
    # every day-ahead window with a full calibration set, with its intervals
    track_record: pd.DataFrame = field(default_factory=pd.DataFrame)
    # every window of every fit, point forecasts only (the warm-up fits' too)
    points: pd.DataFrame = field(default_factory=pd.DataFrame)

    def at(self, origin: pd.Timestamp) -> pd.DataFrame:
        return self.forecasts.loc[self.forecasts["cutoff"] == origin]


# refits are scheduled by the number of origin steps since this instant, so that a
# recomputation of a few origins finds the same fits as the whole backtest
SCHEDULE_EPOCH = pd.Timestamp("1970-01-01")


def refit_cutoff(fit: pd.Timestamp, cadence: Cadence, refit_every: int) -> pd.Timestamp:
    """The cutoff of the fit that forecasts from calendar fit ``fit`` for a model refit at
    every ``refit_every``-th origin: ``fit`` itself, or the last scheduled refit before."""
    step = pd.Timedelta(cadence.origin_step)
    late = ((fit - SCHEDULE_EPOCH) // step) % refit_every
    return fit - late * step


def fit_tasks(
    cal: Calendar,
    cadence: Cadence,
    end: pd.Timestamp,
    forecasters: Sequence[Forecaster],
) -> list[FitTask]:
    """One task per forecaster and fit cutoff, with the day-ahead windows until the next
    fit (only windows whose whole horizon is in the data). Every forecaster forecasts the
    same windows; one refit every ``refit_every`` origins forecasts the windows of the
    origins up to its next refit."""
    every = pd.Timedelta(cadence.calibration_step)
    span = pd.Timedelta(cadence.step) * cadence.horizon
    tasks = []
    for forecaster in forecasters:
        by_cutoff: dict[pd.Timestamp, list[pd.Timestamp]] = {}
        for fit in cal.fits:
            windows = [fit + j * every for j in range(windows_per_fit(cadence))]
            cutoff = refit_cutoff(fit, cadence, forecaster.refit_every)
            by_cutoff.setdefault(cutoff, []).extend(w for w in windows if w + span <= end)
        for cutoff, windows in by_cutoff.items():
            tasks.append(FitTask(forecaster, cutoff, tuple(windows), cadence.horizon))
    return tasks


def backtest(
    frame: pd.DataFrame,
    cadence: Cadence,
    cfg: ForecastConfig,
    *,
    params: dict[str, tuple[tuple[str, float], ...]] | None = None,
    models: Sequence[str] = MODELS,
    forecasters: Sequence[Forecaster] | None = None,
    origins: Sequence[pd.Timestamp] | None = None,
    progress: Progress | None = None,
) -> Backtest:
    """The backtest of ``models`` (the configured recipes, ``params``: Prophet's tuned
    scales) or of given ``forecasters`` on ``frame``; ``origins`` restricts it to some of
    the calendar's origins (with the fits their intervals need), e.g. to recompute a few."""
    cal = calendar(frame, cadence, cfg)
    if origins is not None:
        cal = _restricted(cal, [pd.Timestamp(o) for o in origins], cadence, cfg)
    if forecasters is None:
        forecasters = [make_forecaster(m, cadence, cfg, (params or {}).get(m, ())) for m in models]
    end = pd.Timestamp(frame["ds"].max())
    tasks = fit_tasks(cal, cadence, end, forecasters)
    results = run_fits(tasks, frame, cfg.n_jobs, progress=progress, label="backtest fits")
    return assemble(results, frame, cal, cfg, [f.name for f in forecasters])


def _restricted(
    cal: Calendar, wanted: list[pd.Timestamp], cadence: Cadence, cfg: ForecastConfig
) -> Calendar:
    unknown = [o for o in wanted if o not in cal.origins]
    if unknown:
        raise ValueError(f"{unknown} are not origins of this backtest")
    fits = list(cal.fits)
    warmup = math.ceil(cfg.calibration_windows / windows_per_fit(cadence))
    needed: set[pd.Timestamp] = set()
    for origin in wanted:
        i = fits.index(origin)
        needed.update(fits[i - warmup : i + 1])
    return Calendar(
        origins=tuple(o for o in cal.origins if o in wanted),
        warmup=tuple(f for f in fits if f in needed and f not in wanted),
    )


def assemble(
    results: Sequence[FitResult],
    frame: pd.DataFrame,
    cal: Calendar,
    cfg: ForecastConfig,
    models: Sequence[str],
) -> Backtest:
    """Scored forecasts with intervals calibrated on each model's earlier windows; the
    whole track record (every day-ahead window with a full calibration set) beside it."""
    actual = frame[["unique_id", "ds", "y", "imputed"]]
    horizon = results[0].task.horizon
    span = pd.Timedelta(frame["ds"].sort_values().diff().dropna().min()) * horizon
    merged: pd.DataFrame | None = None
    points: pd.DataFrame | None = None
    for model in models:
        windows = pd.concat(
            [r.forecasts for r in results if r.task.model == model], ignore_index=True
        )
        points = windows if points is None else points.merge(windows, on=KEYS)
        with_intervals = add_intervals(
            windows,
            actual,
            model,
            levels=cfg.levels,
            n_windows=cfg.calibration_windows,
            span=span,
        )
        merged = with_intervals if merged is None else merged.merge(with_intervals, on=KEYS)
    assert merged is not None
    track = merged.merge(actual, on=["unique_id", "ds"], how="left")
    ordered = [
        *KEYS,
        "y",
        "imputed",
        *[c for c in track.columns if c not in (*KEYS, "y", "imputed")],
    ]
    track = track[ordered].sort_values(["cutoff", "unique_id", "ds"], ignore_index=True)
    forecasts = track.loc[track["cutoff"].isin(cal.origins)].reset_index(drop=True)
    missing = sorted(set(cal.origins) - set(forecasts["cutoff"]))
    if missing:
        raise ValueError(f"origins {missing[:3]} have no calibrated forecast")
    gains = [r.importance / r.importance.sum() for r in results if r.importance is not None]
    importance = (
        pd.concat(gains, axis=1).mean(axis=1).sort_values(ascending=False)
        if gains
        else pd.Series(dtype=float)
    )
    seconds = {m: [r.seconds for r in results if r.task.model == m] for m in models}
    assert points is not None
    points = points.merge(actual, on=["unique_id", "ds"], how="left")
    return Backtest(
        forecasts=forecasts,
        calendar=cal,
        models=tuple(models),
        levels=tuple(cfg.levels),
        importance=importance,
        fit_seconds=seconds,
        track_record=track,
        points=points[[*KEYS, "y", "imputed", *models]].sort_values(
            ["cutoff", "unique_id", "ds"], ignore_index=True
        ),
    )
