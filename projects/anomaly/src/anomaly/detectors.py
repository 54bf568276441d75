"""Causal anomaly detectors: three families and their consensus, one score in [0, 1].

Every detector turns a series (rows × variables) into a *raw* anomaly measure per row
from that row and the rows before it only, then :func:`calibrate` makes it a score:

- **statistical**: :class:`RollingZScore` (distance from the mean of the last
  ``window`` rows in their standard deviations) and :class:`RollingIQR` (distance
  outside their quartiles, in interquartile ranges);
- **classical unsupervised**: :class:`IsolationForestDetector` and
  :class:`LocalOutlierFactorDetector` (PyOD) on sliding windows of ``lags`` rows, fitted
  on the probationary rows and refitted every ``refit_every`` rows on the last
  ``train_rows`` (``reference="fixed"``: fitted once);
- **reconstruction**: the sliding-window autoencoder of :mod:`anomaly.autoencoder`
  (opt-in torch extra);
- **consensus**: the mean of the members' calibrated scores (high only where several
  agree), and **union**: their maximum (high where any one is sure), both
  de-duplicated like the others.

A model-based detector is defined by ``fit(past) → state`` and ``raw(state, rows)``;
:meth:`Detector.raw_series` runs the refit schedule over a series. That loop is the
reference: a vectorised ``raw_series`` (the statistical detectors) must equal it, and the
streaming scorer (:mod:`anomaly.streaming`) runs the same schedule one row at a time.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy.special import log_ndtr

from anomaly.config import COMBINED, CONSENSUS, UNION, DetectorConfig
from anomaly.features import SlidingWindows, as_matrix, rolling_past
from tenfold.splits import TimeSplitter

# statistical detectors start scoring once two past rows exist
MIN_PAST = 2
_LOG10 = float(np.log(10.0))


def _spread_floor(centre: np.ndarray) -> np.ndarray:
    """The smallest spread a statistic may have: a flat stretch makes any change large,
    not infinite."""
    return np.asarray(1e-6 * (1.0 + np.abs(centre)), dtype=float)


def _combine(per_variable: np.ndarray) -> np.ndarray:
    """One measure per row from one per variable: the root mean square."""
    squares = np.square(np.nan_to_num(per_variable, nan=0.0))
    return np.asarray(np.sqrt(squares.mean(axis=1)))


class Detector(ABC):
    """A causal detector: the raw measure of row ``t`` reads rows ``≤ t`` only."""

    name: ClassVar[str]
    family: ClassVar[str]

    def __init__(self, cfg: DetectorConfig, seed: int = 0) -> None:
        self.cfg = cfg
        self.seed = seed

    # ------------------------------------------------------------------ the schedule
    @property
    def context(self) -> int:
        """Predecessors one row's features need."""
        return 0

    @property
    def refit_every(self) -> int:
        return self.cfg.refit_every

    @property
    def train_rows(self) -> int:
        return self.cfg.train_rows

    def first_row(self, start: int) -> int:
        """The first row scored by the schedule (earlier rows: in-sample, for calibration)."""
        return start

    @abstractmethod
    def fit(self, past: np.ndarray) -> Any:
        """A fitted state from past rows (rows × variables)."""

    @abstractmethod
    def raw(self, state: Any, rows: np.ndarray, n_new: int) -> np.ndarray:
        """Raw measures of the last ``n_new`` of ``rows`` (the rows before them are their
        context, at most :attr:`context` of them)."""

    def raw_series(self, values: np.ndarray, start: int) -> np.ndarray:
        """Raw measure of every row: rows from :meth:`first_row` by the refit schedule
        (each block by a state fitted on rows before it), rows before it in-sample."""
        return schedule(self, as_matrix(values), start)


