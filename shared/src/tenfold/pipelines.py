"""Tabular pipelines: a typed schema, the ColumnTransformer built from it, stratified
splits, and a compiled numpy path of a fitted preprocessor for low-latency serving.
Time-ordered splits live in :mod:`tenfold.splits`.

Every learned step lives inside the scikit-learn Pipeline, so cross-validation refits
all of it per fold and nothing leaks from validation or test rows into training.
Tunable keys follow the named steps, e.g. ``preprocess__num__impute__strategy``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from tenfold.errors import SchemaError as SchemaError  # re-exported (older imports)

MISSING_CATEGORY = "missing"


@dataclass(frozen=True)
class TabularSchema:
    """Which columns are numeric, nominal or ordinal; the order fixes the feature order."""

    numeric: tuple[str, ...] = ()
    categorical: tuple[str, ...] = ()
    ordinal: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def features(self) -> list[str]:
        return [*self.numeric, *self.categorical, *self.ordinal]

    def check(self, frame: pd.DataFrame, *, label: str = "input") -> None:
        missing = [c for c in self.features if c not in frame.columns]
        if missing:
            raise SchemaError(f"{label}: missing column(s) {missing}")


def infer_schema(
    frame: pd.DataFrame,
    *,
    target: str,
    id_column: str | None = None,
    max_categories: int = 100,
    numeric_share: float = 0.95,
) -> TabularSchema:
    """Guess column roles for a CSV nobody described (``train --data PATH``).

    A text column whose non-blank values parse as numbers (at least ``numeric_share`` of
    them) is numeric, and :func:`coerce_to_schema` then names any value of it that does
    not parse; other text columns are nominal. Free-text-like columns with more than
    ``max_categories`` distinct values are dropped rather than one-hot exploded. The id
    column is optional (``None``: the file has none).
    """
    for col, what in ((target, "target"), (id_column, "id")):
        if col is not None and col not in frame.columns:
            raise SchemaError(
                f"{what} column {col!r} not in the data; columns: {list(frame.columns)}"
            )
    numeric: list[str] = []
    categorical: list[str] = []
    for col in frame.columns:
        if col in (target, id_column):
            continue
        series = frame[col]
        if series.dtype.kind in "biuf":
            numeric.append(col)
            continue
        values = series.dropna().astype(str).str.strip()
        values = values[values != ""]
        if values.empty:
            continue
        parsed = pd.to_numeric(values, errors="coerce")
        if parsed.notna().mean() >= numeric_share:
            numeric.append(col)
        elif values.nunique() <= max_categories:
            categorical.append(col)
    if not numeric and not categorical:
        raise SchemaError("no usable feature columns: every column is empty, the target or the id")
    return TabularSchema(numeric=tuple(numeric), categorical=tuple(categorical))


def coerce_to_schema(
    frame: pd.DataFrame, schema: TabularSchema, *, label: str = "input"
) -> pd.DataFrame:
    """Numeric columns as float, categorical ones as text; blank cells become missing.

    A numeric column's value that is not a number is an error naming ``label`` (the
    file), the column and the row, never a silent missing value: the column was found
    numeric because its other values are numbers, so that cell is a typo or a unit to fix.
    Stateless, so it is safe outside the Pipeline: it learns nothing from the data.
    """
    from tenfold.data import NUMERIC_MISSING

    schema.check(frame, label=label)
    out = frame.copy()
    for col in schema.numeric:
        values = out[col]
        if values.dtype.kind in "biuf":
            out[col] = values.astype(float)
            continue
        text = values.astype(str).str.strip()
        blank = values.isna() | text.isin(NUMERIC_MISSING)
        parsed = pd.to_numeric(text.where(~blank), errors="coerce")
        bad = np.flatnonzero((parsed.isna() & ~blank).to_numpy())
        if len(bad):
            more = f" ({len(bad) - 1} more row(s) like it)" if len(bad) > 1 else ""
            raise SchemaError(
                f"{label}: column {col!r}, row {bad[0] + 1}: {values.iloc[bad[0]]!r} is not "
                f"a number{more}; the column's other values are numbers: correct the value "
                "or leave the cell blank"
            )
        out[col] = parsed.astype(float)
    for col in (*schema.categorical, *schema.ordinal):
        out[col] = out[col].astype(object).where(out[col].notna(), np.nan)
        out[col] = out[col].map(lambda v: v if isinstance(v, float) and math.isnan(v) else str(v))
    return out


def binary_target(series: pd.Series, positive: object | None = None) -> np.ndarray:
    """0/1 labels from a two-valued column, with a clear error otherwise.

    Without an explicit ``positive`` label, common spellings (Yes/No, True/False, 1/0)
    are recognised; any other pair takes the rarer value as the positive class.
    """
    if series.isna().any():
        row = int(np.flatnonzero(series.isna().to_numpy())[0]) + 1
        raise SchemaError(f"target {series.name!r}: missing value in row {row}")
    values = series.astype(str).str.strip()
    labels = sorted(values.unique())
    if len(labels) != 2:
        raise SchemaError(
            f"target {series.name!r} must have exactly 2 classes, "
            f"found {len(labels)}: {labels[:10]}"
        )
    if positive is None:
        for candidate in ("Yes", "yes", "True", "true", "1", "1.0"):
            if candidate in labels:
                positive = candidate
                break
        else:
            counts = values.value_counts()
            positive = counts.index[-1]
    positive = str(positive)
    if positive not in labels:
        raise SchemaError(f"target {series.name!r}: positive label {positive!r} not in {labels}")
    return (values == positive).to_numpy(dtype=np.int64)


def build_preprocessor(
    schema: TabularSchema,
    *,
    scale_numeric: bool = True,
    numeric_impute: str = "median",
) -> ColumnTransformer:
    """Impute, scale and encode the schema's columns; unknown categories encode as zeros.

    Dense output keeps downstream estimators and the compiled serving path simple.
    """
    numeric_steps: list[tuple[str, Any]] = [("impute", SimpleImputer(strategy=numeric_impute))]
    if scale_numeric:
        numeric_steps.append(("scale", StandardScaler()))
    categorical = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            ("onehot", OneHotEncoder(handle_unknown="ignore", sparse_output=False)),
        ]
    )
    ordinal = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value=MISSING_CATEGORY)),
            (
                "ordinal",
                OrdinalEncoder(
                    categories=[list(levels) for levels in schema.ordinal.values()],
                    handle_unknown="use_encoded_value",
                    unknown_value=-1,
                ),
            ),
        ]
    )
    transformers: list[tuple[str, Any, list[str]]] = []
    if schema.numeric:
        transformers.append(("num", Pipeline(numeric_steps), list(schema.numeric)))
    if schema.categorical:
        transformers.append(("cat", categorical, list(schema.categorical)))
    if schema.ordinal:
        transformers.append(("ord", ordinal, list(schema.ordinal)))
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


# --------------------------------------------------------------------------- features


def as_floats(value: Any) -> np.ndarray:
    """A scalar or sequence as a float array; ``None`` becomes NaN (a JSON null)."""
    array = np.atleast_1d(np.asarray(value, dtype=object))
    return np.array([np.nan if v is None else v for v in array], dtype=float)


def as_objects(value: Any) -> np.ndarray:
    """A scalar or sequence of labels as an object array, for elementwise comparisons."""
    return np.atleast_1d(np.asarray(value, dtype=object))


class FrameTransformer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Base of the transformers that select columns by name, so take a pandas DataFrame.

    :meth:`_check_frame` gives scikit-learn's input errors in words: a clear ``TypeError``
    for anything but a DataFrame (sparse input included), ``ValueError`` for a missing
    required column or, in ``fit``, no rows; on ``fit`` it records ``feature_names_in_`` and
    ``n_features_in_``. Missing values pass through (``allow_nan``): imputers later in
    the Pipeline learn how to fill them.
    """

    def _required(self) -> Sequence[str]:
        """The columns this step reads (named in the error when one is missing)."""
        return ()

    def _check_frame(self, X: Any, *, reset: bool) -> pd.DataFrame:
        if not reset:
            check_is_fitted(self, "feature_names_in_")
        name = type(self).__name__
        required = list(self._required())
        if not isinstance(X, pd.DataFrame):
            sparse = " (sparse input is not supported)" if hasattr(X, "tocsr") else ""
            raise TypeError(
                f"{name} needs a pandas DataFrame with named columns {required}; "
                f"got {type(X).__name__}{sparse}"
            )
        if reset and len(X) == 0:
            raise ValueError(f"{name}: 0 sample(s) (shape={X.shape}); a minimum of 1 is required")
        missing = [c for c in required if c not in X.columns]
        if missing:
            raise ValueError(f"{name} needs column(s) {missing}")
        if reset:
            self.feature_names_in_ = np.asarray(X.columns, dtype=object)
            self.n_features_in_ = X.shape[1]
        return X

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags


