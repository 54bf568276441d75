"""The backtest protocol: the issue's origins (mlforecast's cutoffs), the same origins for
every model, no leakage from after an origin, several series at once, and conformal
intervals equal to mlforecast's own rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from forecasting.backtest import (
    Backtest,
    _restricted,
    backtest,
    calendar,
    fit_tasks,
    make_forecaster,
)
from forecasting.config import HOURLY, ForecastConfig, LightGBMSettings
from forecasting.data import Series
from forecasting.features import make_mlforecast
from forecasting.intervals import corrected_level, half_widths
from forecasting.models import MODELS, LightGBMForecaster, SeasonalNaive

PROPHET = {"Prophet": (("changepoint_prior_scale", 0.05), ("seasonality_prior_scale", 10.0))}


def pjme_timeline() -> pd.DataFrame:
    hours = pd.date_range("2015-01-01 01:00", "2018-08-03 00:00", freq="h")
    return pd.DataFrame({"unique_id": "PJME", "ds": hours, "y": 1.0, "imputed": False})


def test_the_calendar_is_the_issues_and_mlforecasts() -> None:
    """52 weekly midnights 2017-08-10 … 2018-08-02 (the issue), which are the cutoffs of
    mlforecast's cross_validation(n_windows=52, h=24, step_size=168)."""
    from utilsforecast.processing import backtest_splits

    frame = pjme_timeline()
    cal = calendar(frame, HOURLY, ForecastConfig())
    expected = list(pd.date_range("2017-08-10", "2018-08-02", freq="7D"))
    assert list(cal.origins) == expected
    cutoffs = [
        pd.Timestamp(c["cutoff"].iloc[0])
        for c, _, _ in backtest_splits(
            frame[["unique_id", "ds", "y"]],
            n_windows=52,
            h=24,
            id_col="unique_id",
            time_col="ds",
            freq="h",
            step_size=168,
        )
    ]
    assert cutoffs == expected
    # 59 calibration days need nine weekly warm-up fits before the first origin
    assert cal.warmup[-1] == pd.Timestamp("2017-08-03")
    assert len(cal.warmup) == 9


def test_prophet_refit_every_fourth_origin_forecasts_the_same_windows() -> None:
    """With ``refit_every=4`` Prophet's fits fall on every fourth Thursday (counted from
    1970-01-01, a Thursday), the origins between are forecast by the last one, and every
    model forecasts the same day-ahead windows; a recomputation of one origin finds the
    same fit."""
    frame = pjme_timeline()
    cfg = ForecastConfig()
    cfg = dataclasses.replace(cfg, prophet=dataclasses.replace(cfg.prophet, refit_every=4))
    cal = calendar(frame, HOURLY, cfg)
    end = frame["ds"].max()
    prophet = make_forecaster("Prophet", HOURLY, cfg)
    tasks = fit_tasks(cal, HOURLY, end, [SeasonalNaive(HOURLY), prophet])
    naive = [t for t in tasks if t.model == "SeasonalNaive"]
    fits = [t for t in tasks if t.model == "Prophet"]
    assert len(naive) == 61
    # 2017-08-10 (the first origin) is week 2484 since the epoch, a multiple of four; the
    # first warm-up fit (2017-06-08) is forecast by the refit three weeks before it
    assert [t.cutoff for t in fits] == list(pd.date_range("2017-05-18", "2018-07-12", freq="28D"))
    assert sorted(w for t in fits for w in t.windows) == sorted(w for t in naive for w in t.windows)
    for task in fits:
        assert all(task.cutoff <= w < task.cutoff + pd.Timedelta(days=28) for w in task.windows)
    origin = pd.Timestamp("2017-08-31")
    again = fit_tasks(_restricted(cal, [origin], HOURLY, cfg), HOURLY, end, [prophet])
    assert [t.cutoff for t in again if origin in t.windows] == [pd.Timestamp("2017-08-10")]


@pytest.fixture(scope="module")
def small_backtest(series: Series, small_cfg: ForecastConfig) -> Backtest:
    return backtest(series.frame, series.cadence, small_cfg, params=PROPHET)