def schedule(detector: Detector, X: np.ndarray, start: int) -> np.ndarray:
    """The reference refit loop (see :class:`Detector`)."""
    n = len(X)
    raw = np.zeros(n)
    if n == 0:
        return raw
    if detector.cfg.reference == "fixed":
        state = detector.fit(X[:start])
        return detector.raw(state, X, n)
    begin = min(detector.first_row(start), n)
    if begin > 0 and begin == start:
        # the probationary rows scored in-sample: the calibration's first reference
        state = detector.fit(X[max(0, begin - detector.train_rows) : begin])
        raw[:begin] = detector.raw(state, X[:begin], begin)
    # refit blocks as rolling-origin splits over row numbers: each block of
    # `refit_every` rows is scored by a state fitted on the `train_rows` before it
    every = max(1, detector.refit_every)
    blocks = TimeSplitter(
        horizon=every,
        origins=list(range(begin, n, every)),
        window="sliding",
        train_size=detector.train_rows,
    )
    for train, test in blocks.split(np.arange(n, dtype=float)):
        block, end = int(test[0]), int(test[-1]) + 1
        state = detector.fit(X[train])
        rows = X[max(0, block - detector.context) : end]
        raw[block:end] = detector.raw(state, rows, end - block)
    return raw


# --------------------------------------------------------------------------- statistical


class _Statistical(Detector):
    family = "statistical"

    @property
    def refit_every(self) -> int:
        return 1

    @property
    def train_rows(self) -> int:
        return self.cfg.window

    def first_row(self, start: int) -> int:
        return MIN_PAST


