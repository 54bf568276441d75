"""scikit-learn's estimator checks on housing's transformers and its conformal regressor
(see shared/tests/test_estimator_checks.py for why the NumPy-fed checks of the DataFrame
steps are expected to fail)."""

from __future__ import annotations

from typing import Any

from sklearn.linear_model import Ridge
from sklearn.utils.estimator_checks import parametrize_with_checks

from housing.data import HousingData
from housing.features import AmesFeatures, GroupMedianImputer, SkewedLog1p
from housing.intervals import ConformalRegressor
from tenfold.testing import check_frame_transformer
from tenfold.testing import expected_failed_checks as frame_only

# Found by these checks in ConformalRegressor (housing/intervals.py); the fixes belong
# there. xfail_strict: each entry must be removed once it is fixed.
CONFORMAL_DEFECTS = {
    "check_estimator_sparse_tag": "accepts sparse X (the inner estimator does) but its "
    "tags say input_tags.sparse=False: take the tag from the estimator",
    "check_regressor_data_not_an_array": "fit reads np.shape(X), which an array-like "
    "without __array_function__ refuses: validate X first (validate_data / _num_features)",
    "check_requires_y_none": "fit(X, None) fails inside MAPIE with a TypeError instead of "
    "a ValueError saying that y is required",
}


def expected_failed_checks(estimator: Any) -> dict[str, str]:
    if isinstance(estimator, ConformalRegressor):
        return CONFORMAL_DEFECTS
    return frame_only(estimator)


@parametrize_with_checks(
    [
        AmesFeatures(),
        GroupMedianImputer(),
        SkewedLog1p(),
        ConformalRegressor(Ridge(), cv=3, log_scale=False, random_state=0),
    ],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_frame_rules(synthetic_data: HousingData) -> None:
    sales = synthetic_data.train.drop(columns=["SalePrice"]).head(150)
    check_frame_transformer(AmesFeatures(), sales)
    check_frame_transformer(GroupMedianImputer(), AmesFeatures().fit_transform(sales))
