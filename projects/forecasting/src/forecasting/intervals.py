"""Conformal prediction intervals from past residuals, per series and forecast step.

The conformity score of a past forecast is its absolute error. For each series and step
``k`` of the horizon, the interval at level ``p`` is the point forecast ± the
``⌈(n + 1) p⌉``-th smallest of the last ``n`` scores at step ``k``: split conformal
prediction with its finite-sample correction, which covers at least ``p`` when the scores
are exchangeable, and exactly ``p`` when ``n + 1`` is a multiple of ``1 / (1 - p)``
(19, 39 or 59 calibration days for 80 % and 95 %; 59 was chosen on the year before the
backtest).

This is mlforecast's ``PredictionIntervals(method="conformal_error")`` rule (per-step
quantiles of absolute errors) plus the correction: mlforecast takes
``np.quantile(scores, p)``, which covers about ``1 / (n + 1)`` less than asked. Handing it
:func:`corrected_level` instead gives the intervals here exactly (tested). The scores are
the model's own earlier day-ahead forecasts (its track record in the backtest), not an
extra cross-validation fit per origin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd


def corrected_level(level: float, n: int) -> float:
    """The level (0-1) at which ``np.quantile`` of ``n`` scores returns their
    ``⌈(n + 1) level / 100⌉``-th smallest (1 when that rank exceeds ``n``)."""
    if n < 1:
        raise ValueError("need at least one past residual")
    rank = math.ceil((n + 1) * level / 100 - 1e-9)
    if rank >= n or n == 1:
        return 1.0
    return (rank - 1) / (n - 1)


def half_widths(scores: np.ndarray, level: float) -> np.ndarray:
    """Split-conformal half widths along axis 0 of ``scores`` (NaN = unknown, skipped).

    With fewer than ``1 / (1 - p) - 1`` scores the exact interval is unbounded; the
    largest score is used instead (never the case with the configured 59 days).
    """
    known = np.sum(~np.isnan(scores), axis=0)
    if np.any(known == 0):
        raise ValueError("a forecast step has no past residual to calibrate on")
    rank = np.minimum(np.ceil((known + 1) * level / 100 - 1e-9).astype(int), known)
    ordered = np.sort(scores, axis=0)  # NaN sort last
    picked = np.take_along_axis(ordered, (rank - 1)[np.newaxis], axis=0)[0]
    return np.asarray(picked, dtype=float)


def add_intervals(
    windows: pd.DataFrame,
    actual: pd.DataFrame,
    model: str,
    *,
    levels: Sequence[int],
    n_windows: int,
    span: pd.Timedelta,
    targets: Sequence[pd.Timestamp] | None = None,
) -> pd.DataFrame:
    """Intervals for forecast windows, each calibrated on the ``n_windows`` earlier windows
    whose whole horizon (``span``) had been observed by its cutoff.

    ``windows`` holds consecutive forecasts (``unique_id, cutoff, ds, step, <model>``, the
    same steps for every cutoff); ``actual`` the observed ``y`` (``imputed`` values are
    not scores). Returns the rows of the ``targets`` cutoffs (default: every window with
    a full calibration set) with Nixtla's ``<model>-lo-<level>``/``-hi-<level>`` columns.
    """
    scored = windows.merge(
        actual[["unique_id", "ds", "y", "imputed"]], on=["unique_id", "ds"], how="left"
    )
    error = (scored[model] - scored["y"]).abs().where(~scored["imputed"].fillna(True).astype(bool))
    scored["score"] = error
    out: list[pd.DataFrame] = []
    for _, one in scored.groupby("unique_id", sort=True):
        cutoffs = np.sort(one["cutoff"].unique())
        grid = one.pivot(index="cutoff", columns="step", values="score").reindex(cutoffs)
        observed_by = cutoffs + np.timedelta64(span)
        wanted = cutoffs if targets is None else np.asarray(targets, dtype="datetime64[ns]")
        for target in wanted:
            end = int(np.searchsorted(observed_by, target, side="right"))
            if end < n_windows:
                if targets is None:
                    continue
                raise ValueError(
                    f"only {end} calibration windows before {pd.Timestamp(target)}; "
                    f"{n_windows} needed"
                )
            past = grid.to_numpy()[end - n_windows : end]
            rows = one.loc[one["cutoff"] == target, [*windows.columns]].copy()
            half = {lv: half_widths(past, lv) for lv in levels}
            position = rows["step"].to_numpy() - int(grid.columns.min())
            for level in sorted(levels, reverse=True):
                rows[f"{model}-lo-{level}"] = rows[model] - half[level][position]
            for level in sorted(levels):
                rows[f"{model}-hi-{level}"] = rows[model] + half[level][position]
            out.append(rows)
    if not out:
        return pd.DataFrame(columns=windows.columns)
    return pd.concat(out, ignore_index=True)
