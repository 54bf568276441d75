"""Training: a logistic-regression baseline, then LightGBM with the three imbalance
approaches, all on the same time-ordered folds.

- ``lightgbm``: no rebalancing (the model the threshold-tuning approach starts from);
- ``lightgbm_class_weight``: fraud rows weighted by the class ratio of the fold;
- ``lightgbm_smote``: SMOTE inside an imblearn Pipeline, after the preprocessing, so it
  resamples each fold's training rows only and never runs at prediction time.

Every variant gets the decision threshold that minimises the dollar cost on its
out-of-fold predictions of the validation blocks (all before the test period), and the
cost at the default 0.5 is kept for comparison: that makes threshold tuning the third
approach, measured on every model. The best is the variant with the lowest validation
cost. The test period is not touched here: :mod:`fraud.evaluate` scores it once. Training
is pure: logging to MLflow, registration and promotion are later steps.
"""

from __future__ import annotations

import dataclasses
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE
from imblearn.pipeline import Pipeline as ImbPipeline
from lightgbm import LGBMClassifier
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.pipeline import Pipeline

from fraud.config import FraudConfig
from fraud.features import (
    RAW_INPUTS,
    FraudFeatures,
    UlbFeatures,
    history_features,
    preprocessor,
    simulated_schema,
    ulb_schema,
)
from tenfold.data import DataError, DataSource
from tenfold.evaluation import ValueCurve, value_curve
from tenfold.explain import encoded_mean
from tenfold.pipelines import SchemaError, Split, TabularSchema
from tenfold.splits import TimeSplitter
from tenfold.tracking import LoggedTraining
from tenfold.training import Candidate, TrainResult
from tenfold.tuning import Folds, Progress, out_of_fold

VARIANTS = ("logistic_regression", "lightgbm", "lightgbm_class_weight", "lightgbm_smote")
MODEL_REQUIREMENTS = ("lightgbm", "imbalanced-learn", "pandas", "numpy", "scipy", "cloudpickle")
DEFAULT_THRESHOLD = 0.5
# Probabilities of rare events crowd near 0 (plain models) or 1 (rebalanced ones): the
# grid is finer at both ends than tenfold's default 0.01 steps.
THRESHOLDS = np.unique(
    np.round(
        np.concatenate(
            [
                np.linspace(0.001, 0.009, 9),
                np.linspace(0.01, 0.99, 99),
                np.linspace(0.991, 0.999, 9),
            ]
        ),
        3,
    )
)


# --------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class Prepared:
    """Model inputs and labels, with what evaluation needs beside them: the day of each
    transaction (float, from the first one), its amount (what a missed fraud costs) and
    its card (for card precision)."""

    X: pd.DataFrame
    y: np.ndarray
    meta: pd.DataFrame  # day, amount, card (and scenario for simulated data)
    schema: TabularSchema
    kind: str  # "simulated" or "ulb"


def prepare(frame: pd.DataFrame, cfg: FraudConfig) -> Prepared:
    if cfg.dataset == "simulated":
        history = history_features(frame, windows=cfg.windows, delay_days=cfg.label_delay_days)
        X = pd.concat([frame[["tx_datetime", "tx_amount"]], history], axis=1)
        meta = pd.DataFrame(
            {
                "day": frame["tx_time_seconds"].to_numpy() / 86_400,
                "amount": frame["tx_amount"].to_numpy(dtype=float),
                "card": frame["customer_id"].to_numpy(),
                "scenario": frame["tx_fraud_scenario"].to_numpy(),
            }
        )
        return Prepared(
            X[list(RAW_INPUTS)],
            frame["tx_fraud"].to_numpy(np.int64),
            meta,
            simulated_schema(),
            "simulated",
        )
    if "Class" not in frame.columns:
        raise SchemaError(f"column 'Class' not found; columns: {list(frame.columns)[:32]}")
    seconds = frame["Time"].to_numpy(dtype=float)
    meta = pd.DataFrame(
        {
            "day": (seconds - seconds.min()) / 86_400,
            "amount": frame["Amount"].to_numpy(dtype=float),
            # no card ids in the ULB file: each transaction counts as its own card
            "card": np.arange(len(frame)),
        }
    )
    X = frame.drop(columns=["Class"])
    return Prepared(X, frame["Class"].to_numpy(np.int64), meta, ulb_schema(), "ulb")


