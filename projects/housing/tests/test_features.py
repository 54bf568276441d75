"""The Ames data-quality rules and the learned transformers, on frames of a few rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from housing.features import (
    AMES_COLUMNS,
    AmesFeatures,
    GroupMedianImputer,
    SkewedLog1p,
    ames_schema,
    clean,
    engineer,
    linear_preprocessor,
    tree_preprocessor,
)


def houses(**columns: list[object]) -> pd.DataFrame:
    """Three houses: typical values everywhere except the given columns."""
    base: dict[str, object] = dict.fromkeys(AMES_COLUMNS, "TA")
    numeric = {c: 0.0 for c in ames_schema().numeric if c in AMES_COLUMNS}
    base.update(numeric)
    base.update(
        YearBuilt=1990.0,
        YearRemodAdd=1990.0,
        YrSold=2008.0,
        GrLivArea=1500.0,
        Neighborhood="NAmes",
        MSSubClass=20,
        MasVnrType="None",
        Alley="NA",
    )
    frame = pd.DataFrame([base] * 3)
    for name, values in columns.items():
        frame[name] = pd.Series(values, dtype=object if isinstance(values[0], str) else None)
    return frame


def test_na_means_none_only_when_the_house_has_none() -> None:
    frame = houses(
        TotalBsmtSF=[0.0, 900.0, np.nan],
        BsmtQual=["NA", "Gd", "NA"],
        BsmtExposure=["NA", "NA", "NA"],
        GarageArea=[0.0, 400.0, 400.0],
        GarageType=["NA", "Attchd", "Attchd"],
        GarageQual=["NA", "NA", "TA"],
    )
    out = clean(frame)
    # no basement (0 sq ft) → "None"; a basement with an unrecorded exposure → missing
    assert out["BsmtQual"].tolist()[0] == "None"
    assert out["BsmtExposure"].tolist()[0] == "None"
    assert pd.isna(out.loc[1, "BsmtExposure"])
    assert out.loc[1, "BsmtQual"] == "Gd"
    # size unknown: the first text column's "NA" decides (no basement)
    assert out.loc[2, "BsmtExposure"] == "None"
    assert out.loc[2, "TotalBsmtSF"] == 0.0
    assert out.loc[0, "GarageQual"] == "None"
    assert pd.isna(out.loc[1, "GarageQual"])


def test_na_is_missing_in_other_text_columns_and_none_for_alley() -> None:
    out = clean(houses(MasVnrType=["NA", "BrkFace", "None"], Alley=["NA", "Grvl", "NA"]))
    assert pd.isna(out.loc[0, "MasVnrType"])
    assert out["Alley"].tolist() == ["None", "Grvl", "None"]


def test_numbers_that_absence_implies_and_impossible_years() -> None:
    frame = houses(
        GarageArea=[0.0, 300.0, 300.0],
        GarageType=["NA", "Detchd", "Detchd"],
        GarageYrBlt=[np.nan, 2207.0, 1975.0],
        YearRemodAdd=[1990.0, 1980.0, 2000.0],
        MasVnrType=["None", "None", "BrkFace"],
        MasVnrArea=[np.nan, 0.0, np.nan],
        SaleType=["WD ", "New", "COD"],
    )
    out = clean(frame)
    # no garage: its year is the house's; a garage "built" in 2207 is a typo → house's year
    assert out["GarageYrBlt"].tolist() == [1990.0, 1990.0, 1975.0]
    # a remodel before construction is impossible: it becomes the construction year
    assert out["YearRemodAdd"].tolist() == [1990.0, 1990.0, 2000.0]
    # no veneer → 0 sq ft; a veneer of unknown area stays missing for the imputer
    assert out.loc[0, "MasVnrArea"] == 0.0
    assert pd.isna(out.loc[2, "MasVnrArea"])
    assert out["SaleType"].tolist() == ["WD", "New", "COD"]
    assert out.loc[0, "MSSubClass"] == "20"


def test_area_sums_fill_what_they_determine() -> None:
    frame = houses(
        GrLivArea=[1600.0, 1500.0, 1200.0],
        HouseStyle=["2Story", "1Story", "1.5Fin"],
        **{"1stFlrSF": [np.nan, np.nan, 800.0], "2ndFlrSF": [np.nan, np.nan, np.nan]},
        LowQualFinSF=[np.nan, np.nan, 0.0],
        TotalBsmtSF=[np.nan, 1000.0, 900.0],
        BsmtFinSF1=[400.0, 600.0, np.nan],
        BsmtFinSF2=[0.0, 0.0, np.nan],
        BsmtUnfSF=[300.0, np.nan, 100.0],
        BsmtQual=["Gd", "Gd", "Gd"],
    )
    out = clean(frame)
    # only the living area known: split by style (half upstairs in a two-storey house)
    assert out["1stFlrSF"].tolist() == [800.0, 1500.0, 800.0]
    assert out["2ndFlrSF"].tolist() == [800.0, 0.0, 400.0]
    # a missing total is the sum of its parts; a single missing part is the rest
    assert out.loc[0, "TotalBsmtSF"] == 700.0
    assert out.loc[1, "BsmtUnfSF"] == 400.0
    # two unknown parts: left to the imputer, not guessed
    assert pd.isna(out.loc[2, "BsmtFinSF1"])


def test_engineered_columns() -> None:
    frame = clean(
        houses(
            TotalBsmtSF=[800.0, 0.0, 1000.0],
            GrLivArea=[1200.0, 1500.0, 2000.0],
            FullBath=[2.0, 1.0, 2.0],
            HalfBath=[1.0, 0.0, 0.0],
            BsmtFullBath=[1.0, 0.0, 0.0],
            YearBuilt=[2000.0, 2009.0, 1950.0],
            YrSold=[2008.0, 2008.0, 2008.0],
        )
    )
    out = engineer(frame)
    assert out["total_sf"].tolist() == [2000.0, 1500.0, 3000.0]
    assert out["total_bathrooms"].tolist() == [3.5, 1.0, 2.0]
    # sold before it was finished: age 0, not -1
    assert out["house_age"].tolist() == [8.0, 0.0, 58.0]
    assert out["has_basement"].tolist() == [1.0, 0.0, 1.0]


def test_ames_features_is_a_stateless_estimator() -> None:
    frame = houses()
    step = AmesFeatures()
    assert step.fit(frame) is step
    assert clone(step).get_params() == {}
    with pytest.raises(ValueError, match="GrLivArea"):
        AmesFeatures().fit(frame.drop(columns=["GrLivArea"]))


def test_group_median_imputer_learns_on_training_rows_only() -> None:
    train = pd.DataFrame(
        {
            "Neighborhood": ["A", "A", "A", "B", "B"],
            "LotFrontage": [50.0, 60.0, np.nan, 90.0, 100.0],
        }
    )
    imputer = GroupMedianImputer().fit(train)
    assert imputer.medians_ == {"A": 55.0, "B": 95.0}
    new = pd.DataFrame({"Neighborhood": ["A", "B", "Z"], "LotFrontage": [np.nan, np.nan, np.nan]})
    # an unseen neighbourhood gets the overall training median (75 of 50, 60, 90, 100)
    assert imputer.transform(new)["LotFrontage"].tolist() == [55.0, 95.0, 75.0]


def test_skewed_log1p_picks_the_skewed_non_negative_columns() -> None:
    skewed = [1.0, 1.0, 1.0, 2.0, 1000.0]
    X = np.column_stack([skewed, [1.0, 2.0, 3.0, 4.0, 5.0], [-1000.0, 1.0, 1.0, 1.0, 2000.0]])
    step = SkewedLog1p().fit(X)
    assert step.columns_.tolist() == [0]
    out = step.transform(X)
    assert out[4, 0] == pytest.approx(np.log(1001.0))
    assert out[:, 1].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]


def test_preprocessors_handle_unseen_levels_and_missing_values(prepared) -> None:  # type: ignore[no-untyped-def]
    X = prepared.X
    row = X.head(1).copy()
    row["Neighborhood"] = "Atlantis"
    row["KitchenQual"] = "Superb"
    row["LotFrontage"] = np.nan
    row["GarageCars"] = np.nan
    features = AmesFeatures().fit(X)
    for preprocessor in (
        linear_preprocessor(ames_schema(), polynomial=True),
        tree_preprocessor(ames_schema()),
    ):
        fitted = preprocessor.fit(features.transform(X))
        encoded = fitted.transform(features.transform(row))
        assert np.isfinite(encoded).all()
