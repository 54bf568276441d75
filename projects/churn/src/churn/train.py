"""Training: logistic regression → XGBoost → XGBoost tuned with Optuna.

All three are scored by the same stratified cross-validation on the training part
only; the best is the best mean CV ROC-AUC. Each model's decision threshold is the one
that maximises expected retention value on its out-of-fold predictions. The test part
is not touched here: :mod:`churn.evaluate` reports on it once. Training is pure: logging
to MLflow, registration and promotion are later steps (``tenfold.tracking``,
``tenfold.promotion``).
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

from churn.config import ChurnConfig
from churn.features import ChurnFeatures, telco_schema
from tenfold.data import DataError, DataSource
from tenfold.evaluation import ValueCurve, value_curve
from tenfold.explain import encoded_mean
from tenfold.pipelines import (
    SchemaError,
    Split,
    TabularSchema,
    binary_target,
    build_preprocessor,
    coerce_to_schema,
    infer_schema,
    stratified_cv,
    stratified_holdout,
)
from tenfold.tracking import LoggedTraining
from tenfold.training import Candidate, TrainResult
from tenfold.tuning import (
    Folds,
    Progress,
    TuningResult,
    cv_score_prepared,
    out_of_fold,
    prepare_folds,
    tune,
)

CANDIDATES = ("logistic_regression", "xgboost", "xgboost_tuned")
MODEL_REQUIREMENTS = ("xgboost", "pandas", "numpy", "scipy", "cloudpickle")


@dataclass(frozen=True)
class Prepared:
    """Model inputs, labels and the schema the preprocessor is built from."""

    X: pd.DataFrame
    y: np.ndarray
    schema: TabularSchema
    telco: bool


def prepare(frame: pd.DataFrame, cfg: ChurnConfig) -> Prepared:
    if cfg.target not in frame.columns:
        raise SchemaError(f"target column {cfg.target!r} not found; columns: {list(frame.columns)}")
    y = binary_target(frame[cfg.target], cfg.positive_label)
    if cfg.uses_telco_schema:
        drop = [c for c in (cfg.target, cfg.id_column) if c]
        return Prepared(frame.drop(columns=drop), y, telco_schema(), telco=True)
    schema = infer_schema(frame, target=cfg.target, id_column=cfg.id_column)
    X = coerce_to_schema(frame[schema.features], schema, label=str(cfg.data_path))
    return Prepared(X, y, schema, telco=False)


def split(prepared: Prepared, cfg: ChurnConfig) -> Split:
    return stratified_holdout(prepared.X, prepared.y, test_size=cfg.test_size, seed=cfg.seed)


def make_pipeline(prepared: Prepared, model: Any, *, scale: bool) -> Pipeline:
    return Pipeline(
        [
            ("features", ChurnFeatures() if prepared.telco else "passthrough"),
            ("preprocess", build_preprocessor(prepared.schema, scale_numeric=scale)),
            ("model", model),
        ]
    )


def logistic_regression(cfg: ChurnConfig) -> LogisticRegression:
    return LogisticRegression(C=1.0, max_iter=5000, random_state=cfg.seed)


XGB_DEFAULTS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.05,
    "max_depth": 4,
    "subsample": 0.8,
    "colsample_bytree": 0.8,
    "min_child_weight": 1.0,
}


def xgboost(cfg: ChurnConfig, **params: Any) -> XGBClassifier:
    return XGBClassifier(
        **{**XGB_DEFAULTS, **params},
        tree_method="hist",
        eval_metric="logloss",
        # one thread per model; folds run in parallel instead (cfg.n_jobs)
        n_jobs=1,
        random_state=cfg.seed,
    )


def suggest_xgboost(trial: optuna.Trial) -> dict[str, Any]:
    """The search space; shallow-to-moderate trees suit 5-6k rows of tabular data."""
    return {
        "n_estimators": trial.suggest_int("n_estimators", 100, 600, step=50),
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "max_depth": trial.suggest_int("max_depth", 2, 6),
        "min_child_weight": trial.suggest_float("min_child_weight", 1.0, 30.0, log=True),
        "subsample": trial.suggest_float("subsample", 0.5, 1.0),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.3, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "reg_alpha": trial.suggest_float("reg_alpha", 1e-3, 10.0, log=True),
        "gamma": trial.suggest_float("gamma", 0.0, 5.0),
    }


@dataclass(kw_only=True)
class ChurnCandidate(Candidate):
    """A candidate with what is churn's own: the retention value of each threshold on
    its out-of-fold predictions, and the threshold that maximises it."""

    value_curve: ValueCurve

    @property
    def threshold(self) -> float:
        return self.value_curve.best_threshold

    @property
    def oof_proba(self) -> np.ndarray:
        return self.oof["oof_proba"].to_numpy()


@dataclass(frozen=True)
class TrainingData:
    """What the candidates were fitted on: the prepared inputs and the split."""

    prepared: Prepared
    split: Split


ChurnResult = TrainResult[ChurnCandidate, TrainingData]


def make_folds(split_: Split, cfg: ChurnConfig) -> Folds:
    return list(stratified_cv(cfg.cv_folds, cfg.seed).split(split_.X_train, split_.y_train))


def retention_value_curve(y: np.ndarray, proba: np.ndarray, cfg: ChurnConfig) -> ValueCurve:
    econ = cfg.economics
    return value_curve(y, proba, tp=econ.value_true_positive, fp=econ.value_false_positive)


def fit_candidate(
    name: str,
    pipeline: Pipeline,
    split_: Split,
    folds: Folds,
    cfg: ChurnConfig,
    *,
    params: dict[str, Any],
    tuning: TuningResult | None = None,
) -> ChurnCandidate:
    oof, fold_scores = out_of_fold(
        pipeline, split_.X_train, split_.y_train, folds, roc_auc_score, n_jobs=cfg.n_jobs
    )
    fitted = clone(pipeline).fit(split_.X_train, split_.y_train)
    curve = retention_value_curve(split_.y_train, oof, cfg)
    candidate = ChurnCandidate(
        name=name,
        model=fitted,
        params=params,
        metric="roc_auc",
        fold_scores=fold_scores,
        oof=pd.DataFrame({"oof_proba": oof, "y": split_.y_train}),
        requirements=MODEL_REQUIREMENTS,
        tuning=tuning,
        value_curve=curve,
        metrics={
            "decision_threshold": curve.best_threshold,
            "oof_value_per_customer": curve.best_value / len(split_.y_train),
        },
    )
    # saved with the model: what serving needs besides the pipeline
    candidate.metadata = {
        "decision_threshold": candidate.threshold,
        "candidate": name,
        "cv_roc_auc": candidate.cv_score,
        "telco_schema": cfg.uses_telco_schema,
        "encoded_background_mean": encoded_mean(fitted, split_.X_train),
    }
    return candidate


def tune_xgboost(
    prepared: Prepared,
    split_: Split,
    folds: Folds,
    cfg: ChurnConfig,
    *,
    on_trial: Callable[[int, int], None] | None = None,
) -> TuningResult:
    """Only the booster's parameters are tuned, so each fold's preprocessing is fitted
    once (on that fold's training rows) and reused by every trial."""
    preprocessing = make_pipeline(prepared, None, scale=False)[:-1]
    fold_data = prepare_folds(preprocessing, split_.X_train, split_.y_train, folds)

    def objective(trial: optuna.Trial) -> float:
        return cv_score_prepared(
            xgboost(cfg, **suggest_xgboost(trial)),
            fold_data,
            roc_auc_score,
            trial=trial,
            n_jobs=cfg.n_jobs,
        )

    return tune(
        objective,
        n_trials=cfg.n_trials,
        seed=cfg.seed,
        study_name="xgboost",
        on_trial=on_trial,
        log_to_mlflow=False,
    )


def train(
    cfg: ChurnConfig,
    frame: pd.DataFrame,
    source: DataSource,
    *,
    progress: Progress | None = None,
) -> ChurnResult:
    """Fit the three candidates; the best is the one with the best mean CV ROC-AUC."""
    report = progress or (lambda stage, done, total: None)
    prepared = prepare(frame, cfg)
    split_ = split(prepared, cfg)
    folds = make_folds(split_, cfg)
    candidates: dict[str, ChurnCandidate] = {}
    report("logistic regression", 0, 1)
    lr_pipeline = make_pipeline(prepared, logistic_regression(cfg), scale=True)
    candidates["logistic_regression"] = fit_candidate(
        "logistic_regression", lr_pipeline, split_, folds, cfg, params={"C": 1.0}
    )
    report("logistic regression", 1, 1)

    report("xgboost", 0, 1)
    xgb_pipeline = make_pipeline(prepared, xgboost(cfg), scale=False)
    candidates["xgboost"] = fit_candidate(
        "xgboost", xgb_pipeline, split_, folds, cfg, params=dict(XGB_DEFAULTS)
    )
    report("xgboost", 1, 1)

    tuning = tune_xgboost(
        prepared, split_, folds, cfg, on_trial=lambda done, total: report("optuna", done, total)
    )
    tuned_pipeline = make_pipeline(prepared, xgboost(cfg, **tuning.best_params), scale=False)
    candidates["xgboost_tuned"] = fit_candidate(
        "xgboost_tuned",
        tuned_pipeline,
        split_,
        folds,
        cfg,
        params=tuning.best_params,
        tuning=tuning,
    )
    best = max(CANDIDATES, key=lambda name: candidates[name].cv_score)
    return TrainResult(
        candidates, best, TrainingData(prepared, split_), source, split_.X_train.head(5)
    )


def from_run(
    cfg: ChurnConfig, frame: pd.DataFrame, source: DataSource, training: LoggedTraining
) -> ChurnResult:
    """A training read back from MLflow (:func:`tenfold.tracking.read_training`), for a
    separate ``evaluate`` step: the split recomputed from the same seed and data, each
    threshold from its candidate's logged out-of-fold predictions."""
    prepared = prepare(frame, cfg)
    split_ = split(prepared, cfg)
    missing = [n for n in CANDIDATES if n not in training.candidates]
    if missing:
        raise DataError(f"training run {training.run_id} lacks candidate(s) {missing}")
    candidates = {
        name: ChurnCandidate.from_candidate(
            logged,
            value_curve=retention_value_curve(
                split_.y_train, logged.oof["oof_proba"].to_numpy(), cfg
            ),
        )
        for name, logged in training.candidates.items()
    }
    return TrainResult(
        candidates,
        training.best_name,
        TrainingData(prepared, split_),
        source,
        split_.X_train.head(5),
        run_id=training.run_id,
    )