@dataclass(frozen=True)
class Periods:
    """The time-ordered protocol applied: train and test rows, and the CV folds (row
    positions inside the training rows)."""

    split: Split
    meta_train: pd.DataFrame
    meta_test: pd.DataFrame
    folds: Folds
    bounds: dict[str, float]


def split_periods(prepared: Prepared, cfg: FraudConfig) -> Periods:
    """Burn-in | train | delay gap | test, by day; never a random split.

    Both levels are :class:`tenfold.splits.TimeSplitter` splits on the day column: the
    holdout is one origin (the test start) with a sliding window of the training days
    before the delay gap; the CV folds are ``cv_folds`` adjacent validation blocks at
    the end of the training days, each after the same gap, on an expanding window.
    """
    p = cfg.protocol
    day = prepared.meta["day"].to_numpy()
    train_start = float(day.min()) + p.burn_in
    train_end = train_start + p.train
    test_start = train_end + p.delay
    test_end = test_start + p.test
    if day.max() < test_end - 0.1 * p.test:
        raise DataError(
            f"the data covers {day.max():.1f} days; the protocol needs {test_end:.1f} "
            f"(burn-in {p.burn_in:g} + train {p.train:g} + delay {p.delay:g} + test {p.test:g})"
        )
    holdout = TimeSplitter(
        p.test, origins=[test_start], gap=p.delay, window="sliding", train_size=p.train
    )
    ((train, test),) = holdout.split(day)
    y = prepared.y
    for name, rows in (("training", train), ("test", test)):
        if y[rows].sum() == 0:
            raise DataError(f"no fraud in the {name} period: the data is too small")
    cv = TimeSplitter(p.cv_valid_days, n_splits=p.cv_folds, end=train_end, gap=p.delay)
    folds: Folds = list(cv.split(day[train]))
    for k, (fit, valid) in enumerate(folds, start=1):
        if y[train][fit].sum() == 0 or y[train][valid].sum() == 0:
            raise DataError(f"CV fold {k} has no fraud to learn from or to validate on")
    split = Split(
        prepared.X.iloc[train].reset_index(drop=True),
        prepared.X.iloc[test].reset_index(drop=True),
        y[train],
        y[test],
    )
    return Periods(
        split,
        prepared.meta.iloc[train].reset_index(drop=True),
        prepared.meta.iloc[test].reset_index(drop=True),
        folds,
        {
            "train_start": train_start,
            "train_end": train_end,
            "test_start": test_start,
            "test_end": test_end,
        },
    )


# --------------------------------------------------------------------------- models


def lightgbm(cfg: FraudConfig, **overrides: Any) -> LGBMClassifier:
    return LGBMClassifier(
        **dataclasses.asdict(cfg.boosting),
        subsample_freq=1,  # bagging every iteration, so `subsample` applies
        # one thread per model (folds run in parallel instead) and deterministic
        # histograms: the same seed gives the same trees on any machine
        n_jobs=1,
        deterministic=True,
        force_row_wise=True,
        random_state=cfg.seed,
        verbose=-1,
        **overrides,
    )


def make_pipeline(prepared: Prepared, variant: str, cfg: FraudConfig) -> Pipeline:
    """The variant's whole pipeline, with the named steps the fast scorer expects."""
    features = FraudFeatures() if prepared.kind == "simulated" else UlbFeatures()
    if variant == "logistic_regression":
        model: Any = LogisticRegression(max_iter=2000, random_state=cfg.seed)
        return Pipeline(
            [
                ("features", features),
                ("preprocess", preprocessor(prepared.schema, scale=True)),
                ("model", model),
            ]
        )
    steps: list[tuple[str, Any]] = [
        ("features", features),
        ("preprocess", preprocessor(prepared.schema, scale=False)),
    ]
    if variant == "lightgbm":
        model = lightgbm(cfg)
    elif variant == "lightgbm_class_weight":
        model = lightgbm(cfg, class_weight="balanced")
    elif variant == "lightgbm_smote":
        # after imputation (SMOTE interpolates numbers, it cannot handle missing values);
        # an imblearn Pipeline applies samplers in fit only
        steps.append(
            (
                "smote",
                SMOTE(
                    sampling_strategy=cfg.smote_ratio,
                    k_neighbors=cfg.smote_neighbors,
                    random_state=cfg.seed,
                ),
            )
        )
        return ImbPipeline([*steps, ("model", lightgbm(cfg))])
    else:
        raise ValueError(f"unknown variant {variant!r}; choose from {VARIANTS}")
    return Pipeline([*steps, ("model", model)])


