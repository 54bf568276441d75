"""The Streamlit app, driven by streamlit.testing.v1.AppTest against a registered champion."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import housing

APP = Path(housing.__file__).with_name("app.py")


def fresh_app() -> AppTest:
    # the champion and estimates are cached per URI, and AppTest shares the process
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(APP), default_timeout=120)


def price(app: AppTest) -> float:
    return float(app.metric[0].value.replace("$", "").replace(",", ""))


@pytest.mark.usefixtures("champion")
def test_form_price_interval_and_drivers() -> None:
    app = fresh_app().run()
    assert not app.exception, app.exception
    assert app.metric[0].label == "Predicted price"
    typical = price(app)
    text = " ".join(m.value for m in app.markdown)
    assert "90% interval:" in text
    # the form starts as the typical house: nothing drives its price away from itself
    assert "this is the typical house" in text

    app.number_input(key="living_area").set_value(2600.0)
    app.slider(key="overall_quality").set_value(9)
    app.button[0].click().run()
    assert not app.exception, app.exception
    assert price(app) > typical
    drivers = " ".join(m.value for m in app.markdown)
    assert "Living area" in drivers
    assert "Overall quality" in drivers
    low, high = drivers.split("90% interval:** ")[1].split(" – ")[:2]
    assert (
        float(low.strip("$").replace(",", ""))
        < price(app)
        < float(high.split()[0].strip("$").replace(",", ""))
    )


@pytest.mark.usefixtures("isolated_tracking")
def test_without_a_champion_the_app_says_what_to_do() -> None:
    app = fresh_app().run()
    assert not app.exception
    assert "make housing" in app.error[0].value
