"""What a buyer knows about a house, turned into a full Ames record, and what drives its
price. Pure functions: the Streamlit app (``housing.app``) only draws them.

A buyer knows the neighbourhood, the living area, the number of storeys, the quality,
when it was built and remodelled, bedrooms, bathrooms, garage, basement, kitchen and lot.
Every other column takes its typical value in the training sales (median or most common
level), and the columns a form field implies follow it: no garage means no garage type,
finish or quality; a two-storey house splits its living area over two floors.

The drivers are exact Shapley values of the log predicted price over the form's fields,
relative to the typical house (every field at its typical value): each field's average
effect over all orders of changing the fields one by one. The model is the champion
stack itself, so they explain the price shown, not a proxy. Because the model predicts
log prices, the effects multiply: typical price × Π exp(effect) = predicted price.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields, replace
from math import factorial
from typing import Any, Literal

import numpy as np
import pandas as pd

from housing.features import AMENITIES, NOMINAL, NUMERIC, ORDINAL_LEVELS

Storeys = Literal["one", "two"]


@dataclass(frozen=True)
class BuyerForm:
    """The app's form: one field per thing a buyer knows."""

    neighbourhood: str
    living_area: float
    storeys: Storeys
    overall_quality: int
    year_built: int
    year_remodelled: int
    bedrooms: int
    full_bathrooms: int
    garage_cars: int
    basement_area: float
    kitchen_quality: str
    lot_area: float


LABELS = {
    "neighbourhood": "Neighbourhood",
    "living_area": "Living area (sq ft above ground)",
    "storeys": "Storeys",
    "overall_quality": "Overall quality (1-10)",
    "year_built": "Year built",
    "year_remodelled": "Year remodelled (= built if never)",
    "bedrooms": "Bedrooms",
    "full_bathrooms": "Full bathrooms",
    "garage_cars": "Garage (cars; 0 = none)",
    "basement_area": "Basement area (sq ft; 0 = none)",
    "kitchen_quality": "Kitchen quality",
    "lot_area": "Lot area (sq ft)",
}
KITCHEN_GRADES = {"Ex": "Excellent", "Gd": "Good", "TA": "Typical", "Fa": "Fair", "Po": "Poor"}
FORM_FIELDS = tuple(f.name for f in fields(BuyerForm))


def typical_house(X: pd.DataFrame) -> dict[str, Any]:
    """Typical value of every Ames column in the training sales: the median of a number
    (rounded like the column), the most common level of a text column. JSON-ready, so it
    travels with the model as metadata."""
    typical: dict[str, Any] = {}
    for col in NUMERIC:
        values = pd.to_numeric(X[col], errors="coerce").dropna()
        median = float(values.median())
        integral = bool((values % 1 == 0).all())
        typical[col] = round(median) if integral else round(median, 2)
    for col in (*NOMINAL, *ORDINAL_LEVELS):
        counts = X[col].dropna().astype(str).value_counts()
        # ties resolve alphabetically, so the typical house does not depend on row order
        typical[col] = min(counts[counts == counts.max()].index)
    return typical


def neighbourhoods(X: pd.DataFrame) -> list[str]:
    return sorted(X["Neighborhood"].dropna().astype(str).unique())


def typical_form(typical: Mapping[str, Any]) -> BuyerForm:
    """The form as the typical house fills it (the app's defaults, the drivers' baseline)."""
    return BuyerForm(
        neighbourhood=str(typical["Neighborhood"]),
        living_area=float(typical["GrLivArea"]),
        storeys="two" if str(typical["HouseStyle"]).startswith("2") else "one",
        overall_quality=int(typical["OverallQual"]),
        year_built=int(typical["YearBuilt"]),
        year_remodelled=max(int(typical["YearRemodAdd"]), int(typical["YearBuilt"])),
        bedrooms=int(typical["BedroomAbvGr"]),
        full_bathrooms=int(typical["FullBath"]),
        garage_cars=int(typical["GarageCars"]),
        basement_area=float(typical["TotalBsmtSF"]),
        kitchen_quality=str(typical["KitchenQual"]),
        lot_area=float(typical["LotArea"]),
    )


def form_from_query(defaults: BuyerForm, query: Mapping[str, str]) -> BuyerForm:
    """The form prefilled from a link (``?living_area=2400&neighbourhood=NridgHt``):
    values that do not parse as their field's type are ignored, not fatal."""
    changes: dict[str, Any] = {}
    for name in FORM_FIELDS:
        if name not in query:
            continue
        kind = type(getattr(defaults, name))
        try:
            value = kind(float(query[name])) if kind in (int, float) else str(query[name])
        except ValueError:
            continue
        if name == "storeys" and value not in ("one", "two"):
            continue
        changes[name] = value
    return replace(defaults, **changes)


