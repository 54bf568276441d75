"""NAB scoring (Lavin & Ahmad 2015), written from the rules of NAB's own sweeper.

For one series of ``n`` rows with label windows (inclusive ``[start, end]``):

- the first ``min(floor(0.15 n), 0.15 * 5000)`` rows are the *probationary period*: a
  detector learns there and none of its rows is scored;
- a row is a *detection* when its anomaly score is at or above the threshold;
- every row carries a weight ``S(t)`` from NAB's scaled sigmoid
  ``σ(y) = 2 / (1 + e^{5y}) - 1`` (``-1`` beyond ``y > 3``): inside a window of ``w``
  rows ending at row ``r``, ``y = -(r - i + 1) / w`` and ``S = tp_weight · σ(y) / σ(-1)``
  (the earliest row of a window is worth exactly ``tp_weight``, the last one almost 0);
  outside, ``y = |i - r_prev| / (w_prev - 1)`` from the end of the preceding window and
  ``S = fp_weight · σ(y)`` (``-fp_weight`` before any window);
- a window counts once: ``S`` of its *earliest* detection (the largest ``S`` of its
  detections), or ``-fn_weight`` when nothing in it is detected; every detection outside
  a window adds its ``S`` (a false positive just after a window costs little, one far
  from any window costs ``fp_weight``);
- TP / TN / FP / FN count scored rows (detected or not, inside a window or not).

A category's raw score is the sum over its files; NAB normalises it as
``100 · (S - S_null) / (S_perfect - S_null)``, where the null detector detects nothing
(``-fn_weight`` per window) and the perfect one detects every window on its first row
(``tp_weight`` per window).

Threshold optimisation follows NAB's optimiser: every distinct anomaly score of the
corpus is a candidate; the best total wins, the higher threshold on a tie.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from tenfold.errors import DataError

PROBATION_FRACTION = 0.15
# NAB caps the probationary period at 15 % of 5000 rows (750) for long series
PROBATION_CAP_ROWS = 5000
# a threshold above every score: NAB's sweep starts here ("detect nothing")
NEVER = 1.1
OUTSIDE = -1  # window id of a scored row outside every window
PROBATIONARY = -2  # window id of a row in the probationary period


@dataclass(frozen=True)
class Profile:
    """An application profile: NAB's cost matrix (``config/profiles.json``)."""

    name: str
    tp_weight: float
    fp_weight: float
    fn_weight: float

    @classmethod
    def from_cost_matrix(cls, name: str, matrix: Mapping[str, float]) -> Profile:
        try:
            return cls(
                name,
                float(matrix["tpWeight"]),
                float(matrix["fpWeight"]),
                float(matrix["fnWeight"]),
            )
        except KeyError as exc:
            raise DataError(f"profile {name!r}: cost matrix lacks {exc.args[0]!r}") from None


# NAB's three profiles, as in its config/profiles.json (the data layer reads the file
# when it is there; these are the same numbers for a folder scored without it)
PROFILES: dict[str, Profile] = {
    "standard": Profile("standard", 1.0, 0.11, 1.0),
    "reward_low_FP_rate": Profile("reward_low_FP_rate", 1.0, 0.22, 1.0),
    "reward_low_FN_rate": Profile("reward_low_FN_rate", 1.0, 0.11, 2.0),
}


def scaled_sigmoid(y: np.ndarray | float) -> np.ndarray:
    """NAB's ``2·sigmoid(-5y) - 1``, and ``-1`` for ``y > 3`` (far past a window)."""
    y = np.asarray(y, dtype=float)
    value = 2.0 / (1.0 + np.exp(5.0 * y)) - 1.0
    return np.where(y > 3.0, -1.0, value)


def probation_length(n_rows: int, fraction: float = PROBATION_FRACTION) -> int:
    """Rows at the start of a series that are never scored (a detector learns there)."""
    return int(min(math.floor(fraction * n_rows), fraction * PROBATION_CAP_ROWS))


