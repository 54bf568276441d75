"""LightGBM's features: holidays, the lags (seasonal ones at and beyond the horizon, three
recursive ones), the daily change as target, what mlforecast builds."""

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


def test_seasonal_lags_below_the_horizon_are_refused() -> None:
    cadence = dataclasses.replace(HOURLY, seasonal_lags=(1, 24, 168))
    with pytest.raises(ValueError, match=r"must all be >= the horizon 24"):
        make_mlforecast(cadence, LightGBMSettings(), 0)


def test_the_feature_table_mlforecast_builds() -> None:
    """Lags and windows of the change from a day earlier, computed here by hand from
    their definitions on a series whose daily change itself changes."""
    hours = pd.date_range("2018-01-01 01:00", periods=24 * 60, freq="h")
    y = (np.arange(len(hours), dtype=float) / 10) ** 2
    frame = pd.DataFrame({"unique_id": "a", "ds": hours, "y": y})
    features = make_mlforecast(HOURLY, LightGBMSettings(), 0).preprocess(frame, static_features=[])
    change = pd.Series(y) - pd.Series(y).shift(24)
    last = len(hours) - 1
    row = features.iloc[-1]
    assert row["y"] == pytest.approx(change[last])  # the target: the change from a day earlier
    assert row["lag1"] == pytest.approx(change[last - 1])
    assert row["lag3"] == pytest.approx(change[last - 3])
    assert row["lag24"] == pytest.approx(change[last - 24])
    assert row["lag672"] == pytest.approx(change[last - 672])
    # the rolling windows read the horizon's lag: the day before going back 24 hours
    assert row["rolling_mean_lag24_window_size24"] == pytest.approx(
        change[last - 24 - 23 : last - 24 + 1].mean()
    )
    assert row["rolling_std_lag24_window_size168"] == pytest.approx(
        change[last - 24 - 167 : last - 24 + 1].std(), rel=1e-6
    )
    assert row["hour"] == row["ds"].hour
    assert {"holiday", "holiday_distance", "dayofweek", "month", "dayofyear"} <= set(features)
    # rows without a day, four weeks and a day of history are dropped, not filled
    assert features["ds"].min() == hours[0] + pd.Timedelta(hours=24 + 24 + 671)


def test_daily_series_have_no_hour_feature_and_a_year_of_lags() -> None:
    assert "hour" not in calendar_features(DAILY)
    assert DAILY.lags == (1, 2, 3, 7, 14, 28, 364)
    assert history_needed(DAILY) == 364 + 7 + 7
    assert history_needed(HOURLY) == 24 + 672 + 24 + 24
