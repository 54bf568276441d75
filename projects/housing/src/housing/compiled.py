"""The champion's price and CV+ interval for a few houses, in milliseconds.

The champion is MAPIE's CV+ around six fitted stacks (one on all training sales, one per
fold), each a log-target Pipeline of the Ames features step and a StackingRegressor of
three members with their own preprocessing. Through scikit-learn a house costs about a
second: the features step runs six times, and eighteen ColumnTransformers and a random
forest each pay pandas and validation overheads that dwarf the arithmetic for one row.

:class:`CompiledConformal` does the same arithmetic once per request:

- the features step once (it is stateless, the same in all six stacks);
- each member's fitted preprocessing as numpy (imputation, log of skewed areas,
  scaling, ordinal codes, one-hot with pooled rare levels, degree-2 terms), read from
  the fitted objects so it cannot drift, and tested equal to them;
- the random forest as one vectorised walk over all its trees, summed tree by tree as
  scikit-learn does; ridge, LightGBM and the blend through their own ``predict``;
- MAPIE's own interval arithmetic, on a copy of the conformal model whose six fitted
  stacks are these compiled ones: the same conformity scores, quantiles and bounds.

Prices and bounds equal the scikit-learn path's (tested on held-out houses). A model
with any other step is not compiled: :func:`compile_conformal` returns None and the
caller keeps the Pipeline.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMRegressor
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import RandomForestRegressor, StackingRegressor
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, PolynomialFeatures, StandardScaler

from housing.features import (
    _NONE_AWARE,
    ALWAYS_NONE,
    AMENITIES,
    AREA_SUMS,
    NOMINAL,
    NONE,
    NUMERIC,
    ORDINAL_LEVELS,
    UPSTAIRS_SHARE,
    AmesFeatures,
    GroupMedianImputer,
    SkewedLog1p,
    _as_text,
)


class NotCompilable(TypeError):
    """A fitted step this module has no numpy twin for."""


# --------------------------------------------------------------------------- features


def ames_features(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """:class:`AmesFeatures` (``clean`` then ``engineer``) on column arrays instead of a
    DataFrame: the same rules, read from :mod:`housing.features`, in numpy (pandas costs
    tens of milliseconds for one row). Tested equal on every Ames sale and on requests
    with most fields left out."""
    out = {c: np.asarray(v, dtype=object) for c, v in columns.items()}
    for col in (*NOMINAL, *ORDINAL_LEVELS):
        out[col] = _texts(out[col])
    for col in NUMERIC:
        out[col] = _numbers(out[col])
    for amenity in AMENITIES:
        size = out[amenity.size]
        first = out[amenity.text[0]]
        absent = (size == 0) | (np.isnan(size) & (pd.isna(first) | (first == "NA")))
        for col in amenity.text:
            unknown = pd.isna(out[col]) | (out[col] == "NA")
            text = np.where(absent & unknown, NONE, out[col])
            out[col] = np.where(~absent & unknown, np.nan, text).astype(object)
        for col in amenity.numeric:
            out[col] = np.where(absent & np.isnan(out[col]), 0.0, out[col])
    for col in ALWAYS_NONE:
        out[col] = np.where(out[col] == "NA", NONE, out[col]).astype(object)
    _area_sums(out)
    no_veneer = out["MasVnrType"] == NONE
    veneer = out["MasVnrArea"]
    out["MasVnrArea"] = np.where(no_veneer & np.isnan(veneer), 0.0, veneer)
    for col in (*NOMINAL, *ORDINAL_LEVELS):
        if col not in _NONE_AWARE:
            out[col] = np.where(out[col] == "NA", np.nan, out[col]).astype(object)
    sold = out["YrSold"]
    if np.isnan(sold).any() and not np.isnan(sold).all():
        sold = np.where(np.isnan(sold), np.nanmax(sold), sold)
    for col in ("YearBuilt", "YearRemodAdd", "GarageYrBlt"):
        with np.errstate(invalid="ignore"):
            out[col] = np.where(out[col] > sold + 1, np.nan, out[col])
    built = out["YearBuilt"]
    remodel = np.where(np.isnan(out["YearRemodAdd"]), built, out["YearRemodAdd"])
    out["YearRemodAdd"] = np.fmax(remodel, built)
    out["GarageYrBlt"] = np.where(np.isnan(out["GarageYrBlt"]), built, out["GarageYrBlt"])
    return {**out, **_engineered(out)}


def _texts(values: np.ndarray) -> np.ndarray:
    """``housing.features._text`` value by value: stripped text, numbers as text."""
    out = np.empty(len(values), dtype=object)
    for i, value in enumerate(values):
        if _missing(value):
            out[i] = np.nan
        elif isinstance(value, str):
            out[i] = value.strip() or np.nan
        else:
            out[i] = _as_text(value)
    return out


def _numbers(values: np.ndarray) -> np.ndarray:
    if all(v is None or type(v) in (float, int) for v in values):
        return np.asarray([np.nan if v is None else v for v in values], dtype=float)
    return np.asarray(pd.to_numeric(pd.Series(values), errors="coerce"), dtype=float)


def _nan_sum(parts: Sequence[np.ndarray]) -> np.ndarray:
    """pandas' row sum (missing counted as 0), added left to right."""
    total = np.zeros(len(parts[0]))
    for part in parts:
        total = total + np.where(np.isnan(part), 0.0, part)
    return total


