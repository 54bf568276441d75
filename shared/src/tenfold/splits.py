"""Time-ordered splits of timestamped rows: the one splitter forecasting, anomaly and
fraud share.

A split is defined by an *origin*: the first instant the model may not know. Training
rows lie before ``origin - gap``; test rows lie in ``[origin, origin + horizon)``. The
window is *expanding* (training from the first row) or *sliding* (the last
``train_size`` before the gap). Origins are given explicitly (a backtest's calendar) or
generated backwards from the end of the data every ``step``, so the last test window
ends where the data does.

Rows need not be sorted and several series may share the timeline (long format: every
series' rows before the origin train, and so on). Times are datetimes (with durations as
``pandas.Timedelta``) or plain numbers (e.g. days since the first transaction, with
durations as numbers). :class:`TimeSplitter` follows scikit-learn's splitter API, so it
can be handed to ``cross_val_score(cv=...)`` or ``GridSearchCV(cv=...)`` as well.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.model_selection import BaseCrossValidator

from tenfold.errors import DataError

Window = Literal["expanding", "sliding"]
OriginKind = Literal["first_test", "last_train"]


@dataclass(frozen=True)
class Fold:
    """One split as a reader sees it: when it trains and tests, and on how many rows."""

    origin: Any
    train_start: Any
    train_end: Any  # exclusive
    test_start: Any
    test_end: Any  # exclusive
    n_train: int
    n_test: int


class TimeSplitter(BaseCrossValidator):  # type: ignore[misc]
    """Rolling-origin (backtest) splits of timestamped rows.

    Parameters
    ----------
    horizon:
        Length of each test window (``pd.Timedelta("24h")``, or a number).
    origins:
        Explicit origins (a backtest calendar). Otherwise ``n_splits`` origins are
        generated every ``step`` backwards from ``end``.
    n_splits, step, end:
        Generated origins: ``end - horizon - k * step`` for ``k = n_splits - 1 … 0``.
        ``end`` is the exclusive end of the last test window; by default just after
        the last timestamp (the last time plus the data's resolution). ``step``
        defaults to ``horizon`` (adjacent test windows).
    gap:
        Time left out between training and the origin (e.g. a label delay).
    window, train_size:
        ``"expanding"`` trains on everything before ``origin - gap``; ``"sliding"`` on
        the last ``train_size`` of it.
    origin_kind:
        ``"first_test"`` (default): the origin is the first test instant. ``"last_train"``:
        the origin is the last instant known at forecast time (mlforecast's *cutoff*):
        rows at the origin train and the test window is ``(origin, origin + horizon]``.
    time_column:
        The column of ``X`` holding the times; ``None`` takes ``X`` itself when it is a
        1-D array or Series of times, or the index of a DataFrame.
    """

    def __init__(
        self,
        horizon: Any,
        *,
        origins: Sequence[Any] | None = None,
        n_splits: int | None = None,
        step: Any = None,
        end: Any = None,
        gap: Any = None,
        window: Window = "expanding",
        train_size: Any = None,
        origin_kind: OriginKind = "first_test",
        time_column: str | None = None,
    ) -> None:
        self.horizon = horizon
        self.origins = origins
        self.n_splits = n_splits
        self.step = step
        self.end = end
        self.gap = gap
        self.window = window
        self.train_size = train_size
        self.origin_kind = origin_kind
        self.time_column = time_column

    # ------------------------------------------------------------------ the public API

    def split(
        self, X: Any, y: Any = None, groups: Any = None
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(train positions, test positions)`` per origin, in time order."""
        times = self._times(X)
        for origin in self.origins_for(times):
            train, test = self._masks(times, origin)
            yield np.flatnonzero(train), np.flatnonzero(test)

    def get_n_splits(self, X: Any = None, y: Any = None, groups: Any = None) -> int:
        if self.origins is not None:
            return len(self.origins)
        if self.n_splits is not None:
            return int(self.n_splits)
        raise ValueError("TimeSplitter needs origins= or n_splits=")

    def origins_for(self, times: Any) -> list[Any]:
        """The origins this splitter uses on these times (checked, in time order)."""
        self._check_params()
        values = _as_times(times)
        if self.origins is not None:
            origins = [_like(values, o) for o in self.origins]
        else:
            horizon = _span(values, self.horizon)
            step = horizon if self.step is None else _span(values, self.step)
            end = _end_of(values) if self.end is None else _like(values, self.end)
            n = int(self.n_splits or 0)
            origins = [end - horizon - k * step for k in range(n - 1, -1, -1)]
            if self.origin_kind == "last_train":
                # the cutoff is one resolution step before the first test instant
                origins = [o - _resolution(values) for o in origins]
        if any(b <= a for a, b in itertools.pairwise(origins)):
            raise ValueError(f"origins must increase: {origins[:5]}…")
        return origins

    def folds(self, X: Any) -> list[Fold]:
        """What each split covers, for reports and for checking a backtest's calendar."""
        times = self._times(X)
        out = []
        for origin in self.origins_for(times):
            train, test = self._masks(times, origin)
            train_end = origin - self._gap(times)
            if self.origin_kind == "last_train":
                train_end = train_end + _resolution(times)
            out.append(
                Fold(
                    origin=origin,
                    train_start=times[train].min() if train.any() else None,
                    train_end=train_end,
                    test_start=times[test].min() if test.any() else None,
                    test_end=self._test_window(times, origin)[1],
                    n_train=int(train.sum()),
                    n_test=int(test.sum()),
                )
            )
        return out

    # ------------------------------------------------------------------ internals

    def _check_params(self) -> None:
        if self.origins is None and not self.n_splits:
            raise ValueError("TimeSplitter needs origins= or n_splits= (≥ 1)")
        if self.window not in ("expanding", "sliding"):
            raise ValueError(f"window must be 'expanding' or 'sliding', not {self.window!r}")
        if self.window == "sliding" and self.train_size is None:
            raise ValueError("a sliding window needs train_size=")
        if self.origin_kind not in ("first_test", "last_train"):
            raise ValueError(
                f"origin_kind must be 'first_test' or 'last_train', not {self.origin_kind!r}"
            )

    def _times(self, X: Any) -> np.ndarray:
        if self.time_column is not None:
            if not isinstance(X, pd.DataFrame) or self.time_column not in X.columns:
                raise DataError(f"time column {self.time_column!r} not in the data")
            return _as_times(X[self.time_column])
        if isinstance(X, pd.DataFrame):
            if not isinstance(X.index, pd.DatetimeIndex):
                raise DataError("give TimeSplitter a time_column= (the index holds no times)")
            return _as_times(X.index)
        return _as_times(X)

    def _gap(self, times: np.ndarray) -> Any:
        return _span(times, 0 if self.gap is None else self.gap)

    def _test_window(self, times: np.ndarray, origin: Any) -> tuple[Any, Any]:
        return origin, origin + _span(times, self.horizon)

    def _masks(self, times: np.ndarray, origin: Any) -> tuple[np.ndarray, np.ndarray]:
        gap = self._gap(times)
        start, end = self._test_window(times, origin)
        if self.origin_kind == "last_train":
            train = times <= origin - gap
            test = (times > start) & (times <= end)
        else:
            train = times < origin - gap
            test = (times >= start) & (times < end)
        if self.window == "sliding":
            train_from = origin - gap - _span(times, self.train_size)
            train &= times > train_from if self.origin_kind == "last_train" else times >= train_from
        return train, test


def _as_times(values: Any) -> np.ndarray:
    array = np.asarray(values)
    if array.dtype.kind == "M":
        return np.asarray(pd.DatetimeIndex(array).as_unit("ns").to_numpy())
    if array.dtype.kind in "iuf":
        return array.astype(float)
    if array.dtype.kind == "O":
        try:
            return np.asarray(pd.DatetimeIndex(pd.to_datetime(array)).as_unit("ns").to_numpy())
        except (ValueError, TypeError) as exc:
            raise DataError(f"times must be datetimes or numbers: {exc}") from None
    raise DataError(f"times must be datetimes or numbers, not {array.dtype}")


def _like(times: np.ndarray, value: Any) -> Any:
    """``value`` in the unit of ``times`` (a datetime64 for datetimes, else a float)."""
    if times.dtype.kind == "M":
        return pd.Timestamp(value).to_datetime64().astype("datetime64[ns]")
    return float(value)


def _span(times: np.ndarray, value: Any) -> Any:
    """A duration in the unit of ``times`` (``"24h"``/``Timedelta`` for datetimes; a
    number otherwise)."""
    if times.dtype.kind == "M":
        return pd.Timedelta(value).to_timedelta64().astype("timedelta64[ns]")
    return float(value)


def _resolution(times: np.ndarray) -> Any:
    """The smallest positive difference between distinct times (the data's frequency)."""
    distinct = np.unique(times)
    if len(distinct) < 2:
        raise DataError("need at least two distinct times to infer the data's resolution")
    return np.diff(distinct).min()


def _end_of(times: np.ndarray) -> Any:
    """Just after the last timestamp: the exclusive end of the data."""
    return times.max() + _resolution(times)
