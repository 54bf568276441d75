"""The shared time splitter: rolling origins, gaps, windows, unsorted and long-format rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import cross_val_score

from tenfold.errors import DataError
from tenfold.splits import TimeSplitter


def hourly(start: str, hours: int, *, series: int = 1, shuffle: bool = False) -> pd.DataFrame:
    ds = pd.date_range(start, periods=hours, freq="h")
    frame = pd.DataFrame(
        {
            "unique_id": np.repeat([f"s{i}" for i in range(series)], hours),
            "ds": np.tile(ds, series),
            "y": np.arange(hours * series, dtype=float),
        }
    )
    return frame.sample(frac=1.0, random_state=0) if shuffle else frame


def test_explicit_weekly_origins_forecast_the_next_day_from_the_past_only() -> None:
    frame = hourly("2017-01-01", 24 * 60, shuffle=True)
    origins = pd.date_range("2017-02-01", periods=3, freq="7D")
    splitter = TimeSplitter("24h", origins=list(origins), time_column="ds")
    splits = list(splitter.split(frame))
    assert splitter.get_n_splits() == 3
    assert len(splits) == 3
    for origin, (train, test) in zip(origins, splits, strict=True):
        train_ds, test_ds = frame["ds"].iloc[train], frame["ds"].iloc[test]
        assert train_ds.max() == origin - pd.Timedelta("1h")
        assert train_ds.min() == pd.Timestamp("2017-01-01")
        assert test_ds.min() == origin
        assert test_ds.max() == origin + pd.Timedelta("23h")
        assert len(test) == 24


def test_last_train_origins_match_mlforecast_cutoffs() -> None:
    # PJM-like: data ends at midnight; 52 weekly cutoffs, the last one day before the end
    frame = hourly("2016-01-01 01:00", 24 * 7 * 80)
    end = frame["ds"].max()
    assert end.hour == 0
    splitter = TimeSplitter(
        "24h", n_splits=52, step="7D", origin_kind="last_train", time_column="ds"
    )
    origins = splitter.origins_for(frame["ds"])
    assert len(origins) == 52
    assert pd.Timestamp(origins[-1]) == end - pd.Timedelta("24h")
    assert pd.Timestamp(origins[0]) == end - pd.Timedelta("24h") - 51 * pd.Timedelta("7D")
    train, test = next(iter(splitter.split(frame)))
    assert frame["ds"].iloc[train].max() == pd.Timestamp(origins[0])  # the cutoff is known
    test_ds = frame["ds"].iloc[test]
    assert test_ds.min() == pd.Timestamp(origins[0]) + pd.Timedelta("1h")
    assert len(test) == 24


def test_long_format_splits_every_series_on_the_same_timeline() -> None:
    frame = hourly("2017-01-01", 24 * 10, series=3, shuffle=True)
    splitter = TimeSplitter("24h", n_splits=2, time_column="ds")
    for train, test in splitter.split(frame):
        assert frame["unique_id"].iloc[test].value_counts().to_dict() == {
            "s0": 24,
            "s1": 24,
            "s2": 24,
        }
        assert frame["ds"].iloc[train].max() < frame["ds"].iloc[test].min()


def test_gap_and_sliding_window_in_numeric_days() -> None:
    # fraud-style: days as floats, validation blocks of 7 days, a 7-day label delay
    day = np.arange(0, 100, 0.25)
    splitter = TimeSplitter(7, n_splits=3, step=7, end=91.0, gap=7, window="sliding", train_size=30)
    folds = splitter.folds(day)
    assert [f.origin for f in folds] == [70.0, 77.0, 84.0]
    for (train, test), fold in zip(splitter.split(day), folds, strict=True):
        assert day[train].max() < fold.origin - 7
        assert day[train].min() >= fold.origin - 7 - 30
        assert day[test].min() == fold.origin
        assert day[test].max() < fold.origin + 7
        assert fold.n_train == len(train)
        assert fold.n_test == len(test) == 28


def test_default_end_is_just_after_the_last_row() -> None:
    frame = hourly("2017-01-01", 24 * 5)
    train, test = next(iter(TimeSplitter("24h", n_splits=1, time_column="ds").split(frame)))
    assert frame["ds"].iloc[test].max() == frame["ds"].max()
    assert len(test) == 24
    assert len(train) == 24 * 4


def test_changing_the_future_changes_no_training_row() -> None:
    frame = hourly("2017-01-01", 24 * 20)
    splitter = TimeSplitter("24h", origins=["2017-01-10"], time_column="ds")
    train, _ = next(iter(splitter.split(frame)))
    later = frame.copy()
    later.loc[later["ds"] >= "2017-01-10", "y"] = -1.0
    assert frame["y"].iloc[train].equals(later["y"].iloc[train])


def test_works_as_a_scikit_learn_cv() -> None:
    frame = hourly("2017-01-01", 24 * 30)
    frame["t"] = np.arange(len(frame), dtype=float)
    splitter = TimeSplitter("24h", n_splits=4, time_column="ds")
    scores = cross_val_score(
        LinearRegression(),
        frame[["t"]].assign(ds=frame["ds"]).drop(columns="ds"),
        frame["y"],
        cv=list(splitter.split(frame)),
    )
    assert len(scores) == 4
    assert "horizon='24h'" in repr(splitter)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "origins= or n_splits="),
        ({"n_splits": 2, "window": "rolling"}, "expanding' or 'sliding"),
        ({"n_splits": 2, "window": "sliding"}, "train_size"),
        ({"origins": ["2017-01-05", "2017-01-03"]}, "must increase"),
    ],
)
def test_bad_parameters_say_what_is_wrong(kwargs: dict[str, object], message: str) -> None:
    frame = hourly("2017-01-01", 24 * 10)
    with pytest.raises(ValueError, match=message):
        list(TimeSplitter("24h", time_column="ds", **kwargs).split(frame))  # type: ignore[arg-type]


def test_a_missing_time_column_is_a_data_error() -> None:
    with pytest.raises(DataError, match="time column 'when' not in the data"):
        list(TimeSplitter("24h", n_splits=1, time_column="when").split(hourly("2017-01-01", 48)))
