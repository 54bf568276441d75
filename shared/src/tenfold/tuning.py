"""Seeded Optuna studies with pruning, visible in MLflow.

Each trial is scored by cross-validation on the training part only; intermediate fold
scores are reported so the median pruner can stop hopeless trials early. Trial values
are logged to the active MLflow run as a stepped metric, and the trial table and the
optimisation history are attached as artifacts.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import optuna
import pandas as pd
from sklearn.base import clone

Scorer = Callable[[np.ndarray, np.ndarray], float]
# (train rows, validation rows) per fold, as positions
Folds = list[tuple[np.ndarray, np.ndarray]]
# what a training function reports while it works: (stage, done, total)
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class TuningResult:
    best_params: dict[str, Any]
    best_score: float
    n_trials: int
    n_pruned: int
    trials: pd.DataFrame


def _run_folds(
    fit_score: Callable[[int], float],
    n_folds: int,
    *,
    trial: optuna.Trial | None,
    n_jobs: int,
) -> list[float]:
    """Run ``fit_score(fold_index)`` for every fold, ``n_jobs`` at a time on threads.

    Boosting libraries and most of scikit-learn release the GIL while fitting, so
    threads use both cores without copying data into processes. Scores are reported in
    fold order after each group, so pruning never depends on timing.
    """
    scores: list[float] = []
    with ThreadPoolExecutor(max_workers=max(1, n_jobs)) as pool:
        for start in range(0, n_folds, max(1, n_jobs)):
            group = range(start, min(start + max(1, n_jobs), n_folds))
            for score in pool.map(fit_score, group):
                scores.append(score)
                if trial is not None:
                    trial.report(float(np.mean(scores)), len(scores) - 1)
            if trial is not None and trial.should_prune():
                raise optuna.TrialPruned()
    return scores


def _predict(model: Any, X: Any, proba: bool) -> np.ndarray:
    return np.asarray(model.predict_proba(X)[:, 1] if proba else model.predict(X))


def cv_score(
    estimator: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    scorer: Scorer,
    *,
    trial: optuna.Trial | None = None,
    proba: bool = True,
    n_jobs: int = 1,
) -> float:
    """Mean validation score over ``folds``, refitting a clone of the whole pipeline
    per fold. With a trial, the running mean is reported after each fold for pruning."""

    def fit_score(i: int) -> float:
        train_idx, valid_idx = folds[i]
        model = clone(estimator).fit(X.iloc[train_idx], y[train_idx])
        return float(scorer(y[valid_idx], _predict(model, X.iloc[valid_idx], proba)))

    return float(np.mean(_run_folds(fit_score, len(folds), trial=trial, n_jobs=n_jobs)))


def out_of_fold(
    estimator: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    scorer: Scorer,
    *,
    proba: bool = True,
    n_jobs: int = 1,
) -> tuple[np.ndarray, list[float]]:
    """Out-of-fold predictions (each row predicted by the model that did not see it)
    and the per-fold scores; the whole pipeline is refitted per fold."""
    oof = np.zeros(len(y), dtype=float)

    def fit_score(i: int) -> float:
        train_idx, valid_idx = folds[i]
        model = clone(estimator).fit(X.iloc[train_idx], y[train_idx])
        oof[valid_idx] = _predict(model, X.iloc[valid_idx], proba)
        return float(scorer(y[valid_idx], oof[valid_idx]))

    return oof, _run_folds(fit_score, len(folds), trial=None, n_jobs=n_jobs)


@dataclass(frozen=True)
class PreparedFold:
    X_train: Any
    y_train: np.ndarray
    X_valid: Any
    y_valid: np.ndarray


def prepare_folds(
    preprocessor: Any,
    X: pd.DataFrame,
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
) -> list[PreparedFold]:
    """Fit the (untuned) preprocessing once per fold, on that fold's training rows only.

    When a study tunes only the final estimator, refitting identical preprocessing in
    every trial repeats the same work; this is the same computation done once, with the
    same guarantee: validation rows never inform the transform applied to them.
    """
    prepared = []
    for train_idx, valid_idx in folds:
        fitted = clone(preprocessor).fit(X.iloc[train_idx], y[train_idx])
        prepared.append(
            PreparedFold(
                fitted.transform(X.iloc[train_idx]),
                y[train_idx],
                fitted.transform(X.iloc[valid_idx]),
                y[valid_idx],
            )
        )
    return prepared


def cv_score_prepared(
    estimator: Any,
    folds: Sequence[PreparedFold],
    scorer: Scorer,
    *,
    trial: optuna.Trial | None = None,
    proba: bool = True,
    n_jobs: int = 1,
) -> float:
    """:func:`cv_score` for an estimator on :func:`prepare_folds` output. With
    ``n_jobs > 1`` give the estimator one thread of its own: that also makes its result
    independent of the machine's core count."""

    def fit_score(i: int) -> float:
        fold = folds[i]
        model = clone(estimator).fit(fold.X_train, fold.y_train)
        return float(scorer(fold.y_valid, _predict(model, fold.X_valid, proba)))

    return float(np.mean(_run_folds(fit_score, len(folds), trial=trial, n_jobs=n_jobs)))


def tune(
    objective: Callable[[optuna.Trial], float],
    *,
    n_trials: int,
    seed: int,
    direction: Literal["maximize", "minimize"] = "maximize",
    study_name: str = "study",
    n_startup_trials: int = 10,
    on_trial: Callable[[int, int], None] | None = None,
    log_to_mlflow: bool = True,
) -> TuningResult:
    """Run a seeded TPE study with a median pruner.

    Trials run one at a time: with a seed that is what makes the search reproducible.
    ``on_trial(done, total)`` lets the CLI draw a progress bar.
    """
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=n_startup_trials)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=n_startup_trials // 2, n_warmup_steps=1)
    study = optuna.create_study(
        direction=direction, sampler=sampler, pruner=pruner, study_name=study_name
    )
    callbacks: list[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = []
    if log_to_mlflow:
        callbacks.append(_mlflow_callback)
    if on_trial is not None:
        callbacks.append(lambda study, trial: on_trial(trial.number + 1, n_trials))
    study.optimize(objective, n_trials=n_trials, callbacks=callbacks, gc_after_trial=False)

    trials = study.trials_dataframe(attrs=("number", "value", "state", "params"))
    trials["state"] = trials["state"].astype(str)
    pruned = int((trials["state"] == "PRUNED").sum())
    result = TuningResult(
        best_params=dict(study.best_params),
        best_score=float(study.best_value),
        n_trials=len(study.trials),
        n_pruned=pruned,
        trials=trials,
    )
    if log_to_mlflow:
        log_study(result, study_name)
    return result


def _mlflow_callback(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
    import mlflow

    if mlflow.active_run() is None:
        return
    if trial.value is not None and trial.state == optuna.trial.TrialState.COMPLETE:
        mlflow.log_metric("trial_score", trial.value, step=trial.number)
    with contextlib.suppress(ValueError):  # no completed trial yet
        mlflow.log_metric("trial_best_score", study.best_value, step=trial.number)


def log_study(result: TuningResult, study_name: str) -> None:
    import mlflow

    if mlflow.active_run() is None:
        return
    mlflow.log_metrics(
        {
            "tuning_best_cv_score": result.best_score,
            "tuning_trials": result.n_trials,
            "tuning_pruned": result.n_pruned,
        }
    )
    mlflow.log_text(result.trials.to_csv(index=False), f"tuning/{study_name}_trials.csv")
    from tenfold.evaluation import plot_optimisation_history

    mlflow.log_figure(plot_optimisation_history(result.trials), f"tuning/{study_name}_history.png")
