"""One metric per task type (AMLB's): ROC-AUC, log loss, RMSE."""

from __future__ import annotations

import numpy as np
from sklearn import metrics as skm


def score(metric: str, y_true: np.ndarray, prediction: np.ndarray) -> float:
    """``prediction``: P(positive), an (n, k) probability matrix, or values."""
    y_true = np.asarray(y_true)
    if metric == "roc_auc":
        return float(skm.roc_auc_score(y_true, prediction))
    if metric == "log_loss":
        proba = np.clip(np.asarray(prediction, dtype=float), 1e-15, 1.0)
        proba = proba / proba.sum(axis=1, keepdims=True)
        return float(skm.log_loss(y_true, proba, labels=np.arange(proba.shape[1])))
    if metric == "rmse":
        return float(np.sqrt(skm.mean_squared_error(y_true, prediction)))
    raise ValueError(f"unknown metric {metric!r}")
