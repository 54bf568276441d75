"""Ames features: the data-quality rules, engineered columns and the preprocessors.

Every rule here runs inside the model's Pipeline, so cross-validation applies it to each
fold and the served model applies it to each request:

- :class:`AmesFeatures` (stateless) decides what a literal ``"NA"`` means. In 14 text
  columns it means "none" (no alley, basement, garage, fireplace, pool, fence, misc
  feature), but only when the house really has none: ``BsmtExposure = "NA"`` on a house
  with 900 sq ft of basement is a missing value, not "no basement". The size column of
  each amenity decides (TotalBsmtSF, GarageArea, Fireplaces, PoolArea); this reproduces
  De Cock's own coding, which writes "NA" for "none" and a blank for "missing". In every
  other text column "NA" is a missing value. It also fills the numbers that absence
  implies (no basement → 0 sq ft), fixes impossible years, and adds engineered columns.
- :class:`GroupMedianImputer` (learned) fills LotFrontage with the median frontage of
  the neighbourhood, learned on the training rows of each fold.
- :class:`SkewedLog1p` (learned) log-transforms right-skewed areas for the linear model.
- :func:`preprocessor`: quality scales (Ex/Gd/TA/Fa/Po, "None" below Po) as ordinal
  codes, other categories one-hot with rare and unseen levels pooled, medians and most
  common levels for what is missing; for ridge also log areas, scaling and optional
  degree-2 terms.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import skew
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, PolynomialFeatures, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from tenfold.pipelines import FrameTransformer, TabularSchema

NONE = "None"
QUALITY = (NONE, "Po", "Fa", "TA", "Gd", "Ex")
ORDINAL_LEVELS: dict[str, tuple[str, ...]] = {
    "ExterQual": QUALITY,
    "ExterCond": QUALITY,
    "BsmtQual": QUALITY,
    "BsmtCond": QUALITY,
    "BsmtExposure": (NONE, "No", "Mn", "Av", "Gd"),
    "BsmtFinType1": (NONE, "Unf", "LwQ", "Rec", "BLQ", "ALQ", "GLQ"),
    "BsmtFinType2": (NONE, "Unf", "LwQ", "Rec", "BLQ", "ALQ", "GLQ"),
    "HeatingQC": QUALITY,
    "KitchenQual": QUALITY,
    "Functional": ("Sal", "Sev", "Maj2", "Maj1", "Mod", "Min2", "Min1", "Typ"),
    "FireplaceQu": QUALITY,
    "GarageFinish": (NONE, "Unf", "RFn", "Fin"),
    "GarageQual": QUALITY,
    "GarageCond": QUALITY,
    "PoolQC": QUALITY,
}
NOMINAL = (
    "MSSubClass",
    "MSZoning",
    "Street",
    "Alley",
    "LotShape",
    "LandContour",
    "Utilities",
    "LotConfig",
    "LandSlope",
    "Neighborhood",
    "Condition1",
    "Condition2",
    "BldgType",
    "HouseStyle",
    "RoofStyle",
    "RoofMatl",
    "Exterior1st",
    "Exterior2nd",
    "MasVnrType",
    "Foundation",
    "Heating",
    "CentralAir",
    "Electrical",
    "GarageType",
    "PavedDrive",
    "Fence",
    "MiscFeature",
    "MoSold",
    "SaleType",
    "SaleCondition",
)
NUMERIC = (
    "LotFrontage",
    "LotArea",
    "OverallQual",
    "OverallCond",
    "YearBuilt",
    "YearRemodAdd",
    "MasVnrArea",
    "BsmtFinSF1",
    "BsmtFinSF2",
    "BsmtUnfSF",
    "TotalBsmtSF",
    "1stFlrSF",
    "2ndFlrSF",
    "LowQualFinSF",
    "GrLivArea",
    "BsmtFullBath",
    "BsmtHalfBath",
    "FullBath",
    "HalfBath",
    "BedroomAbvGr",
    "KitchenAbvGr",
    "TotRmsAbvGrd",
    "Fireplaces",
    "GarageYrBlt",
    "GarageCars",
    "GarageArea",
    "WoodDeckSF",
    "OpenPorchSF",
    "EnclosedPorch",
    "3SsnPorch",
    "ScreenPorch",
    "PoolArea",
    "MiscVal",
    "YrSold",
)
ENGINEERED = (
    "total_sf",
    "total_bathrooms",
    "house_age",
    "years_since_remodel",
    "porch_sf",
    "has_basement",
    "has_garage",
    "has_fireplace",
    "has_pool",
    "has_second_floor",
    "remodelled",
)
# Columns whose degree-2 terms the linear model may use (Optuna decides): the few
# continuous drivers of price, where quality × size is the interaction that matters.
POLYNOMIAL = ("OverallQual", "GrLivArea", "total_sf", "house_age", "total_bathrooms", "GarageCars")
AMES_COLUMNS = (*NUMERIC, *NOMINAL, *ORDINAL_LEVELS)


@dataclass(frozen=True)
class Amenity:
    """A part of a house that can be absent; ``size`` is 0 exactly when it is."""

    name: str
    size: str
    text: tuple[str, ...]
    numeric: tuple[str, ...] = ()


AMENITIES = (
    Amenity(
        "basement",
        "TotalBsmtSF",
        ("BsmtQual", "BsmtCond", "BsmtExposure", "BsmtFinType1", "BsmtFinType2"),
        ("BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF", "TotalBsmtSF", "BsmtFullBath", "BsmtHalfBath"),
    ),
    Amenity(
        "garage",
        "GarageArea",
        ("GarageType", "GarageFinish", "GarageQual", "GarageCond"),
        ("GarageCars", "GarageArea"),
    ),
    Amenity("fireplace", "Fireplaces", ("FireplaceQu",)),
    Amenity("pool", "PoolArea", ("PoolQC",)),
)
# "NA" in these always means none: there is no size column to contradict it
ALWAYS_NONE = ("Alley", "Fence", "MiscFeature")
# areas that add up exactly in every Ames sale: total = sum of parts
AREA_SUMS = (
    ("GrLivArea", ("1stFlrSF", "2ndFlrSF", "LowQualFinSF")),
    ("TotalBsmtSF", ("BsmtFinSF1", "BsmtFinSF2", "BsmtUnfSF")),
)
# share of the living area upstairs, when only the total is known (1.5 storeys: a
# third under the roof; two storeys: half)
UPSTAIRS_SHARE = {"2Story": 0.5, "2.5Fin": 0.5, "2.5Unf": 0.5, "1.5Fin": 1 / 3}


def clean(frame: pd.DataFrame) -> pd.DataFrame:
    """The Ames data-quality rules (stateless: no statistic of the rows is used)."""
    out = frame.copy()
    for col in (*NOMINAL, *ORDINAL_LEVELS):
        out[col] = _text(out[col])
    for col in NUMERIC:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
    for amenity in AMENITIES:
        size = out[amenity.size]
        # the size decides; without it, the first text column's "NA" does
        absent = (size == 0) | (size.isna() & out[amenity.text[0]].isin(["NA", np.nan]))
        for col in amenity.text:
            unknown = out[col].isna() | (out[col] == "NA")
            out[col] = out[col].mask(absent & unknown, NONE).mask(~absent & unknown, np.nan)
        for col in amenity.numeric:
            out[col] = out[col].mask(absent & out[col].isna(), 0.0)
    for col in ALWAYS_NONE:
        out[col] = out[col].mask(out[col] == "NA", NONE)
    _complete_area_sums(out)
    no_veneer = out["MasVnrType"] == NONE
    out["MasVnrArea"] = out["MasVnrArea"].mask(no_veneer & out["MasVnrArea"].isna(), 0.0)
    other_text = [c for c in (*NOMINAL, *ORDINAL_LEVELS) if c not in _NONE_AWARE]
    out[other_text] = out[other_text].mask(out[other_text] == "NA", np.nan)
    # impossible years are typos (one garage "built" in 2207): treat them as unknown
    sold = out["YrSold"].fillna(out["YrSold"].max())
    for col in ("YearBuilt", "YearRemodAdd", "GarageYrBlt"):
        out[col] = out[col].mask(out[col] > sold + 1)
    # De Cock: the remodel date equals the construction date when there was no remodel
    out["YearRemodAdd"] = out["YearRemodAdd"].fillna(out["YearBuilt"])
    out["YearRemodAdd"] = np.fmax(out["YearRemodAdd"], out["YearBuilt"])
    # most garages are built with the house; no garage → "has_garage" carries that
    out["GarageYrBlt"] = out["GarageYrBlt"].fillna(out["YearBuilt"])
    return out


_NONE_AWARE = {c for a in AMENITIES for c in a.text} | set(ALWAYS_NONE)


def _complete_area_sums(out: pd.DataFrame) -> None:
    """Fill what the area sums determine (a request often gives only the living area):
    a missing total is the sum of its parts; a single missing part is the rest. With
    both floors unknown, low-quality area is taken as 0 (98 % of sales) and the living
    area is split by house style."""
    floors = out[["1stFlrSF", "2ndFlrSF"]].isna().all(axis=1) & out["GrLivArea"].notna()
    out["LowQualFinSF"] = out["LowQualFinSF"].mask(floors & out["LowQualFinSF"].isna(), 0.0)
    share = out["HouseStyle"].map(UPSTAIRS_SHARE).astype(float).fillna(0.0)
    living = out["GrLivArea"] - out["LowQualFinSF"]
    out["2ndFlrSF"] = out["2ndFlrSF"].mask(floors, (living * share).round())
    for total, parts in AREA_SUMS:
        missing = out[list(parts)].isna()
        known_sum = out[list(parts)].sum(axis=1)
        out[total] = out[total].fillna(known_sum.where(~missing.any(axis=1)))
        rest = (out[total] - known_sum).clip(lower=0)
        only = missing.sum(axis=1) == 1
        for part in parts:
            out[part] = out[part].mask(only & missing[part], rest)


def _text(values: pd.Series) -> pd.Series:
    """Text as stripped str (MSSubClass 20 → "20", "WD " → "WD"); missing stays NaN."""
    try:
        as_text = values.astype(object).str.strip()
    except AttributeError:  # no string at all (numbers, or only missing values)
        as_text = values.map(_as_text, na_action="ignore")
    else:
        # .str gives NaN for non-strings: numbers in a text column (a JSON request)
        others = as_text.isna() & values.notna()
        if others.any():
            as_text[others] = values[others].map(_as_text)
        as_text = as_text.mask(as_text == "")
    return as_text.astype(object).where(as_text.notna(), np.nan)


def _as_text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    return text if text else np.nan


def engineer(frame: pd.DataFrame) -> pd.DataFrame:
    """Engineered columns from cleaned Ames columns (missing in → missing out)."""
    f = frame
    sold = f["YrSold"]
    return pd.DataFrame(
        {
            "total_sf": f["TotalBsmtSF"] + f["GrLivArea"],
            "total_bathrooms": f["FullBath"]
            + 0.5 * f["HalfBath"]
            + f["BsmtFullBath"]
            + 0.5 * f["BsmtHalfBath"],
            # a house sold before it was finished has age 0, not -1
            "house_age": (sold - f["YearBuilt"]).clip(lower=0),
            "years_since_remodel": (sold - f["YearRemodAdd"]).clip(lower=0),
            "porch_sf": f[
                ["WoodDeckSF", "OpenPorchSF", "EnclosedPorch", "3SsnPorch", "ScreenPorch"]
            ].sum(axis=1, min_count=1),
            "has_basement": _flag(f["TotalBsmtSF"] > 0, f["TotalBsmtSF"]),
            "has_garage": _flag(f["GarageArea"] > 0, f["GarageArea"]),
            "has_fireplace": _flag(f["Fireplaces"] > 0, f["Fireplaces"]),
            "has_pool": _flag(f["PoolArea"] > 0, f["PoolArea"]),
            "has_second_floor": _flag(f["2ndFlrSF"] > 0, f["2ndFlrSF"]),
            "remodelled": _flag(f["YearRemodAdd"] > f["YearBuilt"], f["YearRemodAdd"]),
        },
        index=frame.index,
    )


def _flag(condition: pd.Series, source: pd.Series) -> pd.Series:
    return condition.astype(float).where(source.notna())


class AmesFeatures(FrameTransformer):
    """Cleans Ames columns (:func:`clean`) and adds :data:`ENGINEERED` ones.

    Stateless: ``fit`` learns nothing from the rows, so there is nothing to leak; it
    checks the columns and records them, as sklearn expects.
    """

    def _required(self) -> Sequence[str]:
        return AMES_COLUMNS

    def fit(self, X: pd.DataFrame, y: Any = None) -> AmesFeatures:
        self._check_frame(X, reset=True)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        cleaned = clean(self._check_frame(X, reset=False))
        return pd.concat([cleaned, engineer(cleaned)], axis=1)

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_in_")
        return np.asarray([*self.feature_names_in_, *ENGINEERED], dtype=object)


class GroupMedianImputer(FrameTransformer):
    """Fills ``column`` with the median of its ``group`` (LotFrontage by Neighborhood:
    lot shapes follow the street layout of a neighbourhood), else the overall median.

    The medians are learned in ``fit``, on the training rows only.
    """

    def __init__(self, column: str = "LotFrontage", group: str = "Neighborhood") -> None:
        self.column = column
        self.group = group

    def _required(self) -> Sequence[str]:
        return (self.column, self.group)

    def fit(self, X: pd.DataFrame, y: Any = None) -> GroupMedianImputer:
        self._check_frame(X, reset=True)
        values = pd.to_numeric(X[self.column], errors="coerce")
        self.medians_ = {
            str(k): float(v) for k, v in values.groupby(X[self.group]).median().dropna().items()
        }
        self.overall_ = float(values.median())
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        out = self._check_frame(X, reset=False).copy()
        values = pd.to_numeric(out[self.column], errors="coerce").astype(float)
        fill = out[self.group].map(lambda g: self.medians_.get(str(g), self.overall_))
        out[self.column] = values.fillna(fill.astype(float))
        return out

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_in_")
        return np.asarray(self.feature_names_in_, dtype=object)


class SkewedLog1p(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """``log1p`` of the non-negative columns whose training skewness exceeds ``threshold``.

    Areas and lot sizes are right-skewed; a linear model on log areas treats a 10 %
    larger house the same at every size. Which columns are skewed is learned in ``fit``.
    Missing values are ignored when measuring skewness and stay missing.
    """

    def __init__(self, threshold: float = 0.75) -> None:
        self.threshold = threshold

    def fit(self, X: Any, y: Any = None) -> SkewedLog1p:
        values = validate_data(self, X, dtype=np.float64, ensure_all_finite="allow-nan")
        # constant columns have no skewness (scipy would warn about precision instead)
        varies = np.nanstd(values, axis=0) > 0
        skewness = np.zeros(values.shape[1])
        skewness[varies] = skew(values[:, varies], axis=0, nan_policy="omit")
        non_negative = np.nanmin(values, axis=0) >= 0
        self.columns_ = np.flatnonzero((np.nan_to_num(skewness) > self.threshold) & non_negative)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "columns_")
        values = validate_data(
            self, X, dtype=np.float64, ensure_all_finite="allow-nan", copy=True, reset=False
        )
        values[:, self.columns_] = np.log1p(np.clip(values[:, self.columns_], 0, None))
        return np.asarray(values)

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


# --------------------------------------------------------------------------- schema


def ames_schema() -> TabularSchema:
    return TabularSchema(
        numeric=(*NUMERIC, *ENGINEERED), categorical=NOMINAL, ordinal=dict(ORDINAL_LEVELS)
    )


def known_categories(X: pd.DataFrame) -> dict[str, list[str]]:
    """The levels of each nominal column in the training rows, as text (what the API
    compares a request's values with, to say when one is new)."""
    return {
        col: sorted({str(_as_text(v)) for v in X[col].dropna().unique()} - {"nan"})
        for col in NOMINAL
        if col in X.columns
    }


def features_step(ames: bool) -> Any:
    return AmesFeatures() if ames else "passthrough"


def preprocessor(
    schema: TabularSchema,
    *,
    linear: bool,
    polynomial: bool = False,
    polynomial_columns: Sequence[str] = POLYNOMIAL,
    min_frequency: int = 5,
) -> Any:
    """A member's inputs. Every block imputes what is missing with the training median
    or most common level: a house with no recorded kitchen grade most likely has the
    common one ("TA"), not a grade below "Poor", and an all-zero one-hot row would be a
    house unlike any in training. Nominal levels seen in fewer than ``min_frequency``
    training rows are pooled, and that pool is where unseen levels go.

    ``linear`` (ridge) adds the log of skewed areas and scaling, and optionally the
    degree-2 terms of a few key columns; trees need neither (their splits do not change
    under monotone transforms).
    """

    def numeric(*extra: tuple[str, Any]) -> list[tuple[str, Any]]:
        steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy="median"))]
        if linear:
            steps += [("log_skewed", SkewedLog1p()), ("scale", StandardScaler())]
        return [*steps, *extra]

    transformers: list[tuple[str, Any, list[str]]] = [
        ("num", Pipeline(numeric()), list(schema.numeric))
    ]
    if schema.ordinal:
        steps = [
            ("encode", _quality_encoder(schema.ordinal)),
            ("impute", SimpleImputer(strategy="median")),
        ]
        if linear:
            steps.append(("scale", StandardScaler()))
        transformers.append(("ord", Pipeline(steps), list(schema.ordinal)))
    if schema.categorical:
        onehot = OneHotEncoder(
            handle_unknown="infrequent_if_exist", min_frequency=min_frequency, sparse_output=False
        )
        steps = [("impute", SimpleImputer(strategy="most_frequent")), ("onehot", onehot)]
        transformers.append(("cat", Pipeline(steps), list(schema.categorical)))
    poly = [c for c in polynomial_columns if c in schema.numeric]
    if linear and polynomial and poly:
        terms = numeric(
            ("poly", PolynomialFeatures(degree=2, include_bias=False)),
            ("scale_poly", StandardScaler()),
        )
        transformers.append(("poly", Pipeline(terms), poly))
    columns = ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)
    if "LotFrontage" in schema.numeric and "Neighborhood" in schema.categorical:
        return Pipeline([("lot_frontage", GroupMedianImputer()), ("columns", columns)])
    return columns


def linear_preprocessor(schema: TabularSchema, *, polynomial: bool = False) -> Any:
    return preprocessor(schema, linear=True, polynomial=polynomial)


def tree_preprocessor(schema: TabularSchema) -> Any:
    return preprocessor(schema, linear=False)


def _quality_encoder(levels: Mapping[str, tuple[str, ...]]) -> OrdinalEncoder:
    return OrdinalEncoder(
        categories=[list(v) for v in levels.values()],
        handle_unknown="use_encoded_value",
        unknown_value=np.nan,
        encoded_missing_value=np.nan,
    )
