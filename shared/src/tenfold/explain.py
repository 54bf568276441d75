"""Fast scoring with per-feature contributions, from a fitted tabular Pipeline.

A tenfold tabular pipeline has the named steps ``features`` (optional; a transformer
with ``transform_columns``), ``preprocess`` (a ColumnTransformer from
:func:`tenfold.pipelines.build_preprocessor`) and ``model``. :class:`FastScorer` runs
the same arithmetic without pandas: the features step on small arrays, the compiled
preprocessor, then the model's own contribution routine:

- XGBoost: exact TreeSHAP, compiled to numpy for a few rows (:mod:`tenfold.treeshap`)
  and ``Booster.predict(pred_contribs=True)`` for batches;
- LightGBM: ``Booster.predict(pred_contrib=True)``, exact TreeSHAP;
- linear models: ``coef * (x - background mean)``, which is what SHAP's linear
  explainer gives for independent features.

Contributions are in the model's margin space (log-odds for classifiers) and sum, with
the base value, to the margin, so the probability comes from the same call. Columns
produced by one-hot encoding are summed back into the input column they came from: a
reader wants "Contract", not "Contract_Month-to-month".
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from tenfold.pipelines import (
    MISSING_CATEGORY,
    CompiledPreprocessor,
    _LookupBlock,
    _NumericBlock,
)

log = logging.getLogger("tenfold.explain")

# Up to this many rows the compiled TreeSHAP beats a DMatrix + pred_contribs call.
COMPILED_MAX_ROWS = 16


class ColumnFeatures(Protocol):
    """A features step that also works on a mapping of column → values."""

    def transform_columns(self, columns: Mapping[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Scores:
    """``prediction`` is a probability (classifiers) or the prediction (regressors);
    ``contributions`` has one column per entry of ``FastScorer.sources``."""

    prediction: np.ndarray
    margin: np.ndarray
    contributions: np.ndarray
    base_value: float
    # the columns after the features step: engineered values, for showing to a reader
    inputs: Mapping[str, Any]


class _Contributor(Protocol):
    def __call__(self, X: np.ndarray) -> np.ndarray: ...


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


class FastScorer:
    """Scores mappings of column → value(s) with contributions, in microseconds."""

    def __init__(
        self,
        pipeline: Pipeline,
        *,
        background_mean: Sequence[float] | np.ndarray | None = None,
    ) -> None:
        """``background_mean`` (see :func:`encoded_mean`) is the reference point of linear
        contributions; tree models carry their own (the training cover) and ignore it."""
        steps = pipeline.named_steps
        if "preprocess" not in steps or "model" not in steps:
            raise TypeError("expected a Pipeline with 'preprocess' and 'model' steps")
        features = steps.get("features")
        self._features: ColumnFeatures | None = (
            None if features in (None, "passthrough") else features
        )
        if self._features is not None and not hasattr(self._features, "transform_columns"):
            raise TypeError("the 'features' step needs a transform_columns(mapping) method")
        self.preprocessor = CompiledPreprocessor.from_fitted(steps["preprocess"])
        model = steps["model"]
        self.task: Literal["classification", "regression"] = (
            "classification" if hasattr(model, "predict_proba") else "regression"
        )
        self._model = model
        self._contribute = self._contributor(model, background_mean)
        self._batch_contribute: _Contributor | None = None
        self.sources: tuple[str, ...] = tuple(dict.fromkeys(self.preprocessor.feature_sources))
        index = {name: i for i, name in enumerate(self.sources)}
        # matrix that sums encoded columns into their source column
        self._group = np.zeros((self.preprocessor.n_features, len(self.sources)))
        for j, src in enumerate(self.preprocessor.feature_sources):
            self._group[j, index[src]] = 1.0

    def _contributor(
        self, model: Any, background_mean: Sequence[float] | np.ndarray | None
    ) -> _Contributor:
        module = type(model).__module__
        if module.startswith("xgboost"):
            import xgboost as xgb

            from tenfold.treeshap import compile_xgboost

            booster = model.get_booster()
            # One thread: for a handful of rows, thread start-up costs more than it saves.
            booster.set_param({"nthread": 1})
            compiled = compile_xgboost(booster)

            def xgboost_contribs(X: np.ndarray) -> np.ndarray:
                # The compiled TreeSHAP wins for the few rows of an API call; XGBoost's
                # own routine wins for batches. Both are exact and tested equal.
                if compiled is not None and len(X) <= COMPILED_MAX_ROWS:
                    return compiled.contributions(X)
                return np.asarray(booster.predict(xgb.DMatrix(X, nthread=1), pred_contribs=True))

            return xgboost_contribs
        if module.startswith("lightgbm"):
            lgb_booster = model.booster_
            return lambda X: np.asarray(lgb_booster.predict(X, pred_contrib=True, num_threads=1))
        if hasattr(model, "coef_") and hasattr(model, "intercept_"):
            coef = np.asarray(model.coef_, dtype=float).reshape(-1)
            intercept = float(np.asarray(model.intercept_).reshape(-1)[0])
            if background_mean is None:
                raise ValueError("a linear model needs background_mean (see encoded_mean)")
            mean = np.asarray(background_mean, dtype=float)
            base = intercept + float(coef @ mean)

            def linear(X: np.ndarray) -> np.ndarray:
                contrib = (X - mean) * coef
                return np.hstack([contrib, np.full((len(X), 1), base)])

            return linear
        raise TypeError(f"no fast contribution routine for {type(model).__name__}")

    def prepare(self, columns: Mapping[str, Any]) -> Mapping[str, Any]:
        if self._features is None:
            return columns
        return self._features.transform_columns(columns)

    def score(self, columns: Mapping[str, Any]) -> Scores:
        inputs = self.prepare(columns)
        return self._scores(self._contribute(self.preprocessor.transform(inputs)), inputs)

    def score_batch(self, columns: Mapping[str, Any]) -> Scores:
        """:meth:`score` for a whole file's chunk: the same numbers (XGBoost's to the
        bit), with the encoding vectorised over rows and TreeSHAP once per distinct
        decision code (:class:`tenfold.treeshap.BatchTreeShap`) instead of once per row."""
        inputs = self.prepare(columns)
        if self._batch_contribute is None:
            self._batch_contribute = self._batch_contributor()
        return self._scores(self._batch_contribute(encode_batch(self.preprocessor, inputs)), inputs)

    def _batch_contributor(self) -> _Contributor:
        from tenfold.treeshap import batch_lightgbm, batch_xgboost

        module = type(self._model).__module__
        if module.startswith("xgboost"):
            import xgboost as xgb

            booster = self._model.get_booster()
            fast = batch_xgboost(booster)
            if fast is not None:
                return fast.contributions
            log.info("batch TreeSHAP does not cover this XGBoost model: XGBoost's own")
            return lambda X: np.asarray(
                booster.predict(xgb.DMatrix(X, nthread=1), pred_contribs=True)
            )
        if module.startswith("lightgbm"):
            lgb_booster = self._model.booster_
            fast = batch_lightgbm(lgb_booster)
            if fast is not None:
                return fast.contributions
            log.info("batch TreeSHAP does not cover this LightGBM model: LightGBM's own")
            return lambda X: np.asarray(lgb_booster.predict(X, pred_contrib=True, num_threads=1))
        return self._contribute

    def _scores(self, raw: np.ndarray, inputs: Mapping[str, Any]) -> Scores:
        per_feature, bias = raw[:, :-1], raw[:, -1]
        margin = per_feature.sum(axis=1) + bias
        prediction = _sigmoid(margin) if self.task == "classification" else margin
        return Scores(prediction, margin, per_feature @ self._group, float(bias[0]), inputs)

    def score_records(self, records: Sequence[Mapping[str, Any]]) -> Scores:
        """Rows as dicts (what an API receives) → one :class:`Scores` for the batch."""
        if len(records) == 1:
            return self.score(records[0])
        columns = {c: [r.get(c) for r in records] for c in records[0]}
        return self.score(columns)


def encoded_mean(pipeline: Pipeline, X: pd.DataFrame) -> list[float]:
    """Mean of the model's encoded inputs over ``X`` (the training rows): the baseline
    linear contributions are measured from. A plain list, so it fits model metadata."""
    encoded = np.asarray(pipeline[:-1].transform(X), dtype=float)
    return [float(v) for v in encoded.mean(axis=0)]


@dataclass(frozen=True)
class Factor:
    feature: str
    value: Any
    direction: Literal["increases", "decreases"]
    contribution: float


def value_at(values: Any, i: int) -> Any:
    """Row ``i`` of a column given as a scalar (one request) or a sequence (a batch)."""
    if isinstance(values, np.ndarray | list | tuple):
        return values[i] if len(values) > i else values[0]
    return values


def plain(value: Any) -> str | float | int | None:
    """A value as a reader (and JSON) wants it: a Python scalar, floats to 2 decimals."""
    if isinstance(value, np.ndarray):
        value = value.reshape(-1)[0]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if np.isnan(value) else round(value, 2)
    return value  # type: ignore[no-any-return]


def top_factors(
    contributions: np.ndarray,
    sources: Sequence[str],
    values: Mapping[str, Any],
    *,
    k: int = 3,
) -> list[Factor]:
    """The ``k`` largest contributions by magnitude, with the input value behind each."""
    order = np.argsort(-np.abs(contributions), kind="stable")[:k]
    return [
        Factor(
            feature=sources[i],
            value=values.get(sources[i]),
            direction="increases" if contributions[i] > 0 else "decreases",
            contribution=float(contributions[i]),
        )
        for i in order
    ]


# --------------------------------------------------------------------------- batches


def encode_batch(preprocessor: CompiledPreprocessor, columns: Mapping[str, Any]) -> np.ndarray:
    """``preprocessor.transform(columns)`` for many rows: the same matrix, with each
    category looked up once per distinct value instead of once per row (the compiled
    path's per-value loop is made for the one row of an API request)."""
    first = columns[preprocessor.input_columns[0]]
    n = 1 if np.ndim(first) == 0 else len(first)
    out = np.zeros((n, preprocessor.n_features), dtype=float)
    pos = 0
    # the compiled blocks are the fitted arithmetic; reading them keeps one source of it
    for block in preprocessor._blocks:
        if isinstance(block, _NumericBlock):
            values = np.empty((n, len(block.columns)), dtype=float)
            for j, col in enumerate(block.columns):
                values[:, j] = _floats(columns[col], n)
            missing = np.isnan(values)
            if missing.any():
                values = np.where(missing, block.fill, values)
            out[:, pos : pos + len(block.columns)] = (values - block.mean) / block.scale
            pos += len(block.columns)
            continue
        assert isinstance(block, _LookupBlock)
        rows = np.arange(n)
        for j, col in enumerate(block.columns):
            codes = _lookup_codes(columns[col], n, block.tables[j])
            if block.one_hot:
                found = codes >= 0
                out[rows[found], pos + block.offsets[j] + codes[found]] = 1.0
            else:
                out[:, pos + j] = np.where(codes >= 0, codes, block.unknown)
        pos += block.width
    return out


def _floats(value: Any, n: int) -> np.ndarray:
    if np.ndim(value) == 0:
        return np.full(n, np.nan if value is None else float(value))
    array = np.asarray(value)
    if array.dtype.kind in "biuf":
        return array.astype(float)
    return np.asarray([np.nan if v is None else v for v in array], dtype=float)


def _category_key(value: Any) -> str:
    """The compiled preprocessor's key of a category value."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING_CATEGORY
    return str(value)


def _lookup_codes(value: Any, n: int, table: Mapping[str, int]) -> np.ndarray:
    """Each row's position in ``table`` (-1: unknown), one lookup per distinct value."""
    if np.ndim(value) == 0:
        return np.full(n, table.get(_category_key(value), -1), dtype=np.int64)
    array = np.asarray(value, dtype=object if _is_list(value) else None)
    codes, uniques = _distinct(array)
    found = np.asarray([table.get(_category_key(u), -1) for u in uniques], dtype=np.int64)
    out = np.full(n, -1, dtype=np.int64)
    known = codes >= 0
    out[known] = found[codes[known]]
    for i in np.flatnonzero(~known):  # missing values, mixed types: row by row
        out[i] = table.get(_category_key(array[i]), -1)
    return out


def _is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def _distinct(values: np.ndarray) -> tuple[np.ndarray, list[Any]]:
    """Codes into a list of distinct values (-1 where a value must be taken row by row:
    missing values, and every row of mixed-type text, where 1 == 1.0 == True would
    merge values whose text differs). Floats are told apart by their bits (0.0, -0.0)."""
    kind = values.dtype.kind
    if kind == "O" and pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        return np.full(len(values), -1, dtype=np.int64), []
    if kind == "f":
        values = np.ascontiguousarray(values)
        bits = values.view(np.int64 if values.itemsize == 8 else np.int32)
        codes, unique_bits = pd.factorize(bits)
        uniques = list(np.asarray(unique_bits).view(values.dtype))
        missing = np.isnan(values)
        codes = np.where(missing, -1, codes)
        return np.asarray(codes, dtype=np.int64), uniques
    codes, uniques_index = pd.factorize(values, use_na_sentinel=True)
    return np.asarray(codes, dtype=np.int64), list(np.asarray(uniques_index, dtype=values.dtype))


def top_k(contributions: np.ndarray, k: int) -> np.ndarray:
    """(rows, k) column indices of each row's ``k`` largest ``|contributions|``, largest
    first, ties to the lower column: what a stable ``argsort(-|c|)[:k]`` gives, in k
    passes of ``argmax`` (the first maximum) instead of a sort per row."""
    magnitude = np.abs(contributions)
    magnitude[np.isnan(magnitude)] = -0.5  # after every number, as the sort puts NaN
    k = min(k, magnitude.shape[1])
    rows = np.arange(len(magnitude))
    out = np.empty((len(magnitude), k), dtype=np.int64)
    for rank in range(k):
        best = np.argmax(magnitude, axis=1)
        out[:, rank] = best
        magnitude[rows, best] = -1.0
    return out


def value_texts(values: Any, rows: np.ndarray) -> np.ndarray:
    """``str(plain(value))`` of ``values`` at ``rows`` (object array), formatted once per
    distinct value: what a reason code shows."""
    if values is None or np.ndim(values) == 0:
        return np.full(len(rows), str(plain(values)), dtype=object)
    array = np.asarray(values, dtype=object if _is_list(values) else None)[rows]
    if array.dtype.kind == "f":
        return float_texts(array)
    codes, uniques = _distinct(array)
    texts = np.asarray([str(plain(u)) for u in uniques], dtype=object)
    out = np.empty(len(rows), dtype=object)
    known = codes >= 0
    out[known] = texts[codes[known]]
    for i in np.flatnonzero(~known):
        out[i] = str(plain(array[i]))
    return out


# the text of each possible number of cents after the decimal point: "0", "01", …, "5", …
_CENTS = np.asarray(
    ["0" if c == 0 else str(c // 10) if c % 10 == 0 else f"{c:02d}" for c in range(100)]
)


def float_texts(values: np.ndarray) -> np.ndarray:
    """``str(round(v, 2))`` (``None`` for NaN) of a float array, built with array
    operations: round() is the correctly rounded number of cents, then the shortest text
    of that number. Values that could be a rounding tie away from their float product, or
    too large for 15 significant digits, are formatted by Python itself."""
    x = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        scaled = x * 100.0
        cents = np.rint(scaled)
        # x·100 may differ from its float product by half an ulp: near a tie the
        # product's rounding could differ from the exact one's
        tie = np.abs(np.abs(scaled - np.floor(scaled)) - 0.5) <= 2 * np.spacing(np.abs(scaled))
    fast = np.isfinite(x) & (np.abs(x) < 1e13) & ~tie
    whole = np.abs(cents[fast]).astype(np.int64)
    negative = np.where(whole == 0, np.signbit(x[fast]), cents[fast] < 0)
    text = np.char.add(
        np.char.add(np.where(negative, "-", ""), (whole // 100).astype(str)),
        np.char.add(".", _CENTS[whole % 100]),
    )
    out = np.empty(len(x), dtype=object)
    out[fast] = text.astype(object)
    for i in np.flatnonzero(~fast):
        out[i] = str(plain(x[i]))
    return out


def factor_texts(
    scores: Scores,
    sources: Sequence[str],
    *,
    outcome: str,
    label: Callable[[str], str] = str,
    k: int = 3,
) -> list[np.ndarray]:
    """The readable reason codes of every row as ``k`` columns (largest first), the same
    text as :func:`tenfold.serving.reason_codes` gives row by row: "<label> = <value>
    increases <outcome>". Built source by source, not row by row."""
    order = top_k(scores.contributions, k)
    chosen = np.take_along_axis(scores.contributions, order, axis=1)
    increases, decreases = f" increases {outcome}", f" decreases {outcome}"
    columns = []
    for rank in range(order.shape[1]):
        text = np.empty(len(order), dtype=object)
        suffix = np.where(chosen[:, rank] > 0, increases, decreases).astype(object)
        for source in np.unique(order[:, rank]):
            rows = np.flatnonzero(order[:, rank] == source)
            name = sources[source]
            values = value_texts(scores.inputs.get(name), rows)
            text[rows] = (f"{label(name)} = " + values) + suffix[rows]
        columns.append(text)
    return columns
