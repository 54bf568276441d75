"""Training: a logistic-regression scorecard (the industry baseline) and XGBoost tuned
with Optuna, each calibrated by :class:`mlops.scorecard.CalibratedScorecard`.

Both are scored by the same stratified cross-validation on the training part only (the
calibration's own folds: one pass gives the CV score, the out-of-fold predictions and
the calibration); the best is the best mean CV ROC-AUC. The test part is not touched
here. :func:`retrain` is what the automated response fits on recent labelled traffic.
Training is pure: MLflow, the registry and the gate are later steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from xgboost import XGBClassifier

from mlops.config import MODEL_INPUTS, MlopsConfig
from mlops.features import CreditFeatures, credit_schema
from mlops.scorecard import CalibratedScorecard
from tenfold.data import DataError, DataSource
from tenfold.explain import encoded_mean
from tenfold.pipelines import (
    SchemaError,
    Split,
    build_preprocessor,
    stratified_cv,
    stratified_holdout,
)
from tenfold.tracking import LoggedTraining
from tenfold.training import Candidate, TrainResult
from tenfold.tuning import Progress, TuningResult, cv_score_prepared, prepare_folds, tune

CANDIDATES = ("logistic_regression", "xgboost_tuned")
MODEL_REQUIREMENTS = ("xgboost", "pandas", "numpy", "scipy", "cloudpickle")


@dataclass(frozen=True)
class Prepared:
    """Model inputs (the raw columns the API receives) and labels."""

    X: pd.DataFrame
    y: np.ndarray


def prepare(frame: pd.DataFrame, cfg: MlopsConfig) -> Prepared:
    missing = [c for c in (*MODEL_INPUTS, cfg.target) if c not in frame.columns]
    if missing:
        raise SchemaError(f"credit data: missing column(s) {missing}")
    X = frame[list(MODEL_INPUTS)].astype(float)
    return Prepared(X, frame[cfg.target].to_numpy().astype(int))


def split(prepared: Prepared, cfg: MlopsConfig) -> Split:
    return stratified_holdout(prepared.X, prepared.y, test_size=cfg.test_size, seed=cfg.seed)


def make_pipeline(model: Any, *, scale: bool) -> Pipeline:
    return Pipeline(
        [
            ("features", CreditFeatures()),
            ("preprocess", build_preprocessor(credit_schema(), scale_numeric=scale)),
            ("model", model),
        ]
    )


def logistic_regression(cfg: MlopsConfig) -> LogisticRegression:
    return LogisticRegression(C=0.5, max_iter=5000, random_state=cfg.seed)


def xgboost(cfg: MlopsConfig, **params: Any) -> XGBClassifier:
    defaults = {"n_estimators": 300, "learning_rate": 0.05, "max_depth": 4}
    return XGBClassifier(
        **{**defaults, **params},
        tree_method="hist",
        eval_metric="logloss",
        n_jobs=1,  # one thread per model: the machine is shared, results core-independent
        random_state=cfg.seed,
    )


def suggest_xgboost(trial: optuna.Trial) -> dict[str, Any]:
    """Shallow trees, strong regularisation: 24,000 rows of noisy repayment history."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 500, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.02, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 5),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 50.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.6, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-2, 30.0, log=True),
    }


@dataclass(frozen=True)
class TrainingData:
    prepared: Prepared
    split: Split


MlopsResult = TrainResult[Candidate, TrainingData]


def scorecard_candidate(
    name: str,
    pipeline: Pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    cfg: MlopsConfig,
    *,
    params: dict[str, Any],
    tuning: TuningResult | None = None,
) -> Candidate:
    """Fit the calibrated scorecard of ``pipeline``; its CV folds are the calibration's."""
    model = CalibratedScorecard(pipeline, cv=cfg.cv_folds, random_state=cfg.seed).fit(X, y)
    candidate = Candidate(
        name=name,
        model=model,
        params=params,
        metric="roc_auc",
        fold_scores=list(model.fold_scores_),
        oof=pd.DataFrame({"oof_proba": model.oof_proba_, "y": y}),
        requirements=MODEL_REQUIREMENTS,
        tuning=tuning,
        metrics={"platt_slope": model.slope_, "platt_intercept": model.intercept_},
    )
    # what serving needs besides the estimator: the linear model's reference point
    candidate.metadata = {
        "candidate": name,
        "cv_roc_auc": candidate.cv_score,
        "encoded_background_mean": encoded_mean(model.pipeline_, X),
    }
    return candidate


