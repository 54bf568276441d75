"""Credit features: engineered columns and the preprocessing schema.

:func:`engineer` computes them on a mapping of column → values (scalars or arrays);
the Pipeline step :class:`CreditFeatures` calls it on a DataFrame's columns and the API
on a request's values, so training and serving share one definition.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from mlops.config import BILL_AMOUNTS, MODEL_INPUTS, PAY_AMOUNTS, PAY_STATUS
from tenfold.pipelines import ColumnFeatures, TabularSchema, as_floats

ENGINEERED = (
    "education_level",
    "utilisation",
    "months_delayed",
    "worst_delay",
    "repayment_ratio",
    "bill_trend",
)
# the raw EDUCATION code is replaced by education_level (the file's undocumented codes
# 0, 5 and 6 folded into 4, "others")
NUMERIC = (*(c for c in MODEL_INPUTS if c != "EDUCATION"), *ENGINEERED)


def engineer(columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
    """Engineered columns from the raw ones.

    - ``utilisation``: the latest bill over the credit limit;
    - ``months_delayed`` / ``worst_delay``: how many of the six months were paid late
      and the longest delay, the strongest signals of a coming default;
    - ``repayment_ratio``: six months of payments over six months of bills (capped at
      2: a client repaying an old balance is not "more than twice as good");
    - ``bill_trend``: the latest bill minus the average of the six (a growing balance).
    """
    education = as_floats(columns["EDUCATION"])
    limit = as_floats(columns["LIMIT_BAL"])
    status = np.stack([as_floats(columns[c]) for c in PAY_STATUS])
    bills = np.stack([as_floats(columns[c]) for c in BILL_AMOUNTS])
    paid = np.stack([as_floats(columns[c]) for c in PAY_AMOUNTS])
    billed = np.clip(bills, 0.0, None).sum(axis=0)
    return {
        "education_level": np.where(np.isin(education, (1.0, 2.0, 3.0, 4.0)), education, 4.0),
        "utilisation": bills[0] / np.maximum(limit, 1.0),
        "months_delayed": (status > 0).sum(axis=0).astype(float),
        "worst_delay": status.max(axis=0),
        "repayment_ratio": np.minimum(paid.sum(axis=0) / np.maximum(billed, 1.0), 2.0),
        "bill_trend": bills[0] - bills.mean(axis=0),
    }


class CreditFeatures(ColumnFeatures):
    """Adds the engineered columns (stateless: see :class:`tenfold.pipelines.ColumnFeatures`)."""

    requires = MODEL_INPUTS
    adds = ENGINEERED

    def compute(self, columns: Mapping[str, Any]) -> dict[str, np.ndarray]:
        return engineer(columns)


def credit_schema() -> TabularSchema:
    """Every input is a number (the repayment statuses are ordered months of delay)."""
    return TabularSchema(numeric=NUMERIC)