def house_from_form(form: BuyerForm, typical: Mapping[str, Any]) -> dict[str, Any]:
    """A full Ames record: the form's values, what they imply, typical values elsewhere."""
    house = dict(typical)
    two = form.storeys == "two"
    first_floor = round(form.living_area * (0.52 if two else 1.0))
    house.update(
        Neighborhood=form.neighbourhood,
        GrLivArea=form.living_area,
        HouseStyle="2Story" if two else "1Story",
        MSSubClass=60 if two else 20,
        **{"1stFlrSF": first_floor, "2ndFlrSF": form.living_area - first_floor},
        LowQualFinSF=0,
        OverallQual=form.overall_quality,
        YearBuilt=form.year_built,
        YearRemodAdd=max(form.year_remodelled, form.year_built),
        BedroomAbvGr=form.bedrooms,
        # rooms above ground other than bedrooms (kitchen, living, dining...) stay typical
        TotRmsAbvGrd=form.bedrooms
        + max(int(typical["TotRmsAbvGrd"]) - int(typical["BedroomAbvGr"]), 1),
        FullBath=form.full_bathrooms,
        KitchenQual=form.kitchen_quality,
        LotArea=form.lot_area,
    )
    _garage(house, form, typical)
    _basement(house, form, typical)
    return house


def _garage(house: dict[str, Any], form: BuyerForm, typical: Mapping[str, Any]) -> None:
    garage = next(a for a in AMENITIES if a.name == "garage")
    if form.garage_cars == 0:
        house.update(dict.fromkeys(garage.text, "NA"), GarageCars=0, GarageArea=0, GarageYrBlt=None)
        return
    per_car = float(typical["GarageArea"]) / max(int(typical["GarageCars"]), 1)
    house.update(
        GarageCars=form.garage_cars,
        GarageArea=round(per_car * form.garage_cars),
        GarageYrBlt=form.year_built,
    )
    if house["GarageType"] == "NA":
        house["GarageType"] = "Attchd"


def _basement(house: dict[str, Any], form: BuyerForm, typical: Mapping[str, Any]) -> None:
    basement = next(a for a in AMENITIES if a.name == "basement")
    if form.basement_area <= 0:
        house.update(dict.fromkeys(basement.text, "NA"), **dict.fromkeys(basement.numeric, 0))
        return
    total = float(typical["TotalBsmtSF"]) or 1.0
    finished = min(float(typical["BsmtFinSF1"]) / total, 1.0) * form.basement_area
    house.update(
        TotalBsmtSF=form.basement_area,
        BsmtFinSF1=round(finished),
        BsmtFinSF2=0,
        BsmtUnfSF=round(form.basement_area - round(finished)),
    )


def houses_frame(houses: list[dict[str, Any]], columns: list[str]) -> pd.DataFrame:
    """Records as the model's input frame (its training columns, in order)."""
    frame = pd.DataFrame(houses)
    return frame.reindex(columns=columns)


# --------------------------------------------------------------------------- drivers


@dataclass(frozen=True)
class Driver:
    field: str
    label: str
    value: Any
    typical: Any
    # effect on log price; the price is multiplied by exp(effect)
    effect: float

    @property
    def percent(self) -> float:
        return float(np.expm1(self.effect) * 100)


@dataclass(frozen=True)
class Explained:
    price: float
    typical_price: float
    drivers: list[Driver]


def shapley_values(value: Callable[[np.ndarray], np.ndarray], k: int) -> tuple[np.ndarray, float]:
    """Exact Shapley values of a k-player game and v(∅).

    ``value`` maps a (2^k, k) 0/1 matrix of coalitions to their values in one call.
    φ_i = Σ_{S ∌ i} |S|! (k − |S| − 1)! / k! · (v(S ∪ {i}) − v(S)).
    """
    coalitions = np.arange(2**k)
    members = (coalitions[:, None] >> np.arange(k)) & 1
    v = np.asarray(value(members), dtype=float)
    size = members.sum(axis=1)
    weight = np.array(
        [factorial(s) * factorial(k - s - 1) / factorial(k) if s < k else 0.0 for s in size]
    )
    phi = np.empty(k)
    for i in range(k):
        without = members[:, i] == 0
        phi[i] = np.sum(
            weight[without] * (v[coalitions[without] | (1 << i)] - v[coalitions[without]])
        )
    return phi, float(v[0])


def explain(
    model: Any,
    form: BuyerForm,
    typical: Mapping[str, Any],
    columns: list[str],
) -> Explained:
    """Exact Shapley values of log(predicted price) over the form's fields, with the
    typical form as the baseline: one batch of 2^k houses through the model.

    Written out rather than taken from shap: shap's exact explainer computes the same
    numbers, but its import and first (numba-compiled) call cost ~20 s, which the app's
    first answer would wait for; the formula is the ten lines of :func:`shapley_values`.
    """
    baseline = typical_form(typical)
    chosen, base = asdict(form), asdict(baseline)

    def log_price(coalitions: np.ndarray) -> np.ndarray:
        houses = [
            house_from_form(
                replace(
                    baseline,
                    **{f: chosen[f] for f, on in zip(FORM_FIELDS, row, strict=True) if on},
                ),
                typical,
            )
            for row in coalitions
        ]
        prices = np.asarray(model.predict(houses_frame(houses, columns)), dtype=float)
        return np.asarray(np.log(prices))

    effects, typical_log_price = shapley_values(log_price, len(FORM_FIELDS))
    typical_price = float(np.exp(typical_log_price))
    price = float(typical_price * np.exp(effects.sum()))
    drivers = [
        Driver(f, LABELS[f], chosen[f], base[f], float(e))
        for f, e in zip(FORM_FIELDS, effects, strict=True)
    ]
    drivers.sort(key=lambda d: -abs(d.effect))
    return Explained(price, typical_price, drivers)
