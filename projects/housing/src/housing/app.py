"""Streamlit app: what is this house worth? (``make housing-app``)

A form with what a buyer knows; every other characteristic takes its typical value in
the training sales. The app shows the champion's price, its 90 % conformal interval and
the drivers of that price (exact Shapley values over the form's fields, relative to the
typical house: see :mod:`housing.buyer`). The champion is read from the MLflow registry
(``models:/housing@champion``, or ``TENFOLD_MODEL_URI``); run ``make housing`` first.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import numpy as np
import streamlit as st
from matplotlib.figure import Figure

from housing.buyer import (
    KITCHEN_GRADES,
    LABELS,
    BuyerForm,
    Explained,
    explain,
    form_from_query,
    house_from_form,
    houses_frame,
    typical_form,
)
from tenfold.serving import ServiceSettings

DEFAULT_URI = "models:/housing@champion"


@st.cache_resource(show_spinner="Loading the champion model…")
def load_champion(uri: str) -> Any:
    from tenfold import tracking

    return tracking.load_sklearn_model(uri)


@st.cache_data(show_spinner="Pricing the house…", max_entries=256)
def estimate(_record: Any, uri: str, form: BuyerForm) -> tuple[float, float, float, Explained]:
    """Price, interval and drivers of one house (cached: the same form in the same
    model is answered at once; ``uri`` keys the cache, the record itself is not hashed)."""
    typical = _record.metadata["typical_house"]
    columns = [str(c) for c in _record.model.feature_names_in_]
    house = houses_frame([house_from_form(form, typical)], columns)
    point, lower, upper = (float(np.asarray(v)[0]) for v in _record.model.predict_interval(house))
    return point, lower, upper, explain(_record.model, form, typical, columns)


def form_inputs(defaults: BuyerForm, neighbourhoods: list[str], max_area: float) -> BuyerForm:
    """The form's widgets, keyed by the BuyerForm field they fill."""
    left, right = st.columns(2)
    with left:
        neighbourhood = st.selectbox(
            LABELS["neighbourhood"],
            neighbourhoods,
            index=neighbourhoods.index(defaults.neighbourhood),
            key="neighbourhood",
        )
        living_area = st.number_input(
            LABELS["living_area"],
            min_value=300.0,
            max_value=float(max_area),
            value=float(defaults.living_area),
            step=50.0,
            key="living_area",
        )
        storeys = st.radio(
            "Storeys",
            ["one", "two"],
            index=["one", "two"].index(defaults.storeys),
            horizontal=True,
            key="storeys",
        )
        overall_quality = st.slider(
            LABELS["overall_quality"], 1, 10, defaults.overall_quality, key="overall_quality"
        )
        year_built = st.number_input(
            LABELS["year_built"], 1870, 2010, defaults.year_built, key="year_built"
        )
        year_remodelled = st.number_input(
            LABELS["year_remodelled"], 1870, 2010, defaults.year_remodelled, key="year_remodelled"
        )
    with right:
        bedrooms = st.slider(LABELS["bedrooms"], 0, 8, defaults.bedrooms, key="bedrooms")
        full_bathrooms = st.slider(
            LABELS["full_bathrooms"], 0, 4, defaults.full_bathrooms, key="full_bathrooms"
        )
        garage_cars = st.slider(
            LABELS["garage_cars"], 0, 4, defaults.garage_cars, key="garage_cars"
        )
        basement_area = st.number_input(
            LABELS["basement_area"],
            min_value=0.0,
            max_value=4000.0,
            value=float(defaults.basement_area),
            step=50.0,
            key="basement_area",
        )
        grades = list(KITCHEN_GRADES)
        kitchen_quality = st.selectbox(
            LABELS["kitchen_quality"],
            grades,
            index=grades.index(defaults.kitchen_quality),
            format_func=lambda g: KITCHEN_GRADES[g],
            key="kitchen_quality",
        )
        lot_area = st.number_input(
            LABELS["lot_area"],
            min_value=1000.0,
            max_value=250_000.0,
            value=float(defaults.lot_area),
            step=500.0,
            key="lot_area",
        )
    return BuyerForm(
        neighbourhood=str(neighbourhood),
        living_area=float(living_area),
        storeys="two" if storeys == "two" else "one",
        overall_quality=int(overall_quality),
        year_built=int(year_built),
        year_remodelled=int(year_remodelled),
        bedrooms=int(bedrooms),
        full_bathrooms=int(full_bathrooms),
        garage_cars=int(garage_cars),
        basement_area=float(basement_area),
        kitchen_quality=str(kitchen_quality),
        lot_area=float(lot_area),
    )