@dataclass(frozen=True)
class Layout:
    """Where a series' rows stand for scoring: window id per row (``OUTSIDE``,
    ``PROBATIONARY`` or the window's number) and the unit weight ``σ`` of each row
    (multiplied by the profile's weights when scored)."""

    window_id: np.ndarray
    in_window: np.ndarray  # bool: the row lies in a window (probation or not)
    unit: np.ndarray  # σ(y) per row, before weights; in windows already divided by σ(-1)
    n_windows: int  # windows with at least one scored row

    @property
    def n_rows(self) -> int:
        return len(self.window_id)

    def weights(self, profile: Profile) -> np.ndarray:
        """``S(t)`` of every row if it were a detection."""
        return np.where(
            self.in_window, self.unit * profile.tp_weight, self.unit * profile.fp_weight
        )


def window_rows(timestamps: np.ndarray, windows: Sequence[Sequence[Any]]) -> list[tuple[int, int]]:
    """Inclusive row ranges of label windows, in row order as NAB reads them: each end is
    the first row carrying that timestamp (in NAB's labels both ends are rows; one NAB
    series steps back an hour once, so rows are not searched as a sorted index). An end
    that is no row falls back to the rows with ``start <= t <= end`` of increasing
    timestamps. Overlapping windows are an error."""
    times = pd.DatetimeIndex(pd.to_datetime(timestamps))
    first_row: dict[pd.Timestamp, int] = {}
    for row, stamp in enumerate(times):
        first_row.setdefault(stamp, row)
    ranges: list[tuple[int, int]] = []
    for start, end in sorted((pd.Timestamp(s), pd.Timestamp(e)) for s, e in windows):
        if start in first_row and end in first_row:
            left, right = first_row[start], first_row[end]
        elif times.is_monotonic_increasing:
            left = int(times.searchsorted(start, side="left"))
            right = int(times.searchsorted(end, side="right")) - 1
        else:
            raise DataError(
                f"label window [{start}, {end}]: its ends are not rows of the series and "
                "the timestamps do not increase"
            )
        if right < left:
            continue  # the window covers no row of this series
        if ranges and left <= ranges[-1][1]:
            raise DataError(f"label windows overlap near {start}")
        ranges.append((left, right))
    return ranges


def layout(
    n_rows: int,
    windows: Sequence[tuple[int, int]],
    *,
    probation_fraction: float = PROBATION_FRACTION,
) -> Layout:
    """The scoring layout of a series of ``n_rows`` with windows as inclusive row ranges."""
    index = np.arange(n_rows)
    window_id = np.full(n_rows, OUTSIDE)
    in_window = np.zeros(n_rows, dtype=bool)
    unit = np.full(n_rows, -1.0)  # before any window: as far from one as can be
    max_tp = float(scaled_sigmoid(-1.0))
    for k, (left, right) in enumerate(windows):
        width = right - left + 1
        rows = index[left : right + 1]
        window_id[left : right + 1] = k
        in_window[left : right + 1] = True
        unit[left : right + 1] = scaled_sigmoid(-(right - rows + 1) / width) / max_tp
        following = windows[k + 1][0] if k + 1 < len(windows) else n_rows
        after = index[right + 1 : following]
        if len(after):
            # a one-row window has no width to measure distance by: what follows is "far"
            distance = (after - right) / (width - 1) if width > 1 else np.full(len(after), np.inf)
            unit[right + 1 : following] = scaled_sigmoid(distance)
    probation = probation_length(n_rows, probation_fraction)
    window_id[:probation] = PROBATIONARY
    scored_windows = np.unique(window_id[window_id >= 0])
    return Layout(window_id, in_window, unit, n_windows=len(scored_windows))


@dataclass(frozen=True)
class FileScore:
    """One file's NAB result at one threshold (the columns of NAB's ``*_scores.csv``)."""

    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int
    n_windows: int
    windows_detected: int

    def as_dict(self) -> dict[str, float | int]:
        return {
            "threshold": self.threshold,
            "score": self.score,
            "tp": self.tp,
            "tn": self.tn,
            "fp": self.fp,
            "fn": self.fn,
            "windows": self.n_windows,
            "windows_detected": self.windows_detected,
        }


