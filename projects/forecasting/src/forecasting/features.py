"""Features of the LightGBM forecaster, declared once for mlforecast.

- **lags at and beyond the horizon** (hourly: 24 h, 48 h, one week, four weeks), known at
  the origin for every step of a day-ahead forecast;
- **the last three hours** (lags 1-3): recursive, so beyond the first step they are the
  model's own forecasts (see :mod:`forecasting.models` for why);
- **rolling means and spreads** (standard deviations) of the horizon's lag over the last
  day, week and four weeks: the level and volatility of the recent past, shifted by the
  horizon so that they too are known at the origin;
- **calendar**: hour of day, day of week, month, day of year;
- **holidays** (US federal, the `holidays` package Prophet uses too): the day itself and
  the signed distance in days to the nearest one (bridge days and the Friday after
  Thanksgiving are low too).

The target is the change from the same hour a day earlier (mlforecast's
``Differences([24])``; lags and windows are of that change), turned back into load by
mlforecast. mlforecast computes the lags and rolling windows per series and updates them
while forecasting, identically in training, in the backtest and in serving.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config import Cadence, LightGBMSettings

HOLIDAY_COUNTRY = "US"
# bridge days and the days after a holiday load differently; beyond 3 days they do not
HOLIDAY_REACH_DAYS = 3


@cache
def _holidays(country: str, first_year: int, last_year: int) -> pd.DatetimeIndex:
    import holidays

    calendar = holidays.country_holidays(country, years=range(first_year, last_year + 1))
    return pd.DatetimeIndex(sorted(pd.Timestamp(d) for d in calendar))


def holiday_dates(dates: Any, country: str = HOLIDAY_COUNTRY) -> pd.DatetimeIndex:
    """The country's public holidays over the years ``dates`` span (one year either side,
    so distances across New Year are right)."""
    index = pd.DatetimeIndex(dates)
    return _holidays(country, int(index.year.min()) - 1, int(index.year.max()) + 1)


def holiday(dates: Any) -> np.ndarray:
    """1 on a US public holiday, else 0."""
    days = pd.DatetimeIndex(dates).normalize()
    return np.asarray(days.isin(holiday_dates(days)), dtype=np.int8)


def holiday_distance(dates: Any) -> np.ndarray:
    """Signed days to the nearest US holiday (negative before it), clipped to ±3."""
    days = pd.DatetimeIndex(dates).normalize()
    known = holiday_dates(days).to_numpy()
    values = days.to_numpy()
    after = np.searchsorted(known, values, side="left").clip(1, len(known) - 1)
    to_next = (known[after] - values) / np.timedelta64(1, "D")
    to_previous = (values - known[after - 1]) / np.timedelta64(1, "D")
    signed = np.where(to_next < to_previous, -to_next, to_previous)
    return np.asarray(np.clip(signed, -HOLIDAY_REACH_DAYS, HOLIDAY_REACH_DAYS), dtype=np.int8)


def calendar_features(cadence: Cadence) -> list[Any]:
    """mlforecast ``date_features``: names of pandas attributes, or named functions."""
    names: list[Any] = ["dayofweek", "month", "dayofyear"]
    if cadence.name == "hourly":
        names.insert(0, "hour")
    return [*names, holiday, holiday_distance]


def lag_transforms(cadence: Cadence) -> dict[int, list[Any]]:
    """Rolling mean and standard deviation of the horizon's lag over each window."""
    from mlforecast.lag_transforms import RollingMean, RollingStd

    transforms: list[Any] = []
    for window in cadence.windows:
        transforms += [RollingMean(window_size=window), RollingStd(window_size=window)]
    return {cadence.horizon: transforms}


def lightgbm_params(settings: LightGBMSettings, seed: int) -> dict[str, Any]:
    """Single-threaded and deterministic: results do not depend on the core count, and
    the backtest spreads origins over processes instead."""
    return {
        "n_estimators": settings.n_estimators,
        "learning_rate": settings.learning_rate,
        "num_leaves": settings.num_leaves,
        "min_child_samples": settings.min_child_samples,
        "subsample": settings.subsample,
        "subsample_freq": 1,
        "colsample_bytree": settings.colsample_bytree,
        "reg_lambda": settings.reg_lambda,
        "random_state": seed,
        "n_jobs": 1,
        "deterministic": True,
        "force_col_wise": True,
        "verbose": -1,
    }


def make_mlforecast(cadence: Cadence, settings: LightGBMSettings, seed: int) -> Any:
    """An unfitted :class:`mlforecast.MLForecast` with one LightGBM model."""
    import lightgbm as lgb
    from mlforecast import MLForecast
    from mlforecast.target_transforms import Differences

    if min(cadence.seasonal_lags) < cadence.horizon:
        raise ValueError(
            f"seasonal lags {cadence.seasonal_lags} must all be >= the horizon {cadence.horizon}"
        )
    return MLForecast(
        models={"LightGBM": lgb.LGBMRegressor(**lightgbm_params(settings, seed))},
        freq=cadence.freq,
        lags=list(cadence.lags),
        lag_transforms=lag_transforms(cadence),
        date_features=calendar_features(cadence),
        target_transforms=[Differences(list(cadence.differences))] if cadence.differences else None,
        num_threads=1,
    )


def history_needed(cadence: Cadence) -> int:
    """Steps of history behind the last known value that the features read: the longest
    lag or rolling window (over the horizon's lag), after the differences, plus a
    horizon's margin."""
    longest = max(max(cadence.lags), cadence.horizon + max(cadence.windows))
    return longest + sum(cadence.differences) + cadence.horizon
