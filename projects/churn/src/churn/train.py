"""Training: logistic regression → XGBoost → XGBoost tuned with Optuna.

All three are scored by the same stratified cross-validation on the training part
only; the champion is the best mean CV ROC-AUC. Each model's decision threshold is the
one that maximises expected retention value on its out-of-fold predictions. The test
part is not touched here: :mod:`churn.evaluate` reports on it once.
"""

from __future__ import annotations

import io
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
from tenfold import tracking
from tenfold.data import DataSource
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
    X = coerce_to_schema(frame[schema.features], schema)
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


@dataclass
class Candidate:
    name: str
    pipeline: Pipeline
    params: dict[str, Any]
    cv_fold_roc_auc: list[float]
    oof_proba: np.ndarray
    value_curve: ValueCurve
    tuning: TuningResult | None = None
    run_id: str | None = None
    model_uri: str | None = None

    @property
    def cv_roc_auc(self) -> float:
        return float(np.mean(self.cv_fold_roc_auc))

    @property
    def threshold(self) -> float:
        return self.value_curve.best_threshold


@dataclass
class TrainResult:
    candidates: dict[str, Candidate]
    champion: str
    split: Split
    prepared: Prepared
    source: DataSource
    parent_run_id: str | None = None
    registered_version: str | None = None

    @property
    def best(self) -> Candidate:
        return self.candidates[self.champion]


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
) -> Candidate:
    oof, fold_scores = out_of_fold(
        pipeline, split_.X_train, split_.y_train, folds, roc_auc_score, n_jobs=cfg.n_jobs
    )
    fitted = clone(pipeline).fit(split_.X_train, split_.y_train)
    curve = retention_value_curve(split_.y_train, oof, cfg)
    return Candidate(name, fitted, params, fold_scores, oof, curve, tuning)


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
        objective, n_trials=cfg.n_trials, seed=cfg.seed, study_name="xgboost", on_trial=on_trial
    )


def train(
    cfg: ChurnConfig,
    frame: pd.DataFrame,
    source: DataSource,
    *,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit the three candidates under one MLflow "train" run (a nested run each, plus one
    for the Optuna study) and register the champion with the alias ``champion``."""
    report = progress or (lambda stage, done, total: None)
    prepared = prepare(frame, cfg)
    split_ = split(prepared, cfg)
    folds = make_folds(split_, cfg)
    with tracking.training_run(cfg.experiment, config=cfg, data=source, seed=cfg.seed) as parent:
        candidates: dict[str, Candidate] = {}
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

        with tracking.start_run(
            cfg.experiment, "optuna_xgboost", nested=True, tags={"tenfold.stage": "tuning"}
        ):
            tuning = tune_xgboost(
                prepared,
                split_,
                folds,
                cfg,
                on_trial=lambda done, total: report("optuna", done, total),
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

        for candidate in candidates.values():
            _log_candidate(candidate, split_, cfg, telco=prepared.telco)
        champion = max(CANDIDATES, key=lambda name: candidates[name].cv_roc_auc)
        best = candidates[champion]
        tracking.log_metrics({f"cv_roc_auc.{n}": c.cv_roc_auc for n, c in candidates.items()})
        version = tracking.register_champion(
            champion,
            str(best.model_uri),
            cfg.registered_model_name,
            tags={
                "decision_threshold": f"{best.threshold:.2f}",
                "data_kind": source.kind,
                "cv_roc_auc": f"{best.cv_roc_auc:.4f}",
            },
        )
        return TrainResult(
            candidates,
            champion,
            split_,
            prepared,
            source,
            parent_run_id=parent.info.run_id,
            registered_version=version,
        )


def _log_candidate(candidate: Candidate, split_: Split, cfg: ChurnConfig, *, telco: bool) -> None:
    """A nested run per candidate: params, CV metrics, OOF predictions and the model."""
    logged = tracking.log_candidate(
        cfg.experiment,
        candidate.name,
        candidate.pipeline,
        input_example=split_.X_train.head(5),
        requirements=MODEL_REQUIREMENTS,
        params=candidate.params,
        metrics={
            "cv_roc_auc": candidate.cv_roc_auc,
            "cv_roc_auc_std": float(np.std(candidate.cv_fold_roc_auc)),
            "decision_threshold": candidate.threshold,
            "oof_value_per_customer": candidate.value_curve.best_value / len(split_.y_train),
        },
        fold_metrics={"cv_roc_auc_fold": candidate.cv_fold_roc_auc},
        text_artifacts={
            "oof_predictions.csv": pd.DataFrame(
                {"oof_proba": candidate.oof_proba, "y": split_.y_train}
            ).to_csv(index=False)
        },
        metadata={
            "decision_threshold": candidate.threshold,
            "candidate": candidate.name,
            "cv_roc_auc": candidate.cv_roc_auc,
            "telco_schema": telco,
            "encoded_background_mean": encoded_mean(candidate.pipeline, split_.X_train),
        },
    )
    candidate.run_id = logged.run_id
    candidate.model_uri = logged.model_uri


def from_latest_run(cfg: ChurnConfig, frame: pd.DataFrame, source: DataSource) -> TrainResult:
    """Rebuild the latest training's result from MLflow, for a separate ``evaluate`` step.

    The split is recomputed from the same seed; the data must be the bytes that run was
    trained on (checked by :func:`tenfold.tracking.latest_training`).
    """
    from tenfold.data import DataError

    training = tracking.latest_training(cfg.experiment, data=source, seed=cfg.seed)
    prepared = prepare(frame, cfg)
    split_ = split(prepared, cfg)
    candidates: dict[str, Candidate] = {}
    for run in training.stage("candidate"):
        logged = tracking.load_candidate(
            run, text_artifacts=["oof_predictions.csv"], histories=["cv_roc_auc_fold"]
        )
        oof = pd.read_csv(io.StringIO(logged.artifacts["oof_predictions.csv"]))["oof_proba"]
        candidates[logged.name] = Candidate(
            logged.name,
            logged.record.model,
            logged.params,
            logged.metric_history["cv_roc_auc_fold"],
            oof.to_numpy(),
            retention_value_curve(split_.y_train, oof.to_numpy(), cfg),
            run_id=logged.run_id,
            model_uri=logged.model_uri,
        )
    missing = [n for n in CANDIDATES if n not in candidates]
    if missing:
        raise DataError(f"training run {training.parent.info.run_id} lacks candidate(s) {missing}")
    for run in training.stage("tuning"):
        m = run.data.metrics
        candidates["xgboost_tuned"].tuning = TuningResult(
            {},
            m["tuning_best_cv_score"],
            int(m["tuning_trials"]),
            int(m["tuning_pruned"]),
            pd.DataFrame(),
        )
    return TrainResult(
        candidates,
        training.parent.data.tags["tenfold.champion"],
        split_,
        prepared,
        source,
        parent_run_id=training.parent.info.run_id,
    )
