"""A seeded Optuna search of LightGBM's settings, on the validation year only, checked on
the year before it (never the scored year).

The design stays the chosen one (``forecasting.features.make_mlforecast``: lags,
windows, calendar, daily-change target, four-year window, refit at every origin); only
``LightGBMSettings`` moves. Each trial is the mean day-ahead MAPE over the 52 Thursdays
2016-08-11 … 2017-08-03 (data cut at 2017-08-04), reported after each quarter of the
origins so that the median pruner stops hopeless trials early. Picking the best of many
trials on one year flatters it, so the winner and the chosen settings are then re-scored
on the 52 Thursdays 2015-08-13 … 2016-08-04 (data cut at 2016-08-05), a year the search
never saw; per-origin paired differences (mean ± standard error, days better) on both.
Decided before the run: adopted only if the winner beats the chosen settings on the check
year by at least 0.1 point and by more than two standard errors::

    TENFOLD_DATA_DIR=/path/to/datasets uv run python \
        projects/forecasting/benchmarks/lightgbm_search.py [n_trials]

Measured: see the README's *Attempts at the 3.3 % goal*.
"""

from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np
import optuna
import pandas as pd
from joblib import Parallel, delayed

from forecasting.config import HOURLY, ForecastConfig, LightGBMSettings
from forecasting.data import load
from forecasting.features import make_mlforecast
from tenfold.tuning import tune

STEPS = 24
CHUNKS = 4  # pruning checkpoints per trial
SEARCH_YEAR = ("2016-08-11", "2017-08-03")
CHECK_YEAR = ("2015-08-13", "2016-08-04")


def space(trial: optuna.trial.BaseTrial, base: LightGBMSettings) -> LightGBMSettings:
    return dataclasses.replace(
        base,
        n_estimators=trial.suggest_int("n_estimators", 500, 2000, step=250),
        learning_rate=trial.suggest_float("learning_rate", 0.01, 0.1, log=True),
        num_leaves=trial.suggest_int("num_leaves", 15, 255, log=True),
        min_child_samples=trial.suggest_int("min_child_samples", 5, 200, log=True),
        subsample=trial.suggest_float("subsample", 0.5, 1.0),
        colsample_bytree=trial.suggest_float("colsample_bytree", 0.4, 1.0),
        reg_lambda=trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
    )


def one_origin(
    frame: pd.DataFrame, origin: pd.Timestamp, settings: LightGBMSettings, seed: int
) -> np.ndarray:
    """Absolute percentage errors of the 24 hours after ``origin`` (fit on the window
    before it, as the backtest does)."""
    mlf = make_mlforecast(HOURLY, settings, seed)
    start = origin - pd.Timedelta(days=settings.train_days)
    history = frame.loc[(frame["ds"] > start) & (frame["ds"] <= origin), ["unique_id", "ds", "y"]]
    mlf.fit(history, static_features=[])
    predicted = mlf.predict(STEPS)
    actual = frame.set_index("ds").loc[predicted["ds"], "y"].to_numpy()
    return np.asarray(np.abs(predicted["LightGBM"].to_numpy() - actual) / actual * 100)


def year_errors(
    frame: pd.DataFrame,
    origins: pd.DatetimeIndex,
    settings: LightGBMSettings,
    cfg: ForecastConfig,
) -> np.ndarray:
    rows = Parallel(n_jobs=cfg.n_jobs)(
        delayed(one_origin)(frame, o, settings, cfg.seed) for o in origins
    )
    return np.array(rows)  # origins × steps


def paired(name: str, errors: np.ndarray, base: np.ndarray) -> str:
    diff = errors.mean(axis=1) - base.mean(axis=1)
    return (
        f"{name}: MAPE {errors.mean():.3f} (median {np.median(errors.mean(axis=1)):.3f}) "
        f"| vs chosen {diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(len(diff)):.3f}, "
        f"better on {(diff < 0).sum()}/{len(diff)} days"
    )


def main(n_trials: int) -> None:
    cfg = ForecastConfig()
    series = load(cfg)
    if not series.source.is_real:
        raise SystemExit("the validation year needs the real PJME file (set TENFOLD_DATA_DIR)")
    full = series.frame
    frame = full.loc[full["ds"] <= pd.Timestamp("2017-08-04")]
    origins = pd.date_range(*SEARCH_YEAR, freq="7D")
    # a chunk is every CHUNKS-th origin, so each checkpoint spans the whole year
    chunks = [origins[i::CHUNKS] for i in range(CHUNKS)]

    def objective(trial: optuna.Trial) -> float:
        settings = space(trial, cfg.lightgbm)
        started = time.perf_counter()
        done: list[np.ndarray] = []
        for step, chunk in enumerate(chunks):
            done.append(year_errors(frame, chunk, settings, cfg))
            value = float(np.concatenate(done).mean())
            trial.report(value, step)
            if trial.should_prune():
                print(f"trial {trial.number}: pruned at {value:.3f} {trial.params}", flush=True)
                raise optuna.TrialPruned
        print(
            f"trial {trial.number}: {value:.3f} ({time.perf_counter() - started:.0f} s) "
            f"{trial.params}",
            flush=True,
        )
        return value

    started = time.perf_counter()
    chosen = year_errors(frame, origins, cfg.lightgbm, cfg)
    print(f"chosen on the search year: {chosen.mean():.3f} ({time.perf_counter() - started:.0f} s)")
    result = tune(
        objective,
        n_trials=n_trials,
        seed=cfg.seed,
        direction="minimize",
        study_name="lightgbm",
        n_startup_trials=min(10, max(1, n_trials // 2)),
        log_to_mlflow=False,
    )
    best = space(optuna.trial.FixedTrial(result.best_params), cfg.lightgbm)
    print(f"\nbest of {result.n_trials} trials ({result.n_pruned} pruned): {best}")
    print(paired("search year, best", year_errors(frame, origins, best, cfg), chosen))

    check_frame = full.loc[full["ds"] <= pd.Timestamp("2016-08-05")]
    check_origins = pd.date_range(*CHECK_YEAR, freq="7D")
    check_chosen = year_errors(check_frame, check_origins, cfg.lightgbm, cfg)
    print(f"chosen on the check year: {check_chosen.mean():.3f}")
    check_best = year_errors(check_frame, check_origins, best, cfg)
    print(paired("check year, best", check_best, check_chosen), flush=True)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 30)
