"""Streamlit app: the backtest and a fresh forecast (``make forecasting-app``).

Two parts, each driven by a date-range selector:

- **Backtest**: actual load against every model's day-ahead forecasts and intervals over
  any stretch of the backtest year (every day, forecast by the model refit at the latest
  weekly origin before it; the 52 Thursdays are the scored origins), with the MAPE and
  coverage of that stretch;
- **Forecast**: the champion's forecast of the next 1-7 days from the end of the data,
  with its conformal intervals.

The champion comes from the MLflow registry (``models:/forecasting@champion``, or
``TENFOLD_MODEL_URI``) and the backtest from the run that produced it; run
``make forecasting`` first.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from matplotlib.figure import Figure

from forecasting.evaluate import COLOURS
from forecasting.models import DISPLAY_NAMES, MODELS
from tenfold.serving import ServiceSettings

DEFAULT_URI = "models:/forecasting@champion"


@st.cache_resource(show_spinner="Loading the champion model…")
def load_service(uri: str) -> Any:
    from forecasting.serve import load

    return load(uri)


@st.cache_data(show_spinner="Reading the backtest from MLflow…")
def load_backtest(run_id: str, metadata_json: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Every model's track record from the training the champion came from (its
    candidates' runs), with the scored origins its metadata names."""
    from forecasting.train import read_track_record

    metadata = json.loads(metadata_json)
    track, cal = read_track_record(run_id, metadata)
    meta = {
        "models": [m for m in MODELS if m in track.columns],
        "levels": metadata["levels"],
        "origins": [str(o) for o in cal.origins],
    }
    return track, meta


def backtest_figure(window: pd.DataFrame, models: list[str], level: int, title: str) -> Figure:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.subplots()
    for model in models:
        colour = COLOURS.get(model, "tab:blue")
        ax.fill_between(
            window["ds"],
            window[f"{model}-lo-{level}"],
            window[f"{model}-hi-{level}"],
            color=colour,
            alpha=0.18,
            linewidth=0,
        )
        ax.plot(
            window["ds"],
            window[model],
            color=colour,
            linewidth=1.2,
            label=f"{model} (with {level} % interval)",
        )
    ax.plot(window["ds"], window["y"], color="black", linewidth=1.0, label="actual")
    ax.set(ylabel="load", title=title)
    ax.legend(fontsize=8, loc="upper left")
    return fig


def forecast_figure(history: pd.DataFrame, table: pd.DataFrame, levels: tuple[int, ...]) -> Figure:
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax = fig.subplots()
    ax.plot(history["ds"], history["y"], color="black", linewidth=1.0, label="actual (last week)")
    for level, alpha in zip(sorted(levels, reverse=True), (0.15, 0.3), strict=False):
        ax.fill_between(
            table["ds"],
            table[f"lo-{level}"],
            table[f"hi-{level}"],
            color="tab:blue",
            alpha=alpha,
            linewidth=0,
            label=f"{level} % interval",
        )
    ax.plot(table["ds"], table["yhat"], color="tab:blue", linewidth=1.4, label="forecast")
    ax.set(ylabel="load", title="Forecast from the end of the data")
    ax.legend(fontsize=8, loc="upper left")
    return fig


def range_metrics(window: pd.DataFrame, models: list[str], levels: list[int]) -> pd.DataFrame:
    scored = window.loc[~window["imputed"].astype(bool)]
    rows = []
    for model in models:
        ape = (scored[model] - scored["y"]).abs() / scored["y"] * 100
        row = {"model": DISPLAY_NAMES.get(model, model), "MAPE %": round(float(ape.mean()), 2)}
        for level in levels:
            inside = scored["y"].between(
                scored[f"{model}-lo-{level}"], scored[f"{model}-hi-{level}"]
            )
            row[f"{level} % coverage"] = round(float(inside.mean() * 100), 1)
        rows.append(row)
    return pd.DataFrame(rows)