class RollingZScore(_Statistical):
    """|x - mean| / std of the last ``window`` rows (RMS over variables)."""

    name = "zscore"

    def fit(self, past: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        centre = past.mean(axis=0)
        return centre, np.maximum(past.std(axis=0), _spread_floor(centre))

    def raw(self, state: Any, rows: np.ndarray, n_new: int) -> np.ndarray:
        centre, spread = state
        return _combine((rows[-n_new:] - centre) / spread)

    def raw_series(self, values: np.ndarray, start: int) -> np.ndarray:
        X = as_matrix(values)
        if self.cfg.reference == "fixed":
            return schedule(self, X, start)
        centre = rolling_past(X, self.cfg.window, "mean")
        spread = np.maximum(rolling_past(X, self.cfg.window, "std"), _spread_floor(centre))
        out = _combine((X - centre) / spread)
        out[:MIN_PAST] = 0.0
        return np.asarray(np.nan_to_num(out), dtype=float)


class RollingIQR(_Statistical):
    """Distance outside the quartiles of the last ``window`` rows, in interquartile ranges
    (Tukey's fences measure; RMS over variables)."""

    name = "iqr"

    def fit(self, past: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        q1, q3 = np.percentile(past, [25, 75], axis=0)
        return q1, q3, np.maximum(q3 - q1, _spread_floor((q1 + q3) / 2))

    def raw(self, state: Any, rows: np.ndarray, n_new: int) -> np.ndarray:
        q1, q3, iqr = state
        x = rows[-n_new:]
        return _combine(np.maximum(0.0, np.maximum(x - q3, q1 - x)) / iqr)

    def raw_series(self, values: np.ndarray, start: int) -> np.ndarray:
        X = as_matrix(values)
        if self.cfg.reference == "fixed":
            return schedule(self, X, start)
        q1 = rolling_past(X, self.cfg.window, "quantile", 0.25)
        q3 = rolling_past(X, self.cfg.window, "quantile", 0.75)
        iqr = np.maximum(q3 - q1, _spread_floor((q1 + q3) / 2))
        out = _combine(np.maximum(0.0, np.maximum(X - q3, q1 - X)) / iqr)
        out[:MIN_PAST] = 0.0
        return np.asarray(np.nan_to_num(out), dtype=float)


# --------------------------------------------------------------------------- PyOD


class _PyodOnWindows(Detector):
    """A PyOD detector on standardised sliding windows of the training rows."""

    family = "classical"

    @property
    def context(self) -> int:
        return self.cfg.lags - 1

    @abstractmethod
    def make(self, n_train: int) -> Any:
        """A fresh, unfitted PyOD detector."""

    def fit(self, past: np.ndarray) -> tuple[Any, ...]:
        windows = SlidingWindows(self.cfg.lags).fit(past)
        features = windows.transform(past)
        return windows, self.make(len(features)).fit(features)

    def raw(self, state: Any, rows: np.ndarray, n_new: int) -> np.ndarray:
        windows, model = state
        features = windows.transform(rows)[-n_new:]
        return np.asarray(model.decision_function(features), dtype=float)


class IsolationForestDetector(_PyodOnWindows):
    """PyOD's isolation forest; a few rows at a time (a stream) go through
    :class:`CompiledForest` instead, which gives the same raw measure without
    scikit-learn's per-call, per-tree overhead (~50 ms a row on this machine)."""

    name = "iforest"
    # a block of at most this many rows is scored by the compiled trees
    compiled_rows = 16

    def make(self, n_train: int) -> Any:
        from pyod.models.iforest import IForest

        return IForest(
            n_estimators=self.cfg.n_estimators,
            max_samples=min(self.cfg.max_samples, n_train),
            random_state=self.seed,
            n_jobs=1,
        )

    def fit(self, past: np.ndarray) -> tuple[Any, ...]:
        windows, model = super().fit(past)
        return windows, model, CompiledForest(model.detector_)

    def raw(self, state: Any, rows: np.ndarray, n_new: int) -> np.ndarray:
        windows, model, compiled = state
        if n_new > self.compiled_rows:
            return super().raw((windows, model), rows, n_new)
        out: np.ndarray = compiled.raw(windows.transform(rows)[-n_new:])
        return out


class CompiledForest:
    """A fitted scikit-learn ``IsolationForest`` as padded numpy arrays, all trees walked
    at once: PyOD's raw measure (``-decision_function`` of scikit-learn, i.e. the
    isolation score plus the forest's offset) for a few rows. Tested equal to PyOD."""

    def __init__(self, forest: Any) -> None:
        from sklearn.ensemble._iforest import _average_path_length

        trees = [e.tree_ for e in forest.estimators_]
        width = max(t.node_count for t in trees)

        def padded(values: list[np.ndarray], fill: float) -> np.ndarray:
            out = np.full((len(values), width), fill)
            for k, v in enumerate(values):
                out[k, : len(v)] = v
            return out

        self.left = padded([t.children_left for t in trees], -1).astype(np.int64)
        self.right = padded([t.children_right for t in trees], -1).astype(np.int64)
        self.feature = np.maximum(padded([t.feature for t in trees], 0), 0).astype(np.int64)
        self.threshold = padded([t.threshold for t in trees], 0.0)
        self.leaf_depth = padded(
            [
                forest._decision_path_lengths[k] + forest._average_path_length_per_tree[k] - 1.0
                for k in range(len(trees))
            ],
            0.0,
        )
        self.depth = max(int(t.max_depth) for t in trees)
        self.denominator = len(trees) * float(_average_path_length([forest._max_samples])[0])
        self.offset = float(forest.offset_)
        self.rows = np.arange(len(trees))

    def raw(self, features: np.ndarray) -> np.ndarray:
        out = np.empty(len(features))
        for i, row in enumerate(np.asarray(features, dtype=np.float32).astype(np.float64)):
            node = np.zeros(len(self.rows), dtype=np.int64)
            for _ in range(self.depth):
                leaf = self.left[self.rows, node] == -1
                go_left = row[self.feature[self.rows, node]] <= self.threshold[self.rows, node]
                step = np.where(go_left, self.left[self.rows, node], self.right[self.rows, node])
                node = np.where(leaf, node, step)
            depths = self.leaf_depth[self.rows, node].sum()
            score = 2.0 ** (-depths / self.denominator) if self.denominator else 1.0
            out[i] = score + self.offset
        return out


class LocalOutlierFactorDetector(_PyodOnWindows):
    """PyOD's LOF; a few rows at a time (a stream) are scored directly in numpy from the
    fitted model's neighbours and densities (the same LOF, without scikit-learn's
    per-call validation and tree query). Tested equal to PyOD."""

    name = "lof"
    compiled_rows = 16

    def make(self, n_train: int) -> Any:
        from pyod.models.lof import LOF

        return LOF(n_neighbors=min(self.cfg.n_neighbors, max(1, n_train - 1)), n_jobs=1)

    def raw(self, state: Any, rows: np.ndarray, n_new: int) -> np.ndarray:
        if n_new > self.compiled_rows:
            return super().raw(state, rows, n_new)
        windows, model = state
        lof = model.detector_
        train = lof._fit_X
        k = lof.n_neighbors_
        k_distance = lof._distances_fit_X_[:, k - 1]
        out = np.empty(n_new)
        for i, row in enumerate(windows.transform(rows)[-n_new:]):
            distance = np.sqrt(np.square(train - row).sum(axis=1))
            nearest = np.argpartition(distance, k - 1)[:k]
            reach = np.maximum(distance[nearest], k_distance[nearest])
            density = 1.0 / (reach.mean() + 1e-10)
            out[i] = np.mean(lof._lrd[nearest] / density)
        return out


# --------------------------------------------------------------------------- registry


def detector_classes() -> dict[str, type[Detector]]:
    classes: dict[str, type[Detector]] = {
        cls.name: cls
        for cls in (RollingZScore, RollingIQR, IsolationForestDetector, LocalOutlierFactorDetector)
    }
    if deep_available():
        from anomaly.autoencoder import AutoencoderDetector

        classes[AutoencoderDetector.name] = AutoencoderDetector
    return classes


def deep_available() -> bool:
    """Whether the opt-in torch extra is installed (``make anomaly-deep``)."""
    import importlib.util

    return importlib.util.find_spec("torch") is not None


DEEP_HINT = "the autoencoder needs torch: `make anomaly-deep`"


def default_detectors() -> tuple[str, ...]:
    names = ("zscore", "iqr", "iforest", "lof")
    return (*names, "autoencoder") if deep_available() else names


def build(names: Sequence[str], cfg: DetectorConfig, seed: int) -> list[Detector]:
    """Detectors by name (an unknown name, or the autoencoder without torch, is an error
    that says what exists)."""
    from tenfold.errors import InvalidInput

    classes = detector_classes()
    out = []
    for name in names:
        if name in COMBINED:
            continue
        if name not in classes:
            hint = f"; {DEEP_HINT}" if name == "autoencoder" else ""
            raise InvalidInput(
                "detectors", f"unknown detector {name!r}; use {sorted(classes)}{hint}"
            )
        out.append(classes[name](cfg, seed))
    return out


# --------------------------------------------------------------------------- scores


def calibrate(raw: np.ndarray, start: int, cfg: DetectorConfig) -> np.ndarray:
    """A raw measure as a score in [0, 1], causally.

    The mean raw measure of the last ``smoothing`` rows is compared with the mean and
    standard deviation of the ``calibration_rows`` rows before them (``"fixed"``: of the
    probationary rows); its Gaussian upper-tail probability ``p`` gives
    ``-log10(p) / tail_decades``. Rows before ``start`` score 0.
    """
    raw = np.asarray(raw, dtype=float)
    n = len(raw)
    k = max(1, cfg.smoothing)
    cumulative = np.r_[0.0, np.cumsum(raw)]
    index = np.arange(n)
    short = (cumulative[index + 1] - cumulative[np.maximum(0, index + 1 - k)]) / np.minimum(
        index + 1, k
    )
    if cfg.reference == "fixed":
        reference = raw[:start] if start > 1 else raw[:1]
        centre = np.full(n, reference.mean())
        spread = np.full(n, reference.std())
    else:
        centre = rolling_past(raw, cfg.calibration_rows, "mean")[:, 0]
        spread = rolling_past(raw, cfg.calibration_rows, "std")[:, 0]
        # the reference ends before the smoothing span begins
        centre = np.r_[np.full(k - 1, np.nan), centre[: n - k + 1]] if k > 1 else centre
        spread = np.r_[np.full(k - 1, np.nan), spread[: n - k + 1]] if k > 1 else spread
    z = (short - centre) / np.maximum(spread, _spread_floor(centre))
    # log of the upper tail, log(1 - Φ(z)) = log Φ(-z), exact far into the tail
    score = -log_ndtr(-np.nan_to_num(z, nan=0.0)) / _LOG10 / cfg.tail_decades
    score = np.asarray(np.clip(score, 0.0, 1.0), dtype=float)
    score[: max(0, start)] = 0.0
    return score


def deduplicate(score: np.ndarray, refractory: int) -> np.ndarray:
    """Keep a score only where it beats every score of the ``refractory`` rows before it
    (an alarm is raised once, not on every row of the same episode); others become 0."""
    if refractory <= 0:
        return np.asarray(score, dtype=float).copy()
    previous = rolling_max_past(score, refractory)
    return np.where(score > previous, score, 0.0)


def rolling_max_past(values: np.ndarray, window: int) -> np.ndarray:
    """The largest of the ``window`` values before each one (0 before any)."""
    values = np.asarray(values, dtype=float)
    padded = np.r_[np.zeros(window), values]
    from numpy.lib.stride_tricks import sliding_window_view

    return np.asarray(sliding_window_view(padded[:-1], window).max(axis=1))


@dataclass(frozen=True)
class Detection:
    """One detector on one series: raw measure, calibrated score, alarm score."""

    name: str
    family: str
    raw: np.ndarray
    calibrated: np.ndarray
    score: np.ndarray

    def flags(self, threshold: float) -> np.ndarray:
        return np.asarray(self.score >= threshold)

    @classmethod
    def alarms_only(cls, name: str, family: str, score: np.ndarray) -> Detection:
        """A detection read back from a logged training, which keeps the alarm scores
        only (what thresholds, NAB scores and alarms are computed from): its raw and
        calibrated measures are empty."""
        empty = np.empty(0)
        return cls(name, family, empty, empty, np.asarray(score, dtype=float))


def detect(
    values: np.ndarray,
    start: int,
    names: Sequence[str],
    cfg: DetectorConfig,
    *,
    seed: int = 0,
) -> dict[str, Detection]:
    """Every named detector on one series, and their consensus when there are two or more.

    ``start`` is the length of the probationary period: those rows are learnt from and
    score 0.
    """
    X = as_matrix(values)
    out: dict[str, Detection] = {}
    for detector in build(names, cfg, seed):
        raw = detector.raw_series(X, start)
        calibrated = calibrate(raw, start, cfg)
        out[detector.name] = Detection(
            detector.name,
            detector.family,
            raw,
            calibrated,
            deduplicate(calibrated, cfg.refractory),
        )
    if len(out) >= 2:
        out.update(combined(out, cfg))
    return out


def combine(calibrated: np.ndarray) -> dict[str, np.ndarray]:
    """Members' calibrated scores (members × rows) → the consensus (their mean: high only
    where they agree) and the union (their maximum: high where any one is sure)."""
    return {CONSENSUS: calibrated.mean(axis=0), UNION: calibrated.max(axis=0)}


def combined(members: Mapping[str, Detection], cfg: DetectorConfig) -> dict[str, Detection]:
    stacked = np.vstack([d.calibrated for d in members.values()])
    return {
        name: Detection(name, name, score, score, deduplicate(score, cfg.refractory))
        for name, score in combine(stacked).items()
    }