def drivers_figure(explained: Explained, top: int = 8) -> Figure:
    drivers = [d for d in explained.drivers if abs(d.effect) > 1e-4][:top][::-1]
    fig = Figure(figsize=(6.5, 0.42 * max(len(drivers), 1) + 1.3), layout="constrained")
    ax = fig.subplots()
    labels = [f"{d.label.split(' (')[0]} = {_shown(d.value)}" for d in drivers]
    values = [d.percent for d in drivers]
    ax.barh(labels, values, color=["tab:green" if v > 0 else "tab:red" for v in values])
    ax.axvline(0, color="grey", linewidth=1)
    ax.set(
        xlabel="effect on the price vs the typical house (%)",
        title=f"Typical house: ${explained.typical_price:,.0f}",
    )
    return fig


def _shown(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():
        return f"{value:,.0f}"
    return str(value)


def main() -> None:
    st.set_page_config(page_title="Ames house price", layout="wide")
    st.title("What is this house worth?")
    st.caption(
        "Ames, Iowa, sales of 2006-2010. A stack of ridge, random forest and LightGBM; "
        "90 % conformal prediction interval (CV+)."
    )
    uri = ServiceSettings().model_uri or DEFAULT_URI
    try:
        record = load_champion(uri)
    except Exception as exc:  # any loading failure means the same to a user
        st.error(f"No model at {uri}: run `make housing` first ({type(exc).__name__}).")
        st.stop()
    meta = record.metadata
    if "typical_house" not in meta:
        st.error(f"{uri} is not a housing champion with a buyer form (trained on a custom CSV?).")
        st.stop()
    typical = meta["typical_house"]
    level = float(meta["confidence_level"])

    form_column, result_column = st.columns([3, 2], gap="large")
    with form_column, st.form("house"):
        st.subheader("The house")
        defaults = form_from_query(typical_form(typical), st.query_params.to_dict())
        form = form_inputs(defaults, list(meta["neighbourhoods"]), meta["max_living_area"])
        st.form_submit_button("Estimate the price", type="primary")
        st.caption("Everything else (lot shape, roof, heating, porches, …) is typical for Ames.")

    price, lower, upper, explained = estimate(record, uri, form)
    with result_column:
        st.subheader("Estimate")
        st.metric("Predicted price", f"${price:,.0f}")
        st.markdown(f"**{level:.0%} interval:** ${lower:,.0f} – ${upper:,.0f}")
        st.markdown("**Main drivers** (vs the typical Ames house):")
        moved = [d for d in explained.drivers if abs(d.effect) > 1e-4]
        if not moved:
            st.markdown(
                "- none: this is the typical house; change the form to see what moves the price"
            )
        for driver in moved[:5]:
            sign = "+" if driver.percent >= 0 else "−"
            st.markdown(
                f"- {driver.label}: {_shown(driver.value)} (typical {_shown(driver.typical)}) "
                f"→ {sign}{abs(driver.percent):.1f} %"
            )
        st.pyplot(drivers_figure(explained), clear_figure=False)
        st.caption(
            f"Model {record.name} v{record.version}. Drivers: exact Shapley values of the "
            f"log price over the {len(fields(BuyerForm))} form fields."
        )


# `streamlit run` (and AppTest) execute this file as __main__; importing it does nothing
if __name__ == "__main__":
    main()
