"""Scoring a stream one point at a time, with bounded state, and many streams at once.

:class:`StreamScorer` runs the same schedule as the batch path
(:func:`anomaly.detectors.detect`): the statistical detectors judge each row against the
rows before it, the models fit on the probationary rows and refit every
``refit_every`` rows on the last ``train_rows``, calibration and de-duplication read
the recent past. So a stream scored point by point gives the batch scores (tested), and
it keeps only what that needs: the last ``max(train_rows, window, probation)`` rows, the
last ``calibration_rows + smoothing`` raw measures and the last ``refractory`` scores per
detector, and the fitted models.

:class:`StreamStore` holds one stream per id, at most ``max_streams`` of them (least
recently used evicted first) and none idle for longer than ``ttl_seconds``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
from scipy.special import log_ndtr

from anomaly.config import COMBINED, FAMILIES, DetectorConfig
from anomaly.detectors import MIN_PAST, Detector, build, combine

_LOG10 = float(np.log(10.0))


@dataclass(frozen=True)
class PointScore:
    """One point of a stream: each detector's score, the flags at its threshold, and
    how many families agree."""

    index: int
    learning: bool
    scores: dict[str, float]
    flags: dict[str, bool]
    families_flagged: int


class _Calibration:
    """The streaming twin of :func:`anomaly.detectors.calibrate` and ``deduplicate``."""

    def __init__(self, cfg: DetectorConfig) -> None:
        self.cfg = cfg
        k = max(1, cfg.smoothing)
        self.raw: deque[float] = deque(maxlen=cfg.calibration_rows + k)
        self.recent: deque[float] = deque(maxlen=max(1, cfg.refractory))

    def push_raw(self, value: float) -> None:
        self.raw.append(value)

    def calibrated(self) -> float:
        """The calibrated score of the last raw measure pushed."""
        cfg = self.cfg
        k = max(1, cfg.smoothing)
        raw = np.fromiter(self.raw, dtype=float)
        short = float(raw[-k:].mean())
        # the rows before the smoothing span
        reference = raw[:-k][-cfg.calibration_rows :]
        if len(reference) < 2:
            z = 0.0
        else:
            centre = float(reference.mean())
            spread = max(float(reference.std()), 1e-6 * (1.0 + abs(centre)))
            z = (short - centre) / spread
        return float(np.clip(-log_ndtr(-z) / _LOG10 / cfg.tail_decades, 0.0, 1.0))

    def alarm(self, calibrated: float) -> float:
        """The score after de-duplication (0 unless it beats the last ``refractory``)."""
        if self.cfg.refractory <= 0:
            return calibrated
        previous = max(self.recent, default=0.0)
        self.recent.append(calibrated)
        return calibrated if calibrated > previous else 0.0


class StreamScorer:
    """One stream's detectors and bounded state (``update`` one point at a time)."""

    def __init__(
        self,
        names: Sequence[str],
        cfg: DetectorConfig,
        thresholds: Mapping[str, float],
        *,
        probation: int,
        n_variables: int = 1,
        seed: int = 0,
    ) -> None:
        if cfg.reference != "rolling":
            raise ValueError("a stream needs the rolling reference (it cannot look back forever)")
        self.cfg = cfg
        self.detectors: list[Detector] = build(names, cfg, seed)
        self.thresholds = dict(thresholds)
        self.probation = max(probation, MIN_PAST)
        self.n_variables = n_variables
        # rows kept: the longest look back, and the row being scored
        lookback = [self.probation, cfg.window, cfg.lags] + [d.train_rows for d in self.detectors]
        memory = max(lookback) + 1
        self.rows: deque[np.ndarray] = deque(maxlen=memory)
        self.seen = 0
        self.states: dict[str, Any] = {}
        self.calibrations = {d.name: _Calibration(cfg) for d in self.detectors}
        self.combined = {n: _Calibration(cfg) for n in COMBINED} if len(self.detectors) >= 2 else {}

    def update(self, value: Sequence[float] | float) -> PointScore:
        row = np.atleast_1d(np.asarray(value, dtype=float)).reshape(-1)
        if len(row) != self.n_variables:
            from tenfold.errors import InvalidInput

            raise InvalidInput(
                "values", f"this stream has {self.n_variables} variable(s), got {len(row)}"
            )
        t = self.seen
        self.rows.append(row)
        self.seen += 1
        calibrated: dict[str, float] = {}
        X = np.vstack(self.rows)
        for detector in self.detectors:
            for raw in self._raw(detector, X, t):
                self.calibrations[detector.name].push_raw(raw)
            if t >= self.probation:
                calibrated[detector.name] = self.calibrations[detector.name].calibrated()
        if t < self.probation:
            return PointScore(t, True, {}, {}, 0)
        scores = {name: self.calibrations[name].alarm(c) for name, c in calibrated.items()}
        if self.combined:
            members = np.array(list(calibrated.values())).reshape(-1, 1)
            for name, combined_score in combine(members).items():
                scores[name] = self.combined[name].alarm(float(combined_score[0]))
        flags = {
            name: bool(score >= self.thresholds.get(name, np.inf)) for name, score in scores.items()
        }
        families = {
            family
            for family, members in FAMILIES.items()
            if any(flags.get(m, False) for m in members)
        }
        return PointScore(t, False, scores, flags, len(families))

    def _raw(self, detector: Detector, X: np.ndarray, t: int) -> list[float]:
        """The raw measures that become known at row ``t`` (the last of ``X``; several
        at the end of the probationary period: the in-sample reference of a model)."""
        first = detector.first_row(self.probation)
        if t < first:
            return [0.0] if first == MIN_PAST else []
        every = max(1, detector.refit_every)
        out: list[float] = []
        if (t - first) % every == 0:
            past = X[:-1][-detector.train_rows :]
            state = detector.fit(past)
            self.states[detector.name] = state
            if t == first == self.probation:
                # in-sample raw of the probationary rows, as the batch path computes them
                out.extend(float(v) for v in detector.raw(state, X[:-1], len(X) - 1))
        state = self.states[detector.name]
        context = X[-(detector.context + 1) :]
        if len(context) < detector.context + 1:
            context = np.vstack([np.repeat(X[:1], detector.context + 1 - len(context), 0), context])
        out.append(float(detector.raw(state, context, 1)[0]))
        return out


