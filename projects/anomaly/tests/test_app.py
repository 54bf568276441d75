"""The Streamlit dashboard, driven by streamlit.testing.v1.AppTest (demo series; the
published thresholds, no MLflow store needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

import anomaly
from anomaly.app import agreement, prepare

APP = Path(anomaly.__file__).with_name("app.py")


def fresh_app() -> AppTest:
    st.cache_resource.clear()
    st.cache_data.clear()
    return AppTest.from_file(str(APP), default_timeout=240)


def flagged(app: AppTest) -> dict[str, int]:
    return {m.label: int(m.value) for m in app.metric if m.label.startswith("Flagged by")}


@pytest.mark.usefixtures("isolated_tracking")
def test_demo_series_threshold_controls_and_agreement() -> None:
    app = fresh_app().run()
    assert not app.exception, app.exception
    assert app.selectbox(key="time_col").value == "timestamp"
    assert app.multiselect(key="value_cols").value == ["temperature"]
    sliders = {s.key for s in app.sidebar.slider}
    assert {"threshold_zscore", "threshold_iqr", "threshold_iforest", "threshold_lof"} <= sliders
    before = flagged(app)
    assert sum(before.values()) > 0
    # lowering every threshold flags more readings, with more agreement
    for key in ("threshold_zscore", "threshold_iqr", "threshold_iforest", "threshold_lof"):
        app.sidebar.slider(key=key).set_value(0.05)
    app.run()
    assert not app.exception, app.exception
    after = flagged(app)
    assert sum(after.values()) > sum(before.values())
    assert after["Flagged by two families"] >= before["Flagged by two families"]
    assert app.subheader[0].value == f"{sum(after.values())} flagged readings"
    assert len(app.dataframe) == 1


@pytest.mark.usefixtures("isolated_tracking")
def test_a_value_column_must_be_picked() -> None:
    app = fresh_app().run()
    app.multiselect(key="value_cols").set_value([]).run()
    assert "pick at least one value column" in app.error[0].value


def test_prepare_names_column_and_row() -> None:
    frame = pd.DataFrame(
        {"t": pd.date_range("2024", periods=60, freq="h").astype(str), "v": ["1"] * 60}
    )
    frame.loc[7, "v"] = "broken"
    with pytest.raises(ValueError, match=r"column 'v', row 8: not a number: 'broken'"):
        prepare(frame, "t", ["v"])
    frame.loc[7, "v"] = "2"
    frame.loc[3, "t"] = "yesterday"
    with pytest.raises(ValueError, match=r"column 't', row 4: not a time"):
        prepare(frame, "t", ["v"])


def test_agreement_counts_families_not_detectors() -> None:
    flags = {
        "zscore": np.array([1, 1, 0, 0], bool),
        "iqr": np.array([1, 0, 0, 0], bool),
        "lof": np.array([1, 0, 1, 0], bool),
        "autoencoder": np.array([1, 0, 0, 0], bool),
    }
    np.testing.assert_array_equal(agreement(flags), [3, 1, 1, 0])
