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


# --------------------------------------------------------------------------- batches


@pytest.mark.parametrize("threads", [1, 2])
def test_batch_xgboost_equals_pred_contribs_bit_for_bit(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Deep trees take the sparse cache, shallow ones the dense table; a second call
    reuses the cache and may meet new codes; two threads share the work. Equality is
    exact, not approximate."""
    import tenfold.treeshap
    from tenfold.treeshap import batch_xgboost

    monkeypatch.setattr(tenfold.treeshap, "_THREADED_ROWS", 0)

    X, y = data(600)
    for depth in (3, 6):
        booster = xgb.train(
            {"objective": "binary:logistic", "max_depth": depth, "eta": 0.3, "nthread": 1},
            xgb.DMatrix(X, label=(y > 0).astype(int)),
            num_boost_round=30,
        )
        batch = batch_xgboost(booster)
        assert batch is not None
        batch.workers = threads
        for seed in (2, 3):
            test, _ = data(500, seed=seed)
            expected = booster.predict(xgb.DMatrix(test), pred_contribs=True)
            got = batch.contributions(test)
            assert got.dtype == expected.dtype
            assert np.array_equal(got, expected), np.abs(got - expected).max()


def test_batch_lightgbm_equals_pred_contrib() -> None:
    """Missing values (NaN as a learnt direction) and values stored as "None"-missing
    splits (NaN compared as 0) both follow LightGBM's own rule."""
    import lightgbm as lgb

    from tenfold.treeshap import batch_lightgbm

    X, y = data(2000)
    dense = np.nan_to_num(X)
    for train_X in (X, dense):  # with NaN in training: missing_type NaN; without: None
        model = lgb.LGBMClassifier(
            n_estimators=40, num_leaves=15, min_child_samples=10, verbose=-1, n_jobs=1
        ).fit(train_X, (y > 0).astype(int))
        booster = model.booster_
        batch = batch_lightgbm(booster)
        assert batch is not None
        test, _ = data(700, seed=4)
        expected = booster.predict(test, pred_contrib=True)
        got = batch.contributions(test)
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_pattern_shapley_equals_the_brute_force_table() -> None:
    """The polynomial-division tables equal the enumeration of coalitions."""
    from tenfold.treeshap import _pattern_shapley, _shapley_table

    rng = np.random.default_rng(0)
    for k in (1, 2, 4):
        value, ratio = rng.normal(size=5), rng.uniform(0.05, 0.95, (5, k))
        np.testing.assert_allclose(
            _pattern_shapley(value, ratio), _shapley_table(value, ratio), atol=1e-12
        )


def test_batch_check_refuses_a_wrong_routine() -> None:
    """The first call compares with the library itself: a mismatch is an error, not a
    silently wrong file."""
    from tenfold.treeshap import BatchTreeShap, Split

    batch = BatchTreeShap(
        [Split(0, 0, 0, 0.5, True)],
        n_features=1,
        bias=0.0,
        comparison="less",
        dtype=np.float32,
        per_tree=lambda t, codes, rows: np.ones((len(codes), 1), dtype=np.float32),
        library=lambda X: np.zeros((len(X), 2), dtype=np.float32),
    )
    with pytest.raises(RuntimeError, match="differs from the library"):
        batch.contributions(np.array([[0.1], [0.9]]))