def _area_sums(out: dict[str, np.ndarray]) -> None:
    """``housing.features._complete_area_sums`` on arrays."""
    floors = np.isnan(out["1stFlrSF"]) & np.isnan(out["2ndFlrSF"]) & ~np.isnan(out["GrLivArea"])
    low = out["LowQualFinSF"]
    out["LowQualFinSF"] = np.where(floors & np.isnan(low), 0.0, low)
    share = np.asarray([UPSTAIRS_SHARE.get(s, np.nan) for s in out["HouseStyle"]], dtype=float)
    share = np.where(np.isnan(share), 0.0, share)
    living = out["GrLivArea"] - out["LowQualFinSF"]
    out["2ndFlrSF"] = np.where(floors, np.round(living * share), out["2ndFlrSF"])
    for total, parts in AREA_SUMS:
        missing = np.column_stack([np.isnan(out[p]) for p in parts])
        known = _nan_sum([out[p] for p in parts])
        given = out[total]
        out[total] = np.where(np.isnan(given) & ~missing.any(axis=1), known, given)
        with np.errstate(invalid="ignore"):
            rest = np.clip(out[total] - known, 0, None)
        only = missing.sum(axis=1) == 1
        for j, part in enumerate(parts):
            out[part] = np.where(only & missing[:, j], rest, out[part])


def _flag(condition: np.ndarray, source: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(source), np.nan, condition.astype(float))