class ColumnFeatures(FrameTransformer):
    """Base of the projects' stateless feature steps: one ``compute`` function, two callers.

    A subclass lists the columns it ``requires`` and the ones it ``adds`` and implements
    :meth:`compute` on a mapping of column → values (scalars or arrays). The Pipeline
    calls it on a DataFrame's columns through ``transform``; the serving path calls it on
    a request's values through ``transform_columns``. ``fit`` learns nothing (so nothing
    can leak); it checks the columns and records them, as scikit-learn expects.
    """

    requires: ClassVar[tuple[str, ...]] = ()
    adds: ClassVar[tuple[str, ...]] = ()

    def compute(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        raise NotImplementedError

    def _required(self) -> Sequence[str]:
        return self.requires

    def fit(self, X: pd.DataFrame, y: Any = None) -> Self:
        self._check_frame(X, reset=True)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_frame(X, reset=False)
        out = X.copy()
        for name, values in self.compute({c: X[c].to_numpy() for c in self.requires}).items():
            out[name] = values
        return out

    def transform_columns(self, columns: Mapping[str, Any]) -> dict[str, Any]:
        """The same on a mapping (one request, or a few): used by the serving path."""
        return {**columns, **self.compute(columns)}

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_in_")
        known = list(self.feature_names_in_)
        return np.asarray([*known, *(c for c in self.adds if c not in known)], dtype=object)


# --------------------------------------------------------------------------- splitting


@dataclass(frozen=True)
class Split:
    X_train: pd.DataFrame
    X_test: pd.DataFrame
    y_train: np.ndarray
    y_test: np.ndarray


def stratified_holdout(X: pd.DataFrame, y: np.ndarray, *, test_size: float, seed: int) -> Split:
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    return Split(
        X_train.reset_index(drop=True),
        X_test.reset_index(drop=True),
        np.asarray(y_train),
        np.asarray(y_test),
    )


def stratified_cv(n_splits: int, seed: int) -> StratifiedKFold:
    return StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=seed)