def test_every_model_is_scored_on_the_same_origins(
    small_backtest: Backtest, series: Series, small_cfg: ForecastConfig
) -> None:
    expected = set(calendar(series.frame, series.cadence, small_cfg).origins)
    forecasts = small_backtest.forecasts
    assert set(forecasts["cutoff"]) == expected
    for model in MODELS:
        columns = [model, f"{model}-lo-95", f"{model}-lo-80", f"{model}-hi-80", f"{model}-hi-95"]
        assert forecasts[columns].notna().all().all(), model
    assert forecasts.groupby("cutoff").size().eq(24).all()
    # the intervals nest and contain the point forecast
    for model in MODELS:
        assert (forecasts[f"{model}-lo-95"] <= forecasts[f"{model}-lo-80"]).all()
        assert (forecasts[f"{model}-lo-80"] <= forecasts[model]).all()
        assert (forecasts[model] <= forecasts[f"{model}-hi-80"]).all()
        assert (forecasts[f"{model}-hi-80"] <= forecasts[f"{model}-hi-95"]).all()


def test_changing_the_future_changes_no_forecast_made_at_the_origin(
    series: Series, small_cfg: ForecastConfig
) -> None:
    frame = series.frame
    origin = calendar(frame, series.cadence, small_cfg).origins[0]

    def at_origin(changed: pd.DataFrame) -> pd.DataFrame:
        result = backtest(changed, series.cadence, small_cfg, params=PROPHET, origins=[origin])
        return result.at(origin).drop(columns=["y", "imputed"]).reset_index(drop=True)

    before = at_origin(frame)
    future = frame.copy()
    after_origin = future["ds"] > origin
    noise = np.random.default_rng(0).normal(0, 2_000, int(after_origin.sum()))
    future.loc[after_origin, "y"] = future.loc[after_origin, "y"] * 1.7 + noise
    pd.testing.assert_frame_equal(at_origin(future), before)

    # ... while changing the last days before it changes every model's forecast
    past = frame.copy()
    recent = (past["ds"] > origin - pd.Timedelta(days=30)) & (past["ds"] <= origin)
    past.loc[recent, "y"] *= 1.3
    changed = at_origin(past)
    for model in MODELS:
        assert not np.allclose(changed[model], before[model]), model


def test_three_series_go_through_the_same_code(
    small_cfg: ForecastConfig, make_series: Callable[..., Series]
) -> None:
    several = make_series(n_series=3)
    result = backtest(several.frame, several.cadence, small_cfg, params=PROPHET)
    forecasts = result.forecasts
    assert sorted(forecasts["unique_id"].unique()) == ["zone_1", "zone_2", "zone_3"]
    assert forecasts.groupby(["unique_id", "cutoff"]).size().eq(24).all()
    assert forecasts[list(MODELS)].notna().all().all()


def test_intervals_are_calibrated_per_series(series: Series, small_cfg: ForecastConfig) -> None:
    """One series and the same series ten times larger, side by side: each gets its own
    calibration, so the seasonal naive's intervals (scale-equivariant) are exactly ten
    times wider on the larger one, not a pooled width shared by both."""
    one = series.frame.assign(unique_id="small")
    large = one.assign(unique_id="large", y=one["y"] * 10)
    both = pd.concat([one, large], ignore_index=True)
    result = backtest(both, series.cadence, small_cfg, models=["SeasonalNaive"])
    f = result.forecasts.set_index(["unique_id", "cutoff", "step"])
    width = f["SeasonalNaive-hi-80"] - f["SeasonalNaive-lo-80"]
    np.testing.assert_allclose(width.loc["large"], 10 * width.loc["small"], rtol=1e-12)


def test_seasonal_naive_is_the_same_hour_a_week_earlier() -> None:
    hours = pd.date_range("2018-01-01 01:00", periods=24 * 14, freq="h")
    history = pd.DataFrame({"unique_id": "a", "ds": hours, "y": np.arange(len(hours), dtype=float)})
    cutoff = hours[-1]
    out = SeasonalNaive(HOURLY).fit(history).forecast(history, [cutoff], 170)
    last = len(hours) - 1
    assert out["SeasonalNaive"].iloc[0] == last + 1 - 168  # step 1
    assert out["SeasonalNaive"].iloc[167] == last  # step 168: the cutoff itself
    assert out["SeasonalNaive"].iloc[168] == last + 1 - 168  # step 169: the season repeats


