"""The model objects: one serializable pipeline, honest CV, CV+ intervals, robustness to
what a request can contain."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pytest
from sklearn.base import clone

from housing.config import HousingConfig
from housing.intervals import LogRatioScore
from housing.train import (
    Candidate,
    Prepared,
    make_folds,
    model_scale_rmse,
    stack,
    stack_weights,
    standalone,
)
from tenfold.tuning import out_of_fold

Params = dict[str, dict[str, Any]]


def test_joblib_round_trip_gives_identical_prices_and_intervals(
    small_stack: Candidate, prepared: Prepared, tmp_path: Path
) -> None:
    path = tmp_path / "stack.joblib"
    joblib.dump(small_stack.model, path)
    loaded = joblib.load(path)
    X = prepared.X_heldout
    before = small_stack.model.predict_interval(X)
    after = loaded.predict_interval(X)
    for a, b in zip(before, after, strict=True):
        assert np.array_equal(a, b)


def test_a_member_pipeline_round_trips_and_predicts_prices(
    prepared: Prepared, small_cfg: HousingConfig, small_params: Params, tmp_path: Path
) -> None:
    model = standalone(prepared, "lightgbm", small_cfg, small_params["lightgbm"]).fit(
        prepared.X, prepared.y
    )
    joblib.dump(model, tmp_path / "lgbm.joblib")
    loaded = joblib.load(tmp_path / "lgbm.joblib")
    pred = loaded.predict(prepared.X_heldout)
    assert np.array_equal(pred, model.predict(prepared.X_heldout))
    # the log target is undone: predictions are prices, not log prices
    assert 20_000 < np.median(pred) < 1_000_000


def test_unseen_categories_and_missing_values_at_prediction_time(
    small_stack: Candidate, prepared: Prepared
) -> None:
    rows = prepared.X_heldout.head(3).copy()
    rows["Neighborhood"] = ["Atlantis", "NAmes", "NAmes"]
    rows["KitchenQual"] = ["Superb", None, "TA"]
    rows["MSZoning"] = [None, "ZZ", "RL"]
    keep = ["Neighborhood", "GrLivArea", "OverallQual", "YearBuilt"]
    # the third house: nothing but the four fields the API requires
    rows.loc[rows.index[2], [c for c in rows.columns if c not in keep]] = np.nan
    point, lower, upper = small_stack.model.predict_interval(rows)
    assert np.isfinite(point).all()
    assert (point > 0).all()
    assert (lower < point).all()
    assert (point < upper).all()


def test_stack_cv_from_the_conformal_fits_equals_an_independent_cv(
    small_stack: Candidate, prepared: Prepared, small_cfg: HousingConfig, small_params: Params
) -> None:
    """The stack's CV score is read off MAPIE's CV+ fits; refitting the same pipeline on
    the same folds from scratch must give the same out-of-fold predictions."""
    folds = make_folds(len(prepared.y), small_cfg)
    oof, scores = out_of_fold(
        stack(prepared, small_cfg, small_params),
        prepared.X,
        prepared.y,
        folds,
        model_scale_rmse(prepared),
        proba=False,
    )
    np.testing.assert_allclose(small_stack.oof["oof_prediction"], oof, rtol=1e-9)
    np.testing.assert_allclose(small_stack.fold_scores, scores, rtol=1e-9)


def test_cv_refits_the_preprocessing_in_every_fold(
    prepared: Prepared, small_cfg: HousingConfig, small_params: Params
) -> None:
    """A clone of the pipeline is unfitted: nothing learned travels between folds."""
    model = standalone(prepared, "ridge", small_cfg, small_params["ridge"]).fit(
        prepared.X, prepared.y
    )
    fresh = clone(model)
    assert not hasattr(fresh, "regressor_")
    with pytest.raises(Exception, match="not fitted"):
        fresh.predict(prepared.X.head(1))


def test_log_ratio_score() -> None:
    score = LogRatioScore()
    y, pred = np.array([110.0, 90.0]), np.array([100.0, 100.0])
    signed = score.get_signed_conformity_scores(y, pred)
    np.testing.assert_allclose(signed, [np.log(1.1), np.log(0.9)])
    # the bound at score q is the prediction times exp(q): relative, not additive
    np.testing.assert_allclose(score.get_estimation_distribution(pred, signed), y)
    with pytest.raises(ValueError, match="positive"):
        score.get_signed_conformity_scores(np.array([-1.0]), np.array([1.0]))


def test_stack_blends_with_non_negative_weights(small_stack: Candidate) -> None:
    weights = stack_weights(small_stack)
    members = {k: v for k, v in weights.items() if k != "intercept"}
    assert set(members) == {"ridge", "random_forest", "lightgbm"}
    assert all(w >= 0 for w in members.values())
    assert sum(members.values()) > 0.5


def test_intervals_cover_most_held_out_twin_sales(
    small_stack: Candidate, prepared: Prepared
) -> None:
    _point, lower, upper = small_stack.model.predict_interval(prepared.X_heldout)
    covered = np.mean((prepared.y_heldout >= lower) & (prepared.y_heldout <= upper))
    # 90 % nominal on ~300 sales: anything far from it means the interval is broken
    assert 0.8 <= covered <= 0.98
