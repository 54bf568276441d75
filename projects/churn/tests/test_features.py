"""Engineered features and the ChurnFeatures transformer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from churn.features import ChurnFeatures, engineer

NO_SERVICES = {
    "PhoneService": "No",
    "MultipleLines": "No phone service",
    "InternetService": "No",
    "OnlineSecurity": "No internet service",
    "OnlineBackup": "No internet service",
    "DeviceProtection": "No internet service",
    "TechSupport": "No internet service",
    "StreamingTV": "No internet service",
    "StreamingMovies": "No internet service",
    "PaymentMethod": "Mailed check",
}


def test_blank_total_for_a_new_customer_is_zero_not_missing() -> None:
    out = engineer({**NO_SERVICES, "tenure": 0, "MonthlyCharges": 20.0, "TotalCharges": None})
    assert out["TotalCharges"].tolist() == [0.0]
    assert out["charge_per_tenure_month"].tolist() == [0.0]


def test_blank_total_with_tenure_stays_missing_for_the_imputer() -> None:
    out = engineer({**NO_SERVICES, "tenure": 5, "MonthlyCharges": 20.0, "TotalCharges": None})
    assert np.isnan(out["TotalCharges"][0])


def test_services_payment_and_tenure_bands() -> None:
    columns = {
        **NO_SERVICES,
        "PhoneService": "Yes",
        "MultipleLines": "Yes",
        "InternetService": "Fiber optic",
        "TechSupport": "Yes",
        "StreamingTV": "No",
        "PaymentMethod": "Credit card (automatic)",
        "tenure": 24,
        "MonthlyCharges": 100.0,
        "TotalCharges": 1200.0,
    }
    out = engineer(columns)
    assert out["n_services"].tolist() == [4.0]  # phone, multiple lines, internet, support
    assert out["auto_payment"].tolist() == [1.0]
    assert out["charge_per_tenure_month"].tolist() == [50.0]
    assert out["monthly_vs_average_charge"].tolist() == [50.0]  # bill doubled since joining
    bands = engineer(
        {
            **{k: [v] * 5 for k, v in NO_SERVICES.items()},
            "tenure": [0, 12, 13, 48, 49],
            "MonthlyCharges": [1.0] * 5,
            "TotalCharges": [1.0] * 5,
        }
    )["tenure_bucket"]
    assert list(bands) == [
        "0-12 months",
        "0-12 months",
        "13-24 months",
        "25-48 months",
        "49+ months",
    ]


def test_transformer_is_stateless_and_follows_estimator_rules(synthetic_frame) -> None:  # type: ignore[no-untyped-def]
    step = ChurnFeatures()
    assert step.get_params() == {}
    assert step.fit(synthetic_frame.head(10)) is step
    # fitted on 10 rows or on all rows, it transforms the same way: nothing is learnt
    a = step.transform(synthetic_frame.tail(50))
    b = clone(step).fit(synthetic_frame).transform(synthetic_frame.tail(50))
    pd.testing.assert_frame_equal(a, b)
    assert list(step.get_feature_names_out()[-5:]) == [
        "charge_per_tenure_month",
        "monthly_vs_average_charge",
        "n_services",
        "auto_payment",
        "tenure_bucket",
    ]


def test_transformer_names_missing_columns(synthetic_frame) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match=r"needs column\(s\) \['tenure'\]"):
        ChurnFeatures().fit(synthetic_frame.drop(columns=["tenure"]))
