"""Causal features: each row seen with its predecessors (sliding windows), standardised
with statistics of the past only, and rolling statistics that exclude the row itself.

Every function here reads rows ``≤ t`` to make row ``t``'s value, never later ones.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from sklearn.base import BaseEstimator, TransformerMixin


def as_matrix(values: np.ndarray) -> np.ndarray:
    """A series as a float matrix (rows × variables)."""
    array = np.asarray(values, dtype=float)
    return array.reshape(-1, 1) if array.ndim == 1 else array


def lagged(values: np.ndarray, lags: int) -> np.ndarray:
    """Row ``t`` with its ``lags - 1`` predecessors, flattened (rows × lags·variables).

    The first rows, which have fewer predecessors, repeat the first row: a detector
    never sees a row that comes later.
    """
    matrix = as_matrix(values)
    if lags <= 1:
        return matrix.copy()
    padded = np.vstack([np.repeat(matrix[:1], lags - 1, axis=0), matrix])
    windows = sliding_window_view(padded, lags, axis=0)  # rows × variables × lags
    return windows.reshape(len(matrix), -1)


class SlidingWindows(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Sliding windows of ``lags`` rows, standardised by the mean and spread of the rows
    it was fitted on (a model's training rows: the past)."""

    def __init__(self, lags: int = 8) -> None:
        self.lags = lags

    def fit(self, X: np.ndarray, y: object = None) -> SlidingWindows:
        matrix = as_matrix(X)
        self.mean_ = matrix.mean(axis=0)
        spread = matrix.std(axis=0)
        # a constant training stretch: any change from it is large, not infinite
        self.scale_ = np.where(spread > 1e-12, spread, 1.0)
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        return lagged((as_matrix(X) - self.mean_) / self.scale_, self.lags)


def rolling_past(values: np.ndarray, window: int, statistic: str, q: float = 0.5) -> np.ndarray:
    """A statistic of the ``window`` rows *before* each row (NaN until 2 exist), per
    variable: ``mean``, ``std`` (ddof 0) or ``quantile`` ``q`` (linear)."""
    frame = pd.DataFrame(as_matrix(values))
    rolling = frame.rolling(window, min_periods=2)
    if statistic == "mean":
        out = rolling.mean()
    elif statistic == "std":
        out = rolling.std(ddof=0)
    elif statistic == "quantile":
        out = rolling.quantile(q, interpolation="linear")
    else:
        raise ValueError(f"unknown statistic {statistic!r}")
    return np.asarray(out.shift(1).to_numpy())
