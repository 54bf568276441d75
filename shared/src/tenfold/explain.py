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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from tenfold.pipelines import CompiledPreprocessor

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
        self._contribute = self._contributor(model, background_mean)
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
        raw = self._contribute(self.preprocessor.transform(inputs))
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