class Held(Protocol):
    """What a store holds: anything that remembers when it was last used."""

    last_used: float


T = TypeVar("T", bound=Held)


class StreamStore(Generic[T]):
    """Streams by id: at most ``max_streams`` (least recently used evicted) and none idle
    longer than ``ttl_seconds``; safe to use from several threads."""

    def __init__(
        self,
        *,
        max_streams: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_streams = max_streams
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._streams: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()
        self.evicted = 0

    def __len__(self) -> int:
        return len(self._streams)

    def __contains__(self, stream_id: object) -> bool:
        return stream_id in self._streams

    def get(self, stream_id: str, create: Callable[[], T]) -> T:
        """The stream, made by ``create`` on first use (and the stale ones dropped)."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            stream = self._streams.get(stream_id)
            if stream is None:
                stream = create()
                self._streams[stream_id] = stream
                while len(self._streams) > self.max_streams:
                    self._streams.popitem(last=False)
                    self.evicted += 1
            else:
                self._streams.move_to_end(stream_id)
            stream.last_used = now
            return stream

    def drop(self, stream_id: str) -> bool:
        with self._lock:
            return self._streams.pop(stream_id, None) is not None

    def clear(self) -> None:
        with self._lock:
            self._streams.clear()

    def _expire(self, now: float) -> None:
        while self._streams:
            oldest_id, oldest = next(iter(self._streams.items()))
            if now - oldest.last_used <= self.ttl_seconds:
                return
            del self._streams[oldest_id]
            self.evicted += 1
