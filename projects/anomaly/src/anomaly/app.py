"""Streamlit dashboard: which readings of this sensor file are anomalous? (``make anomaly-app``)

Upload a CSV of sensor readings (or take the demo series), pick the time column and the
value columns, and every detector family runs on it causally (statistical, classical
unsupervised, reconstruction when torch is installed). The plot marks each flagged
reading coloured by how many families agree (all three / two / one) with every
detector's score on hover; a threshold control per detector (in the sidebar) starts at
the registered model's NAB-chosen threshold (``models:/anomaly@champion``, or the
published thresholds of ``reports/metrics.json``).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from anomaly.config import COMBINED, DISPLAY, FAMILIES
from anomaly.data import synthetic_series
from anomaly.train import AnomalyModel

AGREEMENT = {3: "all three families", 2: "two families", 1: "one family"}
COLOURS = {"all three families": "#d62728", "two families": "#ff7f0e", "one family": "#f2c744"}


@st.cache_resource(show_spinner="Loading the detectors' thresholds…")
def load() -> AnomalyModel:
    from anomaly.serve import load_model

    return load_model()


@st.cache_data(show_spinner="Running every detector (causally)…", max_entries=16)
def scores(
    digest: str, _values: np.ndarray, _model: AnomalyModel, probation: int
) -> dict[str, np.ndarray]:
    """Every detector's score per reading (cached by the file's digest and choices)."""
    return {n: d.score for n, d in _model.score_series(_values, probation).items()}


def demo_frame() -> pd.DataFrame:
    twin = synthetic_series(2000, seed=11, n_anomalies=3)
    frame = twin.frame.rename(columns={"value": "temperature"})
    frame["pressure"] = np.round(2 + frame["temperature"] / 30, 4)
    return frame


def read_upload(data: bytes) -> pd.DataFrame:
    try:
        frame = pd.read_csv(io.BytesIO(data))
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read the file as CSV: {exc}") from None
    if frame.empty:
        raise ValueError("the file has no rows")
    return frame


def prepare(
    frame: pd.DataFrame, time_col: str, value_cols: list[str]
) -> tuple[pd.Series, np.ndarray]:
    """The chosen columns as times and a numeric matrix, or a message naming the problem."""
    if not value_cols:
        raise ValueError("pick at least one value column")
    times = pd.to_datetime(frame[time_col], errors="coerce")
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0]) + 1
        raise ValueError(
            f"column {time_col!r}, row {row}: not a time: {frame[time_col].iloc[row - 1]!r}"
        )
    values = frame[value_cols].apply(pd.to_numeric, errors="coerce")
    for column in value_cols:
        text = frame[column].notna() & values[column].isna()
        if text.any():
            row = int(np.flatnonzero(text.to_numpy())[0]) + 1
            raise ValueError(
                f"column {column!r}, row {row}: not a number: {frame[column].iloc[row - 1]!r}"
            )
    if len(values) < 50:
        raise ValueError(f"{len(values)} rows: the detectors need at least 50")
    return times, values.ffill().bfill().to_numpy(dtype=float)


def agreement(flags: dict[str, np.ndarray]) -> np.ndarray:
    """How many families flag each reading (a family flags when any member does)."""
    groups = [
        np.any([flags[m] for m in members if m in flags], axis=0)
        for members in FAMILIES.values()
        if any(m in flags for m in members)
    ]
    return np.sum(groups, axis=0) if groups else np.zeros(0, dtype=int)


def chart(
    times: pd.Series,
    values: np.ndarray,
    column: str,
    detector_scores: dict[str, np.ndarray],
    agree: np.ndarray,
) -> alt.LayerChart:
    frame = pd.DataFrame({"time": times, column: values})
    for name, score in detector_scores.items():
        frame[DISPLAY.get(name, name)] = np.round(score, 3)
    frame["agreement"] = [AGREEMENT.get(int(a), "") for a in agree]
    line = (
        alt.Chart(frame)
        .mark_line(color="#1f77b4", strokeWidth=1)
        .encode(
            x=alt.X("time:T", title=None),
            y=alt.Y(f"{column}:Q", title=column, scale=alt.Scale(zero=False)),
        )
    )
    flagged = frame[frame["agreement"] != ""]
    tooltip = ["time:T", f"{column}:Q", "agreement:N"] + [
        f"{DISPLAY.get(n, n)}:Q" for n in detector_scores
    ]
    points = (
        alt.Chart(flagged)
        .mark_circle(size=70, opacity=0.9)
        .encode(
            x="time:T",
            y=f"{column}:Q",
            color=alt.Color(
                "agreement:N",
                scale=alt.Scale(domain=list(COLOURS), range=list(COLOURS.values())),
                title="flagged by",
            ),
            tooltip=tooltip,
        )
    )
    layered: alt.LayerChart = (line + points).properties(height=360).interactive()
    return layered


def main() -> None:
    st.set_page_config(page_title="Sensor anomalies", layout="wide")
    st.title("Which readings are anomalous?")
    st.caption(
        "Every detector reads only the past: it learns on the first rows (the probationary "
        "period), then scores each reading from what came before it."
    )
    model = load()
    upload = st.file_uploader("A CSV of sensor readings", type=["csv"])
    try:
        if upload is not None:
            raw = upload.getvalue()
            frame = read_upload(raw)
        else:
            frame = demo_frame()
            raw = frame.to_csv(index=False).encode()
            st.info("No file uploaded: showing a demo sensor with three injected anomalies.")
    except ValueError as exc:
        st.error(str(exc))
        st.stop()

    columns = list(frame.columns)
    numeric = [c for c in columns if pd.api.types.is_numeric_dtype(frame[c])]
    guess = next((c for c in columns if "time" in c.lower() or "date" in c.lower()), columns[0])
    left, middle, right = st.columns([1, 2, 1])
    time_col = left.selectbox("Time column", columns, index=columns.index(guess), key="time_col")
    value_cols = middle.multiselect(
        "Value columns",
        [c for c in columns if c != time_col],
        default=[c for c in numeric if c != time_col][:1],
        key="value_cols",
    )
    try:
        times, values = prepare(frame, time_col, list(value_cols))
    except ValueError as exc:
        st.error(str(exc))
        st.stop()
    probation = right.number_input(
        "Rows learnt first",
        min_value=10,
        max_value=len(values) - 1,
        value=int(model.probation(len(values))),
        key="probation",
    )
    digest = hashlib.sha256(raw + repr((time_col, list(value_cols))).encode()).hexdigest()
    detector_scores = scores(digest, values, model, int(probation))

    st.sidebar.header("Thresholds")
    st.sidebar.caption("Start at each detector's NAB-optimal threshold on realKnownCause.")
    thresholds = {}
    for name in detector_scores:
        default = float(min(1.0, (model.thresholds or {}).get(name, 0.5)))
        thresholds[name] = st.sidebar.slider(
            DISPLAY.get(name, name), 0.0, 1.0, default, 0.01, key=f"threshold_{name}"
        )
    flags = {n: detector_scores[n] >= thresholds[n] for n in detector_scores}
    agree = agreement({n: f for n, f in flags.items() if n not in COMBINED})

    counts = {label: int((agree == k).sum()) for k, label in AGREEMENT.items()}
    cols = st.columns(len(counts) + 1)
    for col, (label, count) in zip(cols, counts.items(), strict=False):
        col.metric(f"Flagged by {label}", count)
    families = sum(any(m in detector_scores for m in members) for members in FAMILIES.values())
    cols[-1].metric("Families run", families)
    if families < 3:
        st.caption("The reconstruction family (autoencoder) needs torch: `make anomaly-deep`.")

    shown = value_cols[0]
    if len(value_cols) > 1:
        shown = st.radio("Plot", list(value_cols), horizontal=True, key="plotted")
    st.altair_chart(
        chart(times, values[:, list(value_cols).index(shown)], shown, detector_scores, agree),
        use_container_width=True,
    )
    rows = np.flatnonzero(agree > 0)
    table: dict[str, Any] = {"time": times.iloc[rows].to_numpy(), "families": agree[rows]}
    for name, score in detector_scores.items():
        table[DISPLAY.get(name, name)] = np.round(score[rows], 3)
    st.subheader(f"{len(rows)} flagged readings")
    st.dataframe(pd.DataFrame(table), hide_index=True, use_container_width=True)


# `streamlit run` (and AppTest) execute this file as __main__; importing it does nothing
if __name__ == "__main__":
    main()