def tune_xgboost(
    split_: Split, cfg: MlopsConfig, *, on_trial: Callable[[int, int], None] | None = None
) -> TuningResult:
    """Only the booster is tuned: each fold's features and preprocessing are fitted once."""
    folds = list(stratified_cv(cfg.cv_folds, cfg.seed).split(split_.X_train, split_.y_train))
    preprocessing = make_pipeline(None, scale=False)[:-1]
    fold_data = prepare_folds(preprocessing, split_.X_train, split_.y_train, folds)

    def objective(trial: optuna.Trial) -> float:
        return cv_score_prepared(
            xgboost(cfg, **suggest_xgboost(trial)), fold_data, roc_auc_score, trial=trial
        )

    return tune(
        objective,
        n_trials=cfg.n_trials,
        seed=cfg.seed,
        study_name="xgboost",
        n_startup_trials=min(10, max(2, cfg.n_trials // 2)),
        on_trial=on_trial,
        log_to_mlflow=False,
    )


def train(
    cfg: MlopsConfig,
    frame: pd.DataFrame,
    source: DataSource,
    *,
    progress: Progress | None = None,
) -> MlopsResult:
    """Fit both calibrated candidates; the best has the best mean CV ROC-AUC."""
    report = progress or (lambda stage, done, total: None)
    prepared = prepare(frame, cfg)
    split_ = split(prepared, cfg)
    X, y = split_.X_train, split_.y_train
    report("logistic regression", 0, 1)
    candidates = {
        "logistic_regression": scorecard_candidate(
            "logistic_regression",
            make_pipeline(logistic_regression(cfg), scale=True),
            X,
            y,
            cfg,
            params={"C": 0.5},
        )
    }
    report("logistic regression", 1, 1)
    tuning = tune_xgboost(split_, cfg, on_trial=lambda d, t: report("optuna", d, t))
    candidates["xgboost_tuned"] = scorecard_candidate(
        "xgboost_tuned",
        make_pipeline(xgboost(cfg, **tuning.best_params), scale=False),
        X,
        y,
        cfg,
        params=tuning.best_params,
        tuning=tuning,
    )
    best = max(CANDIDATES, key=lambda name: candidates[name].cv_score)
    return TrainResult(candidates, best, TrainingData(prepared, split_), source, X.head(5))


def from_run(
    cfg: MlopsConfig, frame: pd.DataFrame, source: DataSource, training: LoggedTraining
) -> MlopsResult:
    """A training read back from MLflow, for a separate ``evaluate``: the split
    recomputed from the same seed and data."""
    prepared = prepare(frame, cfg)
    split_ = split(prepared, cfg)
    missing = [n for n in CANDIDATES if n not in training.candidates]
    if missing:
        raise DataError(f"training run {training.run_id} lacks candidate(s) {missing}")
    return TrainResult(
        dict(training.candidates),
        training.best_name,
        TrainingData(prepared, split_),
        source,
        split_.X_train.head(5),
        run_id=training.run_id,
    )


def retrain(
    champion: CalibratedScorecard,
    X: pd.DataFrame,
    y: np.ndarray,
    cfg: MlopsConfig,
    *,
    name: str = "retrained",
) -> Candidate:
    """The champion's own pipeline (same features, same tuned booster), unfitted, fitted
    again and recalibrated on ``X``/``y``: the automated response changes the data, not
    the model's design (a redesign goes through ``make mlops`` and a reviewer)."""
    if len(np.unique(y)) < 2 or min(np.bincount(y)) < cfg.cv_folds:
        raise DataError(
            f"retraining needs both outcomes, at least {cfg.cv_folds} of each: "
            f"got {np.bincount(y, minlength=2).tolist()}"
        )
    pipeline = clone(champion.pipeline)
    params = {k: v for k, v in pipeline.named_steps["model"].get_params().items() if _plain(v)}
    return scorecard_candidate(name, pipeline, X, y, cfg, params=params)


def _plain(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) and not isinstance(value, type)
