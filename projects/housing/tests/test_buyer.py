"""The buyer's form: the house it describes, and the exact Shapley drivers."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from housing.buyer import (
    FORM_FIELDS,
    explain,
    form_from_query,
    house_from_form,
    houses_frame,
    shapley_values,
    typical_form,
    typical_house,
)
from housing.features import NOMINAL, NUMERIC, ORDINAL_LEVELS
from housing.train import Prepared


@pytest.fixture
def typical(prepared: Prepared) -> dict[str, Any]:
    return typical_house(prepared.X)


def test_typical_house_is_json_ready_and_typical() -> None:
    numbers = {key: [1.0, 2.0, 4.0] for key in NUMERIC}
    levels = {key: ["b", "a", "b"] for key in (*NOMINAL, *ORDINAL_LEVELS)}
    typical = typical_house(pd.DataFrame({**numbers, **levels}))
    assert typical["GrLivArea"] == 2
    assert isinstance(typical["GrLivArea"], int)
    assert typical["Neighborhood"] == "b"


def test_the_form_describes_a_consistent_house(typical: dict[str, Any]) -> None:
    form = replace(
        typical_form(typical), living_area=2000.0, storeys="two", garage_cars=0, basement_area=0.0
    )
    house = house_from_form(form, typical)
    assert house["1stFlrSF"] + house["2ndFlrSF"] == 2000.0
    assert house["HouseStyle"] == "2Story"
    assert house["GarageArea"] == 0
    assert house["GarageType"] == "NA"
    assert house["GarageQual"] == "NA"
    assert house["TotalBsmtSF"] == 0
    assert house["BsmtQual"] == "NA"
    assert house["BsmtFinSF1"] == 0
    bigger = house_from_form(replace(form, garage_cars=3, basement_area=1200.0), typical)
    assert bigger["GarageArea"] > 0
    assert bigger["GarageType"] != "NA"
    assert bigger["BsmtFinSF1"] + bigger["BsmtUnfSF"] == 1200.0


def test_form_from_a_link_ignores_what_does_not_parse(typical: dict[str, Any]) -> None:
    defaults = typical_form(typical)
    query = {"living_area": "2400", "garage_cars": "three", "storeys": "two", "bedrooms": "4"}
    form = form_from_query(defaults, query)
    assert form.living_area == 2400.0
    assert form.garage_cars == defaults.garage_cars
    assert form.storeys == "two"
    assert form.bedrooms == 4
    assert form_from_query(defaults, {"storeys": "seven"}).storeys == defaults.storeys


def test_shapley_values_of_known_games() -> None:
    # additive game: each player's value is its own term
    phi, empty = shapley_values(lambda c: c @ np.array([1.0, 2.0, 3.0]) + 10, 3)
    np.testing.assert_allclose(phi, [1.0, 2.0, 3.0])
    assert empty == 10.0
    # pure interaction of players 0 and 1: split equally, player 2 gets nothing
    phi, _ = shapley_values(lambda c: 6.0 * c[:, 0] * c[:, 1], 3)
    np.testing.assert_allclose(phi, [3.0, 3.0, 0.0])


class LivingAreaModel:
    """log price = 11 + 0.0005 × living area + 0.1 × quality: the true drivers are known."""

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return np.exp(
            11 + 0.0005 * X["GrLivArea"].astype(float) + 0.1 * X["OverallQual"].astype(float)
        )


def test_drivers_explain_the_price_exactly(typical: dict[str, Any], prepared: Prepared) -> None:
    form = replace(
        typical_form(typical), living_area=typical["GrLivArea"] + 1000.0, overall_quality=9
    )
    explained = explain(LivingAreaModel(), form, typical, list(prepared.X.columns))
    effects = {d.field: d.effect for d in explained.drivers}
    assert effects["living_area"] == pytest.approx(0.5)
    assert effects["overall_quality"] == pytest.approx(0.1 * (9 - typical["OverallQual"]))
    assert all(
        abs(effects[f]) < 1e-12 for f in FORM_FIELDS if f not in ("living_area", "overall_quality")
    )
    house = houses_frame([house_from_form(form, typical)], list(prepared.X.columns))
    assert explained.price == pytest.approx(float(LivingAreaModel().predict(house)[0]))
