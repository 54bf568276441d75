"""scikit-learn's estimator checks on the library's transformer bases: what
``parametrize_with_checks`` can run on NumPy arrays, and the same rules on a DataFrame
(:func:`tenfold.testing.check_frame_transformer`) for the checks that feed NumPy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn.utils.estimator_checks import parametrize_with_checks

from tenfold.pipelines import ColumnFeatures
from tenfold.testing import FRAME_ONLY_CHECKS, check_frame_transformer, expected_failed_checks


class AgeFeatures(ColumnFeatures):
    """A minimal ColumnFeatures step, as a project writes one."""

    requires: ClassVar[tuple[str, ...]] = ("age", "city")
    adds: ClassVar[tuple[str, ...]] = ("age_squared", "in_paris")

    def compute(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        age = np.asarray(columns["age"], dtype=float)
        return {"age_squared": age**2, "in_paris": np.asarray(columns["city"]) == "Paris"}


def people(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    age = rng.integers(18, 90, n).astype(float)
    age[::7] = np.nan  # missing values pass through to the imputers
    return pd.DataFrame({"age": age, "city": rng.choice(["Paris", "Lyon", None], n)})


@parametrize_with_checks(
    [AgeFeatures()], expected_failed_checks=expected_failed_checks, xfail_strict=True
)
def test_sklearn_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_frame_rules() -> None:
    check_frame_transformer(AgeFeatures(), people())


def test_clear_errors_instead_of_attribute_errors() -> None:
    step = AgeFeatures().fit(people())
    with pytest.raises(TypeError, match=r"needs a pandas DataFrame with named columns \['age'"):
        step.transform(people().to_numpy())
    with pytest.raises(ValueError, match=r"needs column\(s\) \['city'\]"):
        step.transform(people().drop(columns="city"))


class BatchMean(AgeFeatures):
    """A broken step: its output depends on the batch (a mean of the rows it transforms,
    as a leaky serving path would compute)."""

    def compute(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        age = np.asarray(columns["age"], dtype=float)
        return {"age_squared": age - np.nanmean(age), "in_paris": age > 0}


def test_check_frame_transformer_catches_a_step_that_depends_on_the_batch() -> None:
    with pytest.raises(AssertionError, match=r"shuffled rows|rows one at a time"):
        check_frame_transformer(BatchMean(), people())


def test_expected_failures_are_only_for_frame_steps() -> None:
    from sklearn.preprocessing import StandardScaler

    assert expected_failed_checks(StandardScaler()) == {}
    assert expected_failed_checks(AgeFeatures()) == FRAME_ONLY_CHECKS
    assert all("DataFrame" in reason for reason in FRAME_ONLY_CHECKS.values())