def background_mean(pipeline: Any, X: pd.DataFrame) -> list[float] | None:
    """The reference point of linear reason codes (trees carry their own): the mean of
    the encoded training rows. Taken from the preprocessing steps only, so a sampler
    step (SMOTE) is never asked to transform."""
    if not hasattr(pipeline.named_steps["model"], "coef_"):
        return None
    head = Pipeline([*pipeline.steps[:2], ("model", "passthrough")])  # features, preprocess
    return encoded_mean(head, X)


def variant_params(variant: str, cfg: FraudConfig) -> dict[str, Any]:
    if variant == "logistic_regression":
        return {"C": 1.0, "scaled": True}
    params: dict[str, Any] = dataclasses.asdict(cfg.boosting)
    if variant == "lightgbm_class_weight":
        params["class_weight"] = "balanced"
    if variant == "lightgbm_smote":
        params.update(smote_ratio=cfg.smote_ratio, smote_neighbors=cfg.smote_neighbors)
    return params


# --------------------------------------------------------------------------- costs


def cost_curve(
    y: np.ndarray, proba: np.ndarray, amount: np.ndarray, cfg: FraudConfig
) -> ValueCurve:
    """Total cost (as a negative value) of alerting on ``proba >= t`` for each ``t``:
    every alert costs a review, every missed fraud its amount."""
    review = -cfg.economics.review_cost
    return value_curve(y, proba, tp=review, fp=review, fn=-amount, tn=0.0, thresholds=THRESHOLDS)


def cost_at(
    y: np.ndarray, proba: np.ndarray, amount: np.ndarray, threshold: float, cfg: FraudConfig
) -> float:
    alert = proba >= threshold
    missed = (~alert) & (y == 1)
    return float(alert.sum() * cfg.economics.review_cost + amount[missed].sum())


# --------------------------------------------------------------------------- candidates


@dataclass(kw_only=True)
class FraudCandidate(Candidate):
    """A variant with what is fraud's own: the dollar cost of each threshold on its
    out-of-fold predictions of the validation blocks (rows and probabilities in ``oof``),
    the cheapest threshold, and the cost at the default 0.5."""

    validation_curve: ValueCurve
    validation_cost_default: float

    @property
    def valid_rows(self) -> np.ndarray:
        """Positions in the training rows covered by a validation block."""
        return self.oof["row"].to_numpy()

    @property
    def oof_proba(self) -> np.ndarray:
        """Predictions for those rows, by the fold model that did not see them."""
        return self.oof["oof_proba"].to_numpy()

    @property
    def threshold(self) -> float:
        return self.validation_curve.best_threshold

    @property
    def validation_cost(self) -> float:
        return -self.validation_curve.best_value


@dataclass(frozen=True)
class TrainingData:
    """What the variants were fitted on: the prepared transactions and the periods."""

    prepared: Prepared
    periods: Periods


FraudResult = TrainResult[FraudCandidate, TrainingData]


def costs_of(
    rows: np.ndarray, proba: np.ndarray, periods: Periods, cfg: FraudConfig
) -> tuple[ValueCurve, float]:
    """A variant's validation cost curve and its cost at 0.5, from its predictions."""
    y_valid = periods.split.y_train[rows]
    amount = periods.meta_train["amount"].to_numpy()[rows]
    return (
        cost_curve(y_valid, proba, amount, cfg),
        cost_at(y_valid, proba, amount, DEFAULT_THRESHOLD, cfg),
    )


def validation_rows(folds: Folds) -> np.ndarray:
    return np.concatenate([valid for _, valid in folds])