def test_lightgbm_forecasts_several_cutoffs_as_mlforecast_does_one(series: Series) -> None:
    settings = LightGBMSettings(train_days=120, n_estimators=30, num_leaves=7)
    frame = series.frame
    end = frame["ds"].max() - pd.Timedelta(days=3)
    history = frame.loc[frame["ds"] <= end]
    model = LightGBMForecaster(HOURLY, settings, seed=1).fit(history)
    cutoffs = [end - pd.Timedelta(days=2), end - pd.Timedelta(days=1), end]
    together = model.forecast(history, cutoffs, 24)
    for cutoff in cutoffs:
        alone = model.forecast(history, [cutoff], 24)
        np.testing.assert_array_equal(
            together.loc[together["cutoff"] == cutoff, "LightGBM"].to_numpy(),
            alone["LightGBM"].to_numpy(),
        )
    # at the end of the training data this is mlforecast's own predict
    native = model.mlf_.predict(24)
    np.testing.assert_allclose(
        together.loc[together["cutoff"] == end, "LightGBM"].to_numpy(),
        native["LightGBM"].to_numpy(),
        rtol=1e-12,
    )


def test_split_conformal_ranks_by_hand() -> None:
    scores = np.arange(1.0, 40.0)[:, None]  # 39 past absolute errors at one step
    assert half_widths(scores, 95)[0] == 38.0  # ⌈40 · 0.95⌉ = 38th smallest
    assert half_widths(scores, 80)[0] == 32.0  # ⌈40 · 0.80⌉ = 32nd
    with_unknown = np.vstack([scores, [[np.nan]]])  # an imputed actual is not a score
    assert half_widths(with_unknown, 95)[0] == 38.0
    assert corrected_level(95, 39) == pytest.approx(37 / 38)


def test_intervals_equal_mlforecasts_conformal_rule_at_the_corrected_level(series: Series) -> None:
    """Same scores (mlforecast's own cross-validation), same intervals: ours are
    mlforecast's ``conformal_error`` handed the finite-sample-corrected level."""
    from mlforecast.utils import PredictionIntervals

    settings = LightGBMSettings(train_days=120, n_estimators=30, num_leaves=7)
    frame = series.frame
    recent = frame.loc[
        frame["ds"] > frame["ds"].max() - pd.Timedelta(days=120), ["unique_id", "ds", "y"]
    ]
    n, h = 19, 24
    ours = make_mlforecast(HOURLY, settings, 1)
    cv = ours.cross_validation(recent, n_windows=n, h=h, refit=False)
    scores = (cv["LightGBM"] - cv["y"]).abs().to_numpy().reshape(n, h)
    theirs = make_mlforecast(HOURLY, settings, 1)
    theirs.fit(
        recent,
        static_features=[],
        prediction_intervals=PredictionIntervals(n_windows=n, h=h, method="conformal_error"),
    )
    for level in (80, 95):
        asked = corrected_level(level, n) * 100
        predicted = theirs.predict(h, level=[asked])
        hi = next(c for c in predicted.columns if c.startswith("LightGBM-hi-"))
        half = (predicted[hi] - predicted["LightGBM"]).to_numpy()
        np.testing.assert_allclose(half, half_widths(scores, level), rtol=1e-9)
        # and mlforecast at the nominal level is narrower: it undercovers
        plain = theirs.predict(h, level=[level])
        assert (plain[f"LightGBM-hi-{level}"] - plain["LightGBM"]).sum() < half.sum()


def test_too_short_a_series_is_a_clear_error(
    small_cfg: ForecastConfig, make_series: Callable[..., Series]
) -> None:
    from tenfold.errors import DataError

    short = make_series(start="2018-05-01 01:00")
    many = dataclasses.replace(small_cfg, n_origins=10)
    with pytest.raises(DataError, match="too short for 10 weekly origins"):
        calendar(short.frame, short.cadence, many)


def test_prophet_hands_its_stopping_tolerance_to_stan(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backtest's Prophet stops L-BFGS at the configured relative gradient (1e9
    epsilons, chosen on the validation year), not at CmdStan's default (1e7): five times
    fewer CPU-seconds per fit, so a change that dropped the argument would be silent but
    for the run's wall time."""
    from prophet import Prophet

    seen: list[dict[str, object]] = []

    def fake_fit(self: Prophet, df: pd.DataFrame, **kwargs: object) -> Prophet:
        seen.append(kwargs)
        return self

    monkeypatch.setattr(Prophet, "fit", fake_fit)
    hours = pd.date_range("2018-01-01 01:00", periods=24 * 30, freq="h")
    history = pd.DataFrame({"unique_id": "a", "ds": hours, "y": 1.0})
    make_forecaster("Prophet", HOURLY, ForecastConfig(), PROPHET["Prophet"]).fit(history)
    assert seen == [{"seed": 42, "tol_rel_grad": 1e9}]
