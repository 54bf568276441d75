"""scikit-learn's estimator checks on fraud's transformers (see
shared/tests/test_estimator_checks.py for why the NumPy-fed checks are expected to fail)."""

from __future__ import annotations

from typing import Any

from sklearn.utils.estimator_checks import parametrize_with_checks

from fraud.data import make_ulb_twin
from fraud.features import FraudFeatures, UlbFeatures
from tenfold.testing import check_frame_transformer, expected_failed_checks


@parametrize_with_checks(
    [FraudFeatures(), UlbFeatures()],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_frame_rules(small_prepared) -> None:  # type: ignore[no-untyped-def]
    _, periods = small_prepared
    check_frame_transformer(FraudFeatures(), periods.split.X_train.head(300))
    check_frame_transformer(UlbFeatures(), make_ulb_twin(300, 0).drop(columns="Class"))
