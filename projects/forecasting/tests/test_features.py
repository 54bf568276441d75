"""LightGBM's features: holidays, lags at and beyond the horizon, what mlforecast builds."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from forecasting.config import DAILY, HOURLY, LightGBMSettings
from forecasting.features import (
    calendar_features,
    history_needed,
    holiday,
    holiday_distance,
    make_mlforecast,
)


def test_holidays_and_the_days_around_them() -> None:
    days = pd.to_datetime(
        [
            "2017-07-04 15:00",
            "2017-07-05 00:00",
            "2017-11-24 00:00",
            "2017-12-22 00:00",
            "2017-12-25 23:00",
            "2017-08-16 00:00",
        ]
    )
    assert holiday(days).tolist() == [1, 0, 0, 0, 1, 0]
    # the day after Thanksgiving is +1, three days before Christmas -3; mid-August is far
    # from any (clipped: Labor Day, 19 days later, is the nearest)
    assert holiday_distance(days).tolist() == [0, 1, 1, -3, 0, -3]


def test_new_years_day_is_found_across_the_year_boundary() -> None:
    assert holiday_distance(pd.to_datetime(["2017-12-30", "2018-01-02"])).tolist() == [-2, 1]


def test_lags_below_the_horizon_are_refused() -> None:
    cadence = dataclasses.replace(HOURLY, lags=(1, 24, 168))
    with pytest.raises(ValueError, match=r"must all be >= the horizon 24"):
        make_mlforecast(cadence, LightGBMSettings(), 0)


def test_the_feature_table_mlforecast_builds() -> None:
    hours = pd.date_range("2018-01-01 01:00", periods=24 * 60, freq="h")
    frame = pd.DataFrame({"unique_id": "a", "ds": hours, "y": np.arange(len(hours), dtype=float)})
    features = make_mlforecast(HOURLY, LightGBMSettings(), 0).preprocess(frame, static_features=[])
    row = features.iloc[-1]
    assert row["lag24"] == row["y"] - 24
    assert row["lag672"] == row["y"] - 672
    # the rolling windows read the first lag: the day before (y - 24) going back 24 hours
    assert row["rolling_mean_lag24_window_size24"] == pytest.approx(row["y"] - 24 - 11.5)
    assert row["hour"] == row["ds"].hour
    assert {"holiday", "holiday_distance", "dayofweek", "month", "dayofyear"} <= set(features)
    # rows without four weeks and a day of history are dropped, not filled
    assert features["ds"].min() == hours[0] + pd.Timedelta(hours=24 + 671)


def test_daily_series_have_no_hour_feature_and_a_year_of_lags() -> None:
    assert "hour" not in calendar_features(DAILY)
    assert history_needed(DAILY) == 364 + 7
    assert history_needed(HOURLY) == 24 + 672 + 24
