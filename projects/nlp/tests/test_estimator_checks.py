"""scikit-learn's estimator checks on nlp's text steps.

They take texts, so their tags say so (``input_tags.string``, no 2-D array, like
scikit-learn's own vectorizers) and scikit-learn runs only the checks that need no
numeric data; :func:`tenfold.testing.check_frame_transformer` checks the data rules on a
frame of articles. The embedder's check is in test_deep.py (it needs torch).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sklearn.utils.estimator_checks import (
    check_estimator_repr,
    check_get_params_invariance,
    check_mixin_order,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
    parametrize_with_checks,
)

from nlp.features import ArticleText


@parametrize_with_checks([ArticleText()], xfail_strict=True)
def test_sklearn_checks(estimator: Any, check: Any) -> None:
    check(estimator)


def test_api_checks_that_need_no_data() -> None:
    # what parametrize_with_checks leaves out for a text-input step
    for check in (
        check_estimator_repr,
        check_get_params_invariance,
        check_mixin_order,
        check_no_attributes_set_in_init,
        check_parameters_default_constructible,
        check_set_params,
    ):
        check("ArticleText", ArticleText())


def test_frame_rules(corpus: pd.DataFrame) -> None:
    from tenfold.testing import check_frame_transformer

    check_frame_transformer(ArticleText(), corpus.head(50), validates_input=False)
