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

from tenfold.pipelines import ColumnFeatures, TabularSchema, as_floats, as_objects

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
    tenure = as_floats(columns["tenure"])
    monthly = as_floats(columns["MonthlyCharges"])
    total = as_floats(columns["TotalCharges"])
    total = np.where(np.isnan(total) & (tenure == 0), 0.0, total)
    average = total / np.maximum(tenure, 1.0)
    n_services = (as_objects(columns["InternetService"]) != "No").astype(float)
    for name in SERVICE_COLUMNS:
        n_services = n_services + (as_objects(columns[name]) == "Yes")
    payment = as_objects(columns["PaymentMethod"])
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


class ChurnFeatures(ColumnFeatures):
    """Adds the engineered columns (stateless: see :class:`tenfold.pipelines.ColumnFeatures`)."""

    requires = REQUIRED
    adds = ("TotalCharges", *ENGINEERED_NUMERIC, *ENGINEERED_CATEGORICAL)

    def compute(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return engineer(columns)


def telco_schema() -> TabularSchema:
    return TabularSchema(
        numeric=(*TELCO_NUMERIC, *ENGINEERED_NUMERIC),
        categorical=(*TELCO_CATEGORICAL, *ENGINEERED_CATEGORICAL),
    )
