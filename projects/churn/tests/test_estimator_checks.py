"""scikit-learn's estimator checks on churn's own transformer (see
shared/tests/test_estimator_checks.py for why the NumPy-fed checks are expected to fail)."""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.utils.estimator_checks import parametrize_with_checks

from churn.features import ChurnFeatures
from tenfold.testing import check_frame_transformer, expected_failed_checks


@parametrize_with_checks(
    [ChurnFeatures()], expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_frame_rules(synthetic_frame: pd.DataFrame) -> None:
    customers = synthetic_frame.drop(columns=["Churn", "customerID"]).head(200)
    check_frame_transformer(ChurnFeatures(), customers)