def as_range(value: Any, fallback: tuple[dt.date, dt.date]) -> tuple[dt.date, dt.date]:
    """A date_input range, while the user has picked only its first day."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return value[0], value[1]
    if isinstance(value, tuple | list) and len(value) == 1:
        return value[0], value[0]
    if isinstance(value, dt.date):
        return value, value
    return fallback


def backtest_section(track: pd.DataFrame, meta: dict[str, Any], uid: str) -> None:
    st.subheader("Backtest: actual vs each model")
    models = [m for m in meta["models"] if m in track.columns]
    levels = [int(lv) for lv in meta["levels"]]
    origins = pd.to_datetime(meta["origins"])
    first_day = origins.min().date()
    last_day = (origins.max() + pd.Timedelta(days=1)).date()
    default = (max(first_day, last_day - dt.timedelta(days=13)), last_day)
    left, middle, right = st.columns([2, 2, 1])
    with left:
        picked = st.date_input(
            "Backtest period",
            value=default,
            min_value=first_day,
            max_value=last_day,
            key="backtest_range",
        )
    with middle:
        shown = st.multiselect("Models", models, default=models, key="models")
    with right:
        level = st.radio(
            "Interval",
            levels,
            index=0,
            horizontal=True,
            key="level",
            format_func=lambda lv: f"{lv} %",
        )
    start, end = as_range(picked, default)
    rows = track.loc[
        (track["unique_id"] == uid)
        & (track["cutoff"] >= origins.min())
        & (track["ds"] > pd.Timestamp(start))
        & (track["ds"] <= pd.Timestamp(end) + pd.Timedelta(days=1))
    ].sort_values("ds")
    if rows.empty or not shown:
        st.info("Pick a period inside the backtest and at least one model.")
        return
    st.pyplot(
        backtest_figure(rows, shown, int(level), f"{uid}: day-ahead forecasts {start} … {end}"),
        clear_figure=False,
    )
    st.dataframe(range_metrics(rows, shown, levels), hide_index=True)
    scored = int(rows["cutoff"].isin(origins).sum() // 24)
    st.caption(
        f"Every day is forecast from midnight with data up to then, by the model refit at the "
        f"latest weekly origin before it; {scored} of the days shown are scored backtest origins."
    )


def forecast_section(service: Any, uid: str) -> None:
    champion = service.champion
    st.subheader(f"Forecast: the next days ({champion.name}, the champion)")
    end = champion.end
    first = (end + pd.Timedelta(champion.cadence.step)).date()
    default = (first, first + dt.timedelta(days=1))
    picked = st.date_input(
        "Forecast horizon (up to 7 days after the data)",
        value=default,
        min_value=first,
        max_value=first + dt.timedelta(days=6),
        key="horizon",
    )
    start, stop = as_range(picked, default)
    days = (stop - first).days + 1
    forecast = service.forecast(hours=24 * days, series=uid)
    table = pd.DataFrame(
        [
            {
                "ds": p.ds,
                "yhat": p.yhat,
                **{
                    f"{side}-{i.level}": getattr(i, "lower" if side == "lo" else "upper")
                    for i in p.intervals
                    for side in ("lo", "hi")
                },
            }
            for p in forecast.points
        ]
    )
    table = table.loc[table["ds"] > pd.Timestamp(start)]
    history = champion.history
    recent = history.loc[
        (history["unique_id"] == uid) & (history["ds"] > end - pd.Timedelta(days=7))
    ]
    st.pyplot(forecast_figure(recent, table, champion.levels), clear_figure=False)
    peak = table.iloc[int(np.argmax(table["yhat"].to_numpy()))]
    st.metric("Peak forecast", f"{peak['yhat']:,.0f}", help=f"at {peak['ds']:%Y-%m-%d %H:%M}")
    st.caption(
        f"{len(table)} hours from {table['ds'].min():%Y-%m-%d %H:%M}; "
        f"data ends {end:%Y-%m-%d %H:%M}. "
        "LightGBM feeds its own forecasts back as its last-hours lags (and, beyond the first "
        "day, as its daily lags); the intervals are calibrated for each step on the "
        f"{champion.scores[uid].shape[0]} days before the end."
    )
    st.download_button("Download CSV", table.to_csv(index=False), file_name="forecast.csv")


def main() -> None:
    st.set_page_config(page_title="Hourly load forecast", layout="wide")
    st.title("Hourly load: backtest and forecast")
    uri = ServiceSettings().model_uri or DEFAULT_URI
    try:
        service = load_service(uri)
    except Exception as exc:  # any loading failure means the same to a user
        st.error(f"No model at {uri}: run `make forecasting` first ({type(exc).__name__}).")
        st.stop()
    champion = service.champion
    run_id = service.card.run_id
    st.caption(
        f"{', '.join(champion.ids[:5])}: {champion.cadence.name} data to "
        f"{champion.end:%Y-%m-%d %H:%M}. "
        f"Champion {champion.name} v{service.card.version} (backtest MAPE "
        f"{float(service.card.details.get('backtest_mape') or np.nan):.2f} %)."
    )
    uid = champion.ids[0]
    if len(champion.ids) > 1:
        uid = st.selectbox("Series", champion.ids, key="series")
    try:
        track, meta = load_backtest(str(run_id), json.dumps(service.metadata, default=str))
    except Exception as exc:  # the backtest lives in the training run's artifacts
        st.warning(f"The backtest of run {run_id} could not be read ({type(exc).__name__}).")
    else:
        backtest_section(track, meta, uid)
    forecast_section(service, uid)


# `streamlit run` (and AppTest) execute this file as __main__; importing it does nothing
if __name__ == "__main__":
    main()