def fit_candidate(
    name: str, prepared: Prepared, periods: Periods, cfg: FraudConfig
) -> FraudCandidate:
    """Out-of-fold predictions on the validation blocks, the cost-optimal threshold on
    them, and the final fit on all training days."""
    pipeline = make_pipeline(prepared, name, cfg)
    split = periods.split
    # The final fit does not depend on the folds: it runs beside them, so the largest
    # fit does not wait alone at the end (each model is single-threaded and seeded, so
    # the schedule cannot change a result).
    with ThreadPoolExecutor(max_workers=1) as background:
        final = background.submit(clone(pipeline).fit, split.X_train, split.y_train)
        oof, fold_scores = out_of_fold(
            pipeline,
            split.X_train,
            split.y_train,
            periods.folds,
            average_precision_score,
            n_jobs=cfg.n_jobs,
        )
        fitted = final.result()
    rows = validation_rows(periods.folds)
    curve, cost_default = costs_of(rows, oof[rows], periods, cfg)
    candidate = FraudCandidate(
        name=name,
        model=fitted,
        params=variant_params(name, cfg),
        metric="auprc",
        fold_scores=fold_scores,
        oof=pd.DataFrame({"row": rows, "oof_proba": oof[rows]}),
        requirements=MODEL_REQUIREMENTS,
        validation_curve=curve,
        validation_cost_default=cost_default,
    )
    candidate.metrics = {
        "decision_threshold": candidate.threshold,
        "validation_cost": candidate.validation_cost,
        "validation_cost_at_0.5": cost_default,
    }
    # saved with the model: what serving needs besides the pipeline
    candidate.metadata = {
        "decision_threshold": candidate.threshold,
        "candidate": name,
        "cv_auprc": candidate.cv_score,
        "review_cost": cfg.economics.review_cost,
        "dataset": cfg.dataset,
    }
    background_ = background_mean(fitted, split.X_train)
    if background_ is not None:
        candidate.metadata["encoded_background_mean"] = background_
    return candidate


def choose_best(candidates: dict[str, FraudCandidate]) -> str:
    """Lowest validation cost at the tuned threshold; ties go to the better CV AUPRC."""
    return min(VARIANTS, key=lambda n: (candidates[n].validation_cost, -candidates[n].cv_score))


def train(
    cfg: FraudConfig,
    frame: pd.DataFrame,
    source: DataSource,
    *,
    progress: Progress | None = None,
) -> FraudResult:
    """Fit every variant on the training days; the best has the lowest validation cost."""
    report = progress or (lambda stage, done, total: None)
    prepared = prepare(frame, cfg)
    periods = split_periods(prepared, cfg)
    candidates: dict[str, FraudCandidate] = {}
    for i, name in enumerate(VARIANTS):
        report(name, i, len(VARIANTS))
        candidates[name] = fit_candidate(name, prepared, periods, cfg)
        report(name, i + 1, len(VARIANTS))
    return TrainResult(
        candidates,
        choose_best(candidates),
        TrainingData(prepared, periods),
        source,
        periods.split.X_train.head(5),
    )


def from_run(
    cfg: FraudConfig, frame: pd.DataFrame, source: DataSource, training: LoggedTraining
) -> FraudResult:
    """A training read back from MLflow (:func:`tenfold.tracking.read_training`), for a
    separate ``evaluate`` step: the periods recomputed from the same protocol and data,
    each variant's costs from its logged validation predictions."""
    missing = [n for n in VARIANTS if n not in training.candidates]
    if missing:
        raise DataError(f"training run {training.run_id} lacks variant(s) {missing}")
    prepared = prepare(frame, cfg)
    periods = split_periods(prepared, cfg)
    candidates: dict[str, FraudCandidate] = {}
    for name, logged in training.candidates.items():
        rows, proba = logged.oof["row"].to_numpy(), logged.oof["oof_proba"].to_numpy()
        curve, cost_default = costs_of(rows, proba, periods, cfg)
        candidates[name] = FraudCandidate.from_candidate(
            logged, validation_curve=curve, validation_cost_default=cost_default
        )
    return TrainResult(
        candidates,
        training.best_name,
        TrainingData(prepared, periods),
        source,
        periods.split.X_train.head(5),
        run_id=training.run_id,
    )