def _engineered(f: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``housing.features.engineer`` on arrays."""
    sold = f["YrSold"]
    porches = [
        f[c] for c in ("WoodDeckSF", "OpenPorchSF", "EnclosedPorch", "3SsnPorch", "ScreenPorch")
    ]
    any_porch = ~np.all(np.isnan(np.column_stack(porches)), axis=1)
    with np.errstate(invalid="ignore"):
        return {
            "total_sf": f["TotalBsmtSF"] + f["GrLivArea"],
            "total_bathrooms": f["FullBath"]
            + 0.5 * f["HalfBath"]
            + f["BsmtFullBath"]
            + 0.5 * f["BsmtHalfBath"],
            "house_age": np.clip(sold - f["YearBuilt"], 0, None),
            "years_since_remodel": np.clip(sold - f["YearRemodAdd"], 0, None),
            "porch_sf": np.where(any_porch, _nan_sum(porches), np.nan),
            "has_basement": _flag(f["TotalBsmtSF"] > 0, f["TotalBsmtSF"]),
            "has_garage": _flag(f["GarageArea"] > 0, f["GarageArea"]),
            "has_fireplace": _flag(f["Fireplaces"] > 0, f["Fireplaces"]),
            "has_pool": _flag(f["PoolArea"] > 0, f["PoolArea"]),
            "has_second_floor": _flag(f["2ndFlrSF"] > 0, f["2ndFlrSF"]),
            "remodelled": _flag(f["YearRemodAdd"] > f["YearBuilt"], f["YearRemodAdd"]),
        }


# --------------------------------------------------------------------------- preprocessing


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


@dataclass(frozen=True)
class _Numeric:
    """A numeric block: its columns as floats, then the fitted steps in order."""

    columns: tuple[str, ...]
    steps: tuple[Any, ...]

    def transform(self, frame: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        values = np.empty((n, len(self.columns)), dtype=float)
        for j, col in enumerate(self.columns):
            values[:, j] = np.asarray(frame[col], dtype=float)
        return _run(self.steps, values)


@dataclass(frozen=True)
class _Categorical:
    """A categorical block: per column, the code of each value (a one-hot position or
    an ordinal level; -1 unknown), with what the imputer fills in for a missing one."""

    columns: tuple[str, ...]
    fill: tuple[Any, ...]  # the imputer's value for a missing one (None: no imputer)
    codes: tuple[dict[Any, int], ...]
    # one-hot: the code unknown values take (-1: none), the output width per column
    unknown: tuple[int, ...]
    widths: tuple[int, ...]
    one_hot: bool
    after: tuple[Any, ...]  # numeric steps after the encoder (ordinal: impute, scale)

    def transform(self, frame: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        out = np.zeros((n, sum(self.widths)), dtype=float)
        offset = 0
        for j, col in enumerate(self.columns):
            for i, value in enumerate(frame[col]):
                if _missing(value) and self.fill[j] is not None:
                    value = self.fill[j]
                code = -1 if _missing(value) else self.codes[j].get(value, self.unknown[j])
                if self.one_hot:
                    if code >= 0:
                        out[i, offset + code] = 1.0
                else:
                    out[i, offset] = np.nan if code < 0 else float(code)
            offset += self.widths[j]
        return _run(self.after, out)


def _run(steps: Sequence[Any], values: np.ndarray) -> np.ndarray:
    """The fitted numeric steps, with scikit-learn's own arithmetic."""
    for step in steps:
        if isinstance(step, SimpleImputer):
            statistics = np.asarray(step.statistics_, dtype=float)
            missing = np.isnan(values)
            if missing.any():
                values = np.where(missing, statistics, values)
            # a column without a training statistic is dropped, as the imputer does
            keep = ~np.isnan(statistics)
            if not keep.all():
                values = values[:, keep]
        elif isinstance(step, SkewedLog1p):
            values = np.array(values, dtype=float)
            values[:, step.columns_] = np.log1p(np.clip(values[:, step.columns_], 0, None))
        elif isinstance(step, StandardScaler):
            values = np.array(values, dtype=float)
            if step.with_mean:
                values -= step.mean_
            if step.with_std:
                values /= step.scale_
        elif isinstance(step, PolynomialFeatures):
            values = _polynomial(step, values)
        else:
            raise NotCompilable(f"no numpy twin for {type(step).__name__}")
    return values


def _polynomial(step: PolynomialFeatures, values: np.ndarray) -> np.ndarray:
    if step.degree != 2 or step.interaction_only:
        raise NotCompilable("only degree-2 PolynomialFeatures")
    out = np.empty((len(values), len(step.powers_)), dtype=float)
    for k, powers in enumerate(step.powers_):
        used = [j for j, p in enumerate(powers) for _ in range(int(p))]
        if not used:
            out[:, k] = 1.0
        elif len(used) == 1:
            out[:, k] = values[:, used[0]]
        else:
            out[:, k] = values[:, used[0]] * values[:, used[1]]
    return out


def _categorical(columns: Sequence[str], pipe: Pipeline) -> _Categorical:
    steps = [s for _, s in pipe.steps]
    imputer = steps[0] if isinstance(steps[0], SimpleImputer) else None
    if imputer is not None:
        if imputer.strategy not in ("most_frequent", "constant") or imputer.add_indicator:
            raise NotCompilable("categorical imputer")
        steps = steps[1:]
    encoder, after = steps[0], tuple(steps[1:])
    fill = tuple(imputer.statistics_) if imputer is not None else (None,) * len(columns)
    codes, unknown, widths = [], [], []
    if isinstance(encoder, OneHotEncoder):
        if encoder.drop is not None or after:
            raise NotCompilable("one-hot with drop or steps after it")
        infrequent = getattr(encoder, "infrequent_categories_", [None] * len(columns))
        for j, categories in enumerate(encoder.categories_):
            rare = set() if infrequent[j] is None else set(infrequent[j])
            frequent = [c for c in categories if c not in rare]
            table = {c: k for k, c in enumerate(frequent)}
            pooled = len(frequent) if rare else -1  # the infrequent column, last
            table.update(dict.fromkeys(rare, pooled))
            handle = encoder.handle_unknown
            if handle not in ("ignore", "infrequent_if_exist"):
                raise NotCompilable(f"handle_unknown={handle!r}")
            unknown.append(pooled if handle == "infrequent_if_exist" else -1)
            codes.append(table)
            widths.append(len(frequent) + (1 if rare else 0))
        return _Categorical(
            tuple(columns), fill, tuple(codes), tuple(unknown), tuple(widths), True, ()
        )
    if isinstance(encoder, OrdinalEncoder):
        if encoder.handle_unknown != "use_encoded_value" or not (
            np.isnan(encoder.unknown_value) and np.isnan(encoder.encoded_missing_value)
        ):
            raise NotCompilable("ordinal encoder without NaN for unknown and missing")
        for categories in encoder.categories_:
            codes.append({c: k for k, c in enumerate(categories) if not _missing(c)})
            unknown.append(-1)
            widths.append(1)
        return _Categorical(
            tuple(columns), fill, tuple(codes), tuple(unknown), tuple(widths), False, after
        )
    raise NotCompilable(f"no numpy twin for {type(encoder).__name__}")


@dataclass(frozen=True)
class CompiledPreprocess:
    """A member's fitted preprocessing (``[GroupMedianImputer →] ColumnTransformer``)."""

    lot_frontage: GroupMedianImputer | None
    blocks: tuple[_Numeric | _Categorical, ...]

    @classmethod
    def from_fitted(cls, fitted: Any) -> CompiledPreprocess:
        imputer = None
        if isinstance(fitted, Pipeline):
            names = [name for name, _ in fitted.steps]
            if names != ["lot_frontage", "columns"]:
                raise NotCompilable(f"preprocessing steps {names}")
            imputer, fitted = fitted.named_steps["lot_frontage"], fitted.named_steps["columns"]
        if not isinstance(fitted, ColumnTransformer):
            raise NotCompilable(type(fitted).__name__)
        blocks: list[_Numeric | _Categorical] = []
        for name, pipe, columns in fitted.transformers_:
            if name == "remainder" or pipe == "drop":
                continue
            if not isinstance(pipe, Pipeline):
                raise NotCompilable(f"block {name!r}")
            encoders = [s for _, s in pipe.steps if isinstance(s, OneHotEncoder | OrdinalEncoder)]
            if encoders:
                blocks.append(_categorical(columns, pipe))
            else:
                blocks.append(_Numeric(tuple(columns), tuple(s for _, s in pipe.steps)))
        return cls(imputer, tuple(blocks))

    def transform(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        n = len(next(iter(frame.values())))
        if self.lot_frontage is not None:
            imputer = self.lot_frontage
            values = np.asarray(frame[imputer.column], dtype=float)
            fill = [imputer.medians_.get(str(g), imputer.overall_) for g in frame[imputer.group]]
            filled = np.where(np.isnan(values), np.asarray(fill, dtype=float), values)
            frame = {**frame, imputer.column: filled}
        return np.hstack([block.transform(frame, n) for block in self.blocks])


# --------------------------------------------------------------------------- forest


@dataclass(frozen=True)
class CompiledForest:
    """A fitted RandomForestRegressor's prediction: every tree walked at once."""

    left: np.ndarray
    right: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    value: np.ndarray
    roots: np.ndarray
    depth: int

    @classmethod
    def from_fitted(cls, forest: RandomForestRegressor) -> CompiledForest:
        if forest.n_outputs_ != 1:
            raise NotCompilable("multi-output forest")
        parts: dict[str, list[np.ndarray]] = {k: [] for k in ("l", "r", "f", "t", "v")}
        roots, offset, depth = [], 0, 0
        for estimator in forest.estimators_:
            tree = estimator.tree_
            leaf = tree.children_left == -1
            parts["l"].append(
                np.where(leaf, np.arange(tree.node_count), tree.children_left) + offset
            )
            parts["r"].append(
                np.where(leaf, np.arange(tree.node_count), tree.children_right) + offset
            )
            parts["f"].append(np.where(leaf, 0, tree.feature))
            parts["t"].append(tree.threshold)
            parts["v"].append(tree.value[:, 0, 0])
            roots.append(offset)
            offset += tree.node_count
            depth = max(depth, tree.max_depth)
        return cls(
            np.concatenate(parts["l"]),
            np.concatenate(parts["r"]),
            np.concatenate(parts["f"]),
            np.concatenate(parts["t"]),
            np.concatenate(parts["v"]),
            np.asarray(roots),
            depth,
        )

    def predict(self, X: np.ndarray) -> np.ndarray:
        # scikit-learn's trees compare float32 inputs with float64 thresholds
        X32 = np.asarray(X, dtype=np.float32).astype(float)
        rows = np.arange(len(X32))[:, None]
        node = np.broadcast_to(self.roots, (len(X32), len(self.roots))).copy()
        for _ in range(self.depth):  # leaves point at themselves
            go_left = X32[rows, self.feature[node]] <= self.threshold[node]
            node = np.where(go_left, self.left[node], self.right[node])
        # summed tree by tree, then divided, as RandomForestRegressor.predict does
        return np.asarray(np.cumsum(self.value[node], axis=1)[:, -1] / len(self.roots))


# --------------------------------------------------------------------------- stacks


def _linear(model: Any) -> Callable[[np.ndarray], np.ndarray] | None:
    """A fitted linear model's ``predict`` without its input checks: the expression of
    scikit-learn's ``_decision_function`` (``X @ coef_.T + intercept_``)."""
    if not isinstance(model, Ridge | LinearRegression) or np.ndim(model.coef_) != 1:
        return None
    coef, intercept = model.coef_, model.intercept_
    return lambda X: np.asarray(X @ coef.T + intercept)


def _model(model: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The fastest exact ``predict`` of a member's model."""
    if isinstance(model, RandomForestRegressor):
        return CompiledForest.from_fitted(model).predict
    if isinstance(model, LGBMRegressor):
        # the booster itself: the wrapper re-reads its parameters on every call
        booster = model.booster_
        return lambda X: np.asarray(booster.predict(X, num_threads=1))
    return _linear(model) or model.predict


class _Member:
    def __init__(self, member: Pipeline) -> None:
        self.preprocess = CompiledPreprocess.from_fitted(member.named_steps["preprocess"])
        self.predict_model = _model(member.named_steps["model"])

    def predict(self, frame: Mapping[str, np.ndarray]) -> np.ndarray:
        return self.predict_model(self.preprocess.transform(frame))


class CompiledStack:
    """One fitted log-target stack after its features step: ``predict(featured)``."""

    def __init__(self, fitted: TransformedTargetRegressor) -> None:
        stack = fitted.regressor_.named_steps["model"]
        if not isinstance(stack, StackingRegressor) or stack.passthrough:
            raise NotCompilable("expected a StackingRegressor without passthrough")
        self.members = [_Member(member) for member in stack.estimators_]
        self.final = _linear(stack.final_estimator_) or stack.final_estimator_.predict
        self.target = fitted.transformer_

    def predict(self, featured: Mapping[str, np.ndarray]) -> np.ndarray:
        blend = np.concatenate([m.predict(featured).reshape(-1, 1) for m in self.members], axis=1)
        log_price = np.asarray(self.final(blend))
        return np.asarray(self.target.inverse_transform(log_price.reshape(-1, 1))).squeeze(axis=1)


class CompiledConformal:
    """``ConformalRegressor.predict_interval`` with the six stacks compiled."""

    def __init__(self, conformal: Any, columns: Sequence[str]) -> None:
        self.columns = tuple(columns)
        fast = copy.copy(conformal)
        mapie = copy.copy(conformal._mapie_regressor)
        ensemble = copy.copy(mapie.estimator_)
        ensemble.single_estimator_ = CompiledStack(ensemble.single_estimator_)
        ensemble.estimators_ = [CompiledStack(e) for e in ensemble.estimators_]
        mapie.estimator_ = ensemble
        fast._mapie_regressor = mapie
        self._conformal = fast

    def predict_interval(
        self, columns: Mapping[str, Any]
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(price, lower, upper) of houses given as column → values (every model
        column, missing values as None or NaN), as ``ConformalRegressor.predict_interval``
        gives for the same houses in a DataFrame."""
        featured = _Columns(ames_features({c: columns[c] for c in self.columns}))
        point, bounds = self._conformal.predict_interval(featured, aggregate_point_predictions=None)
        return np.asarray(point), bounds[:, 0, 0], bounds[:, 1, 0]


class _Columns(dict[str, np.ndarray]):
    """Featured columns as MAPIE's ``X``: it only passes X on to the stacks, and asks
    its length."""

    def __len__(self) -> int:
        return len(next(iter(self.values())))


def compile_conformal(model: Any) -> CompiledConformal | None:
    """The compiled twin of a fitted housing ``ConformalRegressor``, or None when one of
    its steps has no numpy twin (then price with the model itself)."""
    try:
        ensemble = model.conformal_._mapie_regressor.estimator_
        stacks = [ensemble.single_estimator_, *ensemble.estimators_]
        features = [s.regressor_.named_steps["features"] for s in stacks]
        if not all(isinstance(f, AmesFeatures) for f in features):
            return None
        # the features step is stateless: every stack's is the same function
        names = [tuple(f.feature_names_in_) for f in features]
        if len(set(names)) != 1:
            return None
        return CompiledConformal(model.conformal_, names[0])
    except (NotCompilable, AttributeError, KeyError):
        return None
