"""Churn features: engineered columns and the preprocessing schema.

The engineered columns are computed by one function, :func:`engineer`, on a mapping of
column → array. The Pipeline step :class:`ChurnFeatures` calls it on a DataFrame's
columns; the serving path calls it on a request's values. One definition, two callers,
no drift between training and serving.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from tenfold.pipelines import TabularSchema, build_preprocessor

SERVICE_COLUMNS = (
    "PhoneService",
    "MultipleLines",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)
REQUIRED = (
    "tenure",
    "MonthlyCharges",
    "TotalCharges",
    "InternetService",
    "PaymentMethod",
    *SERVICE_COLUMNS,
)
# Tenure bands: first year (most churn), second year, 2-4 years, 4+ years.
TENURE_EDGES = (12, 24, 48)
TENURE_LABELS = ("0-12 months", "13-24 months", "25-48 months", "49+ months")

ENGINEERED_NUMERIC = (
    "charge_per_tenure_month",
    "monthly_vs_average_charge",
    "n_services",
    "auto_payment",
)
ENGINEERED_CATEGORICAL = ("tenure_bucket",)

TELCO_NUMERIC = ("tenure", "MonthlyCharges", "TotalCharges", "SeniorCitizen")
TELCO_CATEGORICAL = (
    "gender",
    "Partner",
    "Dependents",
    "PhoneService",
    "MultipleLines",
    "InternetService",
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
    "Contract",
    "PaperlessBilling",
    "PaymentMethod",
)


def engineer(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Engineered columns from raw Telco columns (scalars or arrays of equal length).

    ``TotalCharges`` is blank only for customers with tenure 0: they have not been billed
    yet, so their total is 0, not unknown. That rule is applied here, on purpose; a
    missing total for a customer with tenure is left missing for the imputer.
    """
    tenure = _floats(columns["tenure"])
    monthly = _floats(columns["MonthlyCharges"])
    total = _floats(columns["TotalCharges"])
    total = np.where(np.isnan(total) & (tenure == 0), 0.0, total)
    average = total / np.maximum(tenure, 1.0)
    n_services = (_text(columns["InternetService"]) != "No").astype(float)
    for name in SERVICE_COLUMNS:
        n_services = n_services + (_text(columns[name]) == "Yes")
    payment = _text(columns["PaymentMethod"])
    auto = np.char.find(payment.astype(str), "automatic") >= 0
    bucket = np.asarray(TENURE_LABELS, dtype=object)[
        np.searchsorted(TENURE_EDGES, tenure, side="left")
    ]
    return {
        "TotalCharges": total,
        "charge_per_tenure_month": average,
        # > 0 when today's bill is above the customer's historical average: a price rise
        "monthly_vs_average_charge": monthly - average,
        "n_services": n_services,
        "auto_payment": auto.astype(float),
        "tenure_bucket": bucket,
    }


def _floats(value: Any) -> np.ndarray:
    array = np.atleast_1d(np.asarray(value, dtype=object))
    return np.array([np.nan if v is None else v for v in array], dtype=float)


def _text(value: Any) -> np.ndarray:
    return np.atleast_1d(np.asarray(value, dtype=object))


class ChurnFeatures(TransformerMixin, BaseEstimator):
    """Adds the engineered columns. Stateless: ``fit`` learns nothing from the rows, so
    there is nothing to leak; it only records the input columns, as sklearn expects."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> ChurnFeatures:
        missing = [c for c in REQUIRED if c not in X.columns]
        if missing:
            raise ValueError(f"ChurnFeatures needs column(s) {missing}")
        self.feature_names_in_ = np.asarray(X.columns, dtype=object)
        self.n_features_in_ = X.shape[1]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_in_")
        out = X.copy()
        for name, values in engineer({c: X[c].to_numpy() for c in REQUIRED}).items():
            out[name] = values
        return out

    def transform_columns(self, columns: Mapping[str, Any]) -> dict[str, Any]:
        """The same on a mapping (one request, or a few): used by the serving path."""
        return {**columns, **engineer(columns)}

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        check_is_fitted(self, "feature_names_in_")
        added = [*ENGINEERED_NUMERIC, *ENGINEERED_CATEGORICAL]
        return np.asarray([*self.feature_names_in_, *added], dtype=object)


def telco_schema() -> TabularSchema:
    return TabularSchema(
        numeric=(*TELCO_NUMERIC, *ENGINEERED_NUMERIC),
        categorical=(*TELCO_CATEGORICAL, *ENGINEERED_CATEGORICAL),
    )


def build_preprocessor_for(schema: TabularSchema, *, scale: bool) -> Any:
    """Linear models need scaled inputs; trees do not, and unscaled values keep the
    fast serving path's arithmetic to imputation and encoding."""
    return build_preprocessor(schema, scale_numeric=scale)