def score_file(
    anomaly_scores: np.ndarray, where: Layout, threshold: float, profile: Profile
) -> FileScore:
    """NAB's score of one file: detections are rows with ``anomaly_score ≥ threshold``."""
    scores = np.asarray(anomaly_scores, dtype=float)
    if len(scores) != where.n_rows:
        raise DataError(f"{len(scores)} anomaly scores for a series of {where.n_rows} rows")
    scored = where.window_id != PROBATIONARY
    detected = (scores >= threshold) & scored
    inside = where.window_id >= 0
    weights = where.weights(profile)
    total = float(weights[detected & ~inside].sum())
    found = 0
    for k in np.unique(where.window_id[inside]):
        hits = detected & (where.window_id == k)
        if hits.any():
            total += float(weights[hits].max())
            found += 1
        else:
            total -= profile.fn_weight
    return FileScore(
        threshold=float(threshold),
        score=total,
        tp=int((detected & inside).sum()),
        tn=int((~detected & scored & ~inside).sum()),
        fp=int((detected & ~inside).sum()),
        fn=int((~detected & inside).sum()),
        n_windows=where.n_windows,
        windows_detected=found,
    )


@dataclass(frozen=True)
class Sweep:
    """A corpus' total NAB score at every candidate threshold (descending)."""

    thresholds: np.ndarray
    scores: np.ndarray

    def best(self) -> tuple[float, float]:
        """(threshold, score) with the highest score; the higher threshold on a tie."""
        k = int(np.argmax(self.scores))  # first maximum: thresholds descend
        return float(self.thresholds[k]), float(self.scores[k])


def sweep(series: Sequence[tuple[np.ndarray, Layout]], profile: Profile) -> Sweep:
    """Total score over ``series`` (anomaly scores, layout) at every distinct score,
    computed in one pass over the rows sorted by score (NAB's optimiser)."""
    scores, weights, windows = [], [], []
    n_windows = 0
    for anomaly_scores, where in series:
        scored = where.window_id != PROBATIONARY
        scores.append(np.asarray(anomaly_scores, dtype=float)[scored])
        weights.append(where.weights(profile)[scored])
        ids = where.window_id[scored]
        # window ids made unique across files
        windows.append(np.where(ids >= 0, ids + n_windows, OUTSIDE))
        n_windows += int(ids.max(initial=-1)) + 1
    a = np.concatenate(scores)
    s = np.concatenate(weights)
    w = np.concatenate(windows)
    order = np.argsort(-a, kind="stable")
    a, s, w = a[order], s[order], w[order]
    gain = np.where(w == OUTSIDE, s, 0.0)
    inside = w != OUTSIDE
    if inside.any():
        frame = pd.DataFrame({"w": w[inside], "s": s[inside]})
        best_so_far = frame.groupby("w")["s"].cummax()
        before = best_so_far.groupby(frame["w"]).shift(1)
        # the first detection of a window replaces its -fn_weight; later ones can only
        # raise it to an earlier row's weight
        first = before.isna().to_numpy()
        step = np.where(
            first,
            best_so_far.to_numpy() + profile.fn_weight,
            best_so_far.to_numpy() - before.fillna(0.0).to_numpy(),
        )
        gain[inside] = step
    n_counted = len(np.unique(w[inside]))
    running = -profile.fn_weight * n_counted + np.cumsum(gain)
    # the score at a threshold counts every row at or above it: the last row of each run
    # of equal scores
    last_of_level = np.r_[a[1:] != a[:-1], True]
    thresholds = np.r_[NEVER, a[last_of_level]]
    totals = np.r_[-profile.fn_weight * n_counted, running[last_of_level]]
    return Sweep(thresholds, totals)


def normalised(raw: float, n_windows: int, profile: Profile) -> float:
    """NAB's normalised score: 0 for the null detector, 100 for the perfect one."""
    null = -profile.fn_weight * n_windows
    perfect = profile.tp_weight * n_windows
    if perfect == null:
        raise DataError("no label window is scored: the normalised score is undefined")
    return 100.0 * (raw - null) / (perfect - null)
