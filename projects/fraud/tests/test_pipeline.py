"""The stages in memory on the small world: every variant trains on the same folds, the
evaluation document holds what the README needs, and the fast path equals the Pipeline."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fraud.config import Boosting, FraudConfig
from fraud.evaluate import evaluate
from fraud.serve import FraudPredictor, FraudRequest
from fraud.train import (
    VARIANTS,
    FraudResult,
    TrainingData,
    background_mean,
    choose_best,
    fit_candidate,
    make_pipeline,
)
from tenfold.data import DataSource
from tenfold.serving import ModelCard
from tenfold.training import TrainResult


@pytest.fixture(scope="module")
def small_result(small_prepared, small_cfg: FraudConfig) -> FraudResult:  # type: ignore[no-untyped-def]
    prepared, periods = small_prepared
    cfg = dataclasses.replace(small_cfg, boosting=Boosting(n_estimators=40))
    candidates = {name: fit_candidate(name, prepared, periods, cfg) for name in VARIANTS}
    source = DataSource(dataset="fraud-simulator", kind="synthetic", origin="synthetic")
    return TrainResult(
        candidates,
        choose_best(candidates),
        TrainingData(prepared, periods),
        source,
        periods.split.X_train.head(5),
    )


def test_variants_share_folds_and_pick_thresholds(small_result: FraudResult) -> None:
    rows = {tuple(c.valid_rows) for c in small_result.candidates.values()}
    assert len(rows) == 1  # the same validation rows for every variant
    for candidate in small_result.candidates.values():
        assert len(candidate.fold_scores) == 3
        assert 0.001 <= candidate.threshold <= 0.999
        # tuning the threshold on validation can only match or beat 0.5 there
        assert candidate.validation_cost <= candidate.validation_cost_default
    costs = {n: c.validation_cost for n, c in small_result.candidates.items()}
    assert costs[small_result.best_name] == min(costs.values())


def test_evaluation_document(small_result: FraudResult, small_cfg: FraudConfig) -> None:
    evaluation = evaluate(small_result, small_cfg)
    doc = evaluation.metrics
    periods = small_result.data.periods
    y, amount = periods.split.y_test, periods.meta_test["amount"].to_numpy()
    assert doc["baselines"]["test"]["no_model"] == pytest.approx(amount[y == 1].sum())
    assert doc["baselines"]["test"]["flag_everything"] == len(y) * 5.0
    for name in VARIANTS:
        test = doc["models"][name]["test"]
        low, high = test["auprc_ci95"]
        assert low <= test["auprc"] <= high
        tuned = test["at_tuned_threshold"]
        assert tuned["savings_vs_no_model"] == pytest.approx(
            doc["baselines"]["test"]["no_model"] - tuned["cost"]
        )
        assert len(test["card_precision@100_per_day"]) == small_cfg.protocol.test
        assert test["card_precision@100"] <= doc["baselines"]["test"]["card_precision@100_perfect"]
    # the models learn the simulator's frauds: far better than chance (prevalence ~0.5 %)
    assert doc["models"]["lightgbm"]["test"]["auprc"] > 0.3
    assert set(evaluation.figures) == {
        "pr.png",
        "cost_threshold.png",
        "cost_test.png",
        "card_precision.png",
        "reason_codes.png",
        "timeline.png",
    }


@pytest.mark.parametrize("variant", ["lightgbm", "lightgbm_smote", "logistic_regression"])
def test_fast_path_equals_pipeline(small_model, small_prepared, variant: str) -> None:  # type: ignore[no-untyped-def]
    prepared, periods = small_prepared
    pipeline = small_model[0]
    if variant != "lightgbm":
        cfg = dataclasses.replace(FraudConfig(), boosting=Boosting(n_estimators=30))
        pipeline = make_pipeline(prepared, variant, cfg)
        pipeline.fit(periods.split.X_train, periods.split.y_train)
    predictor = FraudPredictor(
        pipeline,
        threshold=0.2,
        review_cost=5.0,
        card=ModelCard(name="t"),
        background_mean=background_mean(pipeline, periods.split.X_train),
    )
    rows = periods.split.X_test.iloc[::997].head(30)
    requests = [
        FraudRequest(**{k: (v.to_pydatetime() if k == "tx_datetime" else v) for k, v in r.items()})
        for r in rows.to_dict("records")
    ]
    fast = np.array([p.fraud_probability for p in predictor.predict(requests)])
    np.testing.assert_allclose(fast, pipeline.predict_proba(rows)[:, 1], atol=1e-4)
    frame = predictor.score_frame(rows)
    np.testing.assert_allclose(frame["fraud_probability"], fast, atol=1e-4)
    assert frame["reason_3"].notna().all()
