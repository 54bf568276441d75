"""The Streamlit app, driven by streamlit.testing.v1.AppTest against a registered champion
(a small run in a private MLflow store)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import forecasting

APP = Path(forecasting.__file__).with_name("app.py")


def fresh_app() -> AppTest:
    # the champion and the backtest are cached per URI / run, and AppTest shares the process
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(APP), default_timeout=180)


def test_backtest_and_forecast_sections(champion_store: dict[str, Any]) -> None:
    app = fresh_app().run()
    assert not app.exception, app.exception
    assert app.title[0].value == "Hourly load: backtest and forecast"
    headers = [h.value for h in app.subheader]
    assert headers[0] == "Backtest: actual vs each model"
    assert headers[1].startswith("Forecast: the next days")
    metrics = app.dataframe[0].value
    assert list(metrics["model"].str.split(" ").str[0]) == ["Seasonal", "Prophet", "LightGBM"]
    assert set(app.multiselect(key="models").value) == {"SeasonalNaive", "Prophet", "LightGBM"}


def test_the_date_ranges_drive_both_charts(champion_store: dict[str, Any]) -> None:
    app = fresh_app().run()
    evaluation = champion_store["evaluation"]
    origins = pd.to_datetime([evaluation.metrics["protocol"]["first_origin"]])
    day = origins[0].date()
    # one scored day only, and one model
    app.date_input(key="backtest_range").set_value((day, day)).run()
    app.multiselect(key="models").set_value(["LightGBM"]).run()
    assert not app.exception, app.exception
    table = app.dataframe[0].value
    assert list(table["model"]) == ["LightGBM (mlforecast, recursive)"]
    assert "1 of the days shown are scored backtest origins" in app.caption[-2].value

    horizon = app.date_input(key="horizon")
    first = horizon.value[0]
    horizon.set_value((first, first + dt.timedelta(days=4))).run()
    assert not app.exception, app.exception
    assert "120 hours from" in app.caption[-1].value


@pytest.mark.usefixtures("isolated_tracking")
def test_without_a_champion_the_app_says_what_to_do(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TENFOLD_MODEL_URI", raising=False)
    app = fresh_app().run()
    assert not app.exception
    assert "make forecasting" in app.error[0].value
