"""The compiled TreeSHAP gives XGBoost's own pred_contribs, to float32 precision."""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from tenfold.treeshap import compile_xgboost


def data(n: int = 400, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 6))
    X[:, 5] = rng.integers(0, 2, n)  # a one-hot-like binary column
    X[rng.random((n, 6)) < 0.05] = np.nan  # missing values take the default branch
    filled = np.nan_to_num(X)
    y = filled[:, 0] * 2 - filled[:, 1] ** 2 + filled[:, 5]
    return X, y


@pytest.mark.parametrize(
    ("objective", "depth"),
    [("binary:logistic", 3), ("binary:logistic", 6), ("reg:squarederror", 4)],
)
def test_matches_pred_contribs(objective: str, depth: int) -> None:
    X, y = data()
    target = (y > 0).astype(int) if objective.startswith("binary") else y
    booster = xgb.train(
        {
            "objective": objective,
            "max_depth": depth,
            "eta": 0.3,
            "subsample": 0.8,
            "seed": 1,
            "nthread": 1,
        },
        xgb.DMatrix(X, label=target),
        num_boost_round=40,
    )
    compiled = compile_xgboost(booster)
    assert compiled is not None
    test, _ = data(50, seed=2)
    expected = booster.predict(xgb.DMatrix(test), pred_contribs=True)
    got = compiled.contributions(test)
    np.testing.assert_allclose(got, expected, atol=2e-5)
    # deep trees on 6 features test the same feature twice on a path
    margin = booster.predict(xgb.DMatrix(test), output_margin=True)
    np.testing.assert_allclose(got.sum(axis=1), margin, atol=2e-5)


def test_unsupported_objective_returns_none() -> None:
    X, y = data()
    booster = xgb.train(
        {"objective": "multi:softprob", "num_class": 3, "max_depth": 2},
        xgb.DMatrix(X, label=(y > 0).astype(int) + (y > 2)),
        num_boost_round=3,
    )
    assert compile_xgboost(booster) is None
