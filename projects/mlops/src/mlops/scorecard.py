"""The calibrated scorecard: a fitted pipeline's log-odds, recalibrated by Platt scaling
on out-of-fold predictions, and the points scale a credit officer reads.

Platt scaling is an affine map of the log-odds (``slope * margin + intercept``), so the
per-feature TreeSHAP contributions of the pipeline's booster, times ``slope``, still sum
to the *calibrated* log-odds: every reason code is an exact share of the score. Isotonic
calibration would fit slightly better on large samples and break that additivity.

Imports scikit-learn and numpy only: the API unpickles this class.
"""

from __future__ import annotations

import math
from typing import Any, Self

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold

EPS = 1e-6


def logit(p: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(p, dtype=float), EPS, 1.0 - EPS)
    return np.asarray(np.log(clipped / (1.0 - clipped)))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.asarray(x, dtype=float))))


class CalibratedScorecard(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """A classifier pipeline with Platt scaling fitted on its out-of-fold log-odds.

    ``fit`` fits ``cv`` clones of ``pipeline`` (stratified folds, ``random_state``), keeps
    their held-out log-odds (``oof_margin_``, ROC-AUC per fold in ``fold_scores_``), fits
    the calibration on them (``slope_``, ``intercept_``) and refits ``pipeline`` on every
    row (``pipeline_``): the calibration never sees a prediction of a row the model was
    fitted on.
    """

    def __init__(self, pipeline: Any = None, cv: int = 3, random_state: int = 42) -> None:
        self.pipeline = pipeline
        self.cv = cv
        self.random_state = random_state

    def fit(self, X: Any, y: Any) -> Self:
        if self.pipeline is None:
            raise ValueError("CalibratedScorecard needs a pipeline")
        y = np.asarray(y).astype(int)
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        margin = np.zeros(len(y))
        scores = []
        for train_idx, valid_idx in folds.split(X, y):
            fitted = clone(self.pipeline).fit(_rows(X, train_idx), y[train_idx])
            margin[valid_idx] = _margin(fitted, _rows(X, valid_idx))
            scores.append(float(roc_auc_score(y[valid_idx], margin[valid_idx])))
        platt = LogisticRegression(C=1e6, max_iter=1000).fit(margin.reshape(-1, 1), y)
        self.slope_ = float(platt.coef_[0, 0])
        self.intercept_ = float(platt.intercept_[0])
        self.oof_margin_ = margin
        self.fold_scores_ = scores
        self.pipeline_ = clone(self.pipeline).fit(X, y)
        self.classes_ = np.array([0, 1])
        return self

    def raw_margin(self, X: Any) -> np.ndarray:
        """The pipeline's own log-odds (before calibration)."""
        return _margin(self.pipeline_, X)

    def decision_function(self, X: Any) -> np.ndarray:
        """Calibrated log-odds of default."""
        return self.slope_ * self.raw_margin(X) + self.intercept_

    def predict_proba(self, X: Any) -> np.ndarray:
        p = sigmoid(self.decision_function(X))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] >= 0.5).astype(int)

    @property
    def oof_proba_(self) -> np.ndarray:
        """Calibrated out-of-fold probabilities."""
        return sigmoid(self.slope_ * self.oof_margin_ + self.intercept_)


def _rows(X: Any, index: np.ndarray) -> Any:
    return X.iloc[index] if hasattr(X, "iloc") else X[index]


def _margin(fitted: Any, X: Any) -> np.ndarray:
    if hasattr(fitted, "decision_function"):
        return np.asarray(fitted.decision_function(X), dtype=float)
    return logit(fitted.predict_proba(X)[:, 1])


def points(
    log_odds_default: np.ndarray | float, *, base_score: float, base_odds: float, pdo: float
) -> np.ndarray:
    """Scorecard points: ``base_score`` at good:bad odds ``base_odds``, ``pdo`` more per
    doubling of the odds (higher is safer)."""
    factor = pdo / math.log(2.0)
    offset = base_score - factor * math.log(base_odds)
    return np.asarray(offset - factor * np.asarray(log_odds_default, dtype=float))


# risk bands on the probability of default (what a credit policy would act on; the API
# and the reports share them)
BANDS = ((0.05, "A"), (0.10, "B"), (0.20, "C"), (0.40, "D"), (1.01, "E"))


def band(pd_: float) -> str:
    return next(label for edge, label in BANDS if pd_ < edge)
