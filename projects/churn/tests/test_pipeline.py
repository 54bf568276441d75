"""The stages run in memory on small frames; the fast serving path equals the Pipeline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from churn.config import ChurnConfig
from churn.data import make_synthetic
from churn.serve import ChurnPredictor, ChurnRequest
from churn.train import (
    fit_candidate,
    logistic_regression,
    make_folds,
    make_pipeline,
    prepare,
    split,
    tune_xgboost,
)
from tenfold.explain import encoded_mean
from tenfold.serving import ModelCard


def test_stages_in_memory_on_a_small_frame() -> None:
    cfg = dataclasses.replace(ChurnConfig(), cv_folds=3, n_trials=3, n_jobs=1)
    prepared = prepare(make_synthetic(240, seed=3), cfg)
    data = split(prepared, cfg)
    assert len(data.y_test) == 48
    assert set(data.y_train) == {0, 1}
    folds = make_folds(data, cfg)
    lr = fit_candidate(
        "logistic_regression",
        make_pipeline(prepared, logistic_regression(cfg), scale=True),
        data,
        folds,
        cfg,
        params={},
    )
    assert len(lr.fold_scores) == 3
    assert lr.oof_proba.shape == data.y_train.shape
    assert 0.01 <= lr.threshold <= 0.99
    tuning = tune_xgboost(prepared, data, folds, cfg)
    assert tuning.n_trials == 3
    assert "max_depth" in tuning.best_params


def test_the_model_learns_the_twins_signal(small_model) -> None:  # type: ignore[no-untyped-def]
    pipeline, data = small_model
    auc = roc_auc_score(data.y_test, pipeline.predict_proba(data.X_test)[:, 1])
    assert auc > 0.75  # the twin's churn depends on contract, tenure, fibre, payment


def test_threshold_follows_the_economics() -> None:
    """A dearer retention offer must never lower the chosen threshold."""
    cfg = dataclasses.replace(ChurnConfig(), cv_folds=3, n_jobs=1)
    prepared = prepare(make_synthetic(600, seed=4), cfg)
    data = split(prepared, cfg)
    folds = make_folds(data, cfg)
    pipe = make_pipeline(prepared, logistic_regression(cfg), scale=True)
    cheap = fit_candidate("lr", pipe, data, folds, cfg, params={})
    dear_cfg = dataclasses.replace(
        cfg, economics=dataclasses.replace(cfg.economics, offer_cost=150.0)
    )
    dear = fit_candidate("lr", pipe, data, folds, dear_cfg, params={})
    assert dear.threshold > cheap.threshold


@pytest.mark.parametrize("linear", [False, True])
def test_fast_path_equals_pipeline_probabilities(small_model, linear: bool) -> None:  # type: ignore[no-untyped-def]
    pipeline, data = small_model
    if linear:
        cfg = ChurnConfig()
        prepared = prepare(make_synthetic(1500, seed=7), cfg)
        pipeline = make_pipeline(prepared, logistic_regression(cfg), scale=True)
        pipeline.fit(data.X_train, data.y_train)
    predictor = ChurnPredictor(
        pipeline,
        threshold=0.4,
        card=ModelCard(name="t"),
        background_mean=encoded_mean(pipeline, data.X_train),
    )
    rows = data.X_test.head(40)
    requests = [
        ChurnRequest(
            **{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in row.items()}
        )
        for row in rows.to_dict("records")
    ]
    fast = np.array([p.churn_probability for p in predictor.predict(requests)])
    np.testing.assert_allclose(fast, pipeline.predict_proba(rows)[:, 1], atol=1e-4)
    frame = predictor.score_frame(rows)
    np.testing.assert_allclose(frame["churn_probability"], fast, atol=1e-4)
    assert frame["factor_3"].notna().all()