# --------------------------------------------------------------------------- compiled path


@dataclass(frozen=True)
class _NumericBlock:
    columns: tuple[str, ...]
    fill: np.ndarray
    mean: np.ndarray
    scale: np.ndarray


@dataclass(frozen=True)
class _LookupBlock:
    columns: tuple[str, ...]
    # per column: value -> position inside the block (one-hot) or code (ordinal)
    tables: tuple[Mapping[str, int], ...]
    width: int
    offsets: tuple[int, ...]
    one_hot: bool
    unknown: float


class CompiledPreprocessor:
    """The arithmetic of a fitted :func:`build_preprocessor` in plain numpy.

    A one-row DataFrame through a ColumnTransformer costs around a millisecond of pandas
    overhead; this does the same imputation, scaling and encoding on dict lookups and
    small arrays in microseconds. Built from the fitted object, so it cannot drift from
    it, and tests check that both give the same matrix.
    """

    def __init__(
        self,
        blocks: Sequence[_NumericBlock | _LookupBlock],
        sources: Sequence[str],
        names: Sequence[str],
    ) -> None:
        self._blocks = tuple(blocks)
        self.feature_sources: tuple[str, ...] = tuple(sources)
        self.feature_names: tuple[str, ...] = tuple(names)
        self.input_columns: tuple[str, ...] = tuple(c for b in self._blocks for c in b.columns)

    @classmethod
    def from_fitted(cls, transformer: ColumnTransformer) -> CompiledPreprocessor:
        blocks: list[_NumericBlock | _LookupBlock] = []
        sources: list[str] = []
        for name, pipe, columns in transformer.transformers_:
            if name == "remainder" or pipe == "drop":
                continue
            cols = tuple(columns)
            steps = dict(pipe.steps) if isinstance(pipe, Pipeline) else {}
            imputer = steps.get("impute")
            if imputer is None or getattr(imputer, "add_indicator", False):
                raise TypeError(
                    f"cannot compile block {name!r}: expected an imputer without indicator"
                )
            if "onehot" in steps or "ordinal" in steps:
                one_hot = "onehot" in steps
                encoder = steps["onehot"] if one_hot else steps["ordinal"]
                if one_hot and (
                    encoder.drop is not None
                    or encoder.handle_unknown != "ignore"
                    or getattr(encoder, "min_frequency", None)
                    or getattr(encoder, "max_categories", None)
                ):
                    raise TypeError("compiled one-hot supports drop=None, handle_unknown='ignore'")
                tables = tuple(
                    {str(v): i for i, v in enumerate(cats)} for cats in encoder.categories_
                )
                widths = [len(t) if one_hot else 1 for t in tables]
                offsets = tuple(int(o) for o in np.cumsum([0, *widths[:-1]]))
                unknown = float(getattr(encoder, "unknown_value", 0) or 0) if not one_hot else 0.0
                blocks.append(_LookupBlock(cols, tables, sum(widths), offsets, one_hot, unknown))
                for col, w in zip(cols, widths, strict=True):
                    sources.extend([col] * w)
            else:
                scaler = steps.get("scale")
                n = len(cols)
                mean = np.zeros(n) if scaler is None or scaler.mean_ is None else scaler.mean_
                scale = np.ones(n) if scaler is None or scaler.scale_ is None else scaler.scale_
                blocks.append(
                    _NumericBlock(
                        cols,
                        np.asarray(imputer.statistics_, dtype=float),
                        np.asarray(mean, float),
                        np.asarray(scale, float),
                    )
                )
                sources.extend(cols)
        names = list(transformer.get_feature_names_out())
        return cls(blocks, sources, names)

    @property
    def n_features(self) -> int:
        return len(self.feature_sources)

    def transform(self, columns: Mapping[str, Any]) -> np.ndarray:
        """``columns`` maps each input column to a value or a sequence of values."""
        first = columns[self.input_columns[0]]
        n = 1 if np.ndim(first) == 0 else len(first)
        out = np.empty((n, self.n_features), dtype=float)
        pos = 0
        for block in self._blocks:
            if isinstance(block, _NumericBlock):
                values = np.empty((n, len(block.columns)), dtype=float)
                for j, col in enumerate(block.columns):
                    values[:, j] = _as_float(columns[col], n)
                missing = np.isnan(values)
                if missing.any():
                    values = np.where(missing, block.fill, values)
                out[:, pos : pos + len(block.columns)] = (values - block.mean) / block.scale
                pos += len(block.columns)
            else:
                if block.one_hot:
                    out[:, pos : pos + block.width] = 0.0
                for j, col in enumerate(block.columns):
                    table = block.tables[j]
                    for i, value in enumerate(_as_list(columns[col], n)):
                        key = MISSING_CATEGORY if _is_missing(value) else str(value)
                        code = table.get(key)
                        if block.one_hot:
                            if code is not None:
                                out[i, pos + block.offsets[j] + code] = 1.0
                        else:
                            out[i, pos + j] = block.unknown if code is None else code
                pos += block.width
        return out


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _as_float(value: Any, n: int) -> np.ndarray:
    if np.ndim(value) == 0:
        return np.full(n, np.nan if value is None else float(value))
    return np.asarray([np.nan if v is None else v for v in value], dtype=float)


def _as_list(value: Any, n: int) -> list[Any]:
    return [value] * n if np.ndim(value) == 0 else list(value)
