"""Data, features and the calibrated scorecard: facts that could be false."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from mlops.config import MODEL_INPUTS, TARGET, MlopsConfig
from mlops.data import make_synthetic
from mlops.features import CreditFeatures, engineer
from mlops.scorecard import CalibratedScorecard, logit, points
from mlops.serve import EXAMPLE, CreditApplication, ScorecardPredictor
from mlops.train import make_pipeline, retrain
from tenfold.data import Manifest, check_frame


def test_twin_has_the_real_schema_and_default_rate() -> None:
    frame = make_synthetic(4000, seed=1)
    spec = Manifest.load()["credit-scoring"].file("UCI_Credit_Card.csv")
    check_frame(frame, spec.columns, label="twin")
    assert 0.15 < frame[TARGET].mean() < 0.30
    # the latest delay is the strongest signal, as in the real file
    late = frame["PAY_0"] > 0
    assert frame.loc[late, TARGET].mean() > 2 * frame.loc[~late, TARGET].mean()


def test_engineered_features_on_a_hand_computed_row() -> None:
    row = dict.fromkeys(MODEL_INPUTS, 0.0)
    row.update(
        LIMIT_BAL=10_000,
        EDUCATION=6,
        PAY_0=2,
        PAY_2=1,
        PAY_3=-1,
        BILL_AMT1=5_000,
        BILL_AMT2=1_000,
        PAY_AMT1=600,
        PAY_AMT2=0,
    )
    out = engineer(row)
    assert out["education_level"] == 4.0  # undocumented code 6 → "others"
    assert out["utilisation"] == pytest.approx(0.5)
    assert out["months_delayed"] == 2.0
    assert out["worst_delay"] == 2.0
    assert out["repayment_ratio"] == pytest.approx(600 / 6_000)
    assert out["bill_trend"] == pytest.approx(5_000 - 6_000 / 6)


def test_features_step_equals_the_function_on_a_frame() -> None:
    frame = make_synthetic(50, seed=3)[list(MODEL_INPUTS)].astype(float)
    step = CreditFeatures().fit(frame)
    transformed = step.transform(frame)
    expected = engineer({c: frame[c].to_numpy() for c in MODEL_INPUTS})
    for name, values in expected.items():
        np.testing.assert_allclose(transformed[name].to_numpy(), values)


def test_calibration_never_sees_its_own_training_rows() -> None:
    """The out-of-fold log-odds equal those of a model refitted without each fold."""
    frame = make_synthetic(600, seed=5)
    X, y = frame[list(MODEL_INPUTS)].astype(float), frame[TARGET].to_numpy()
    pipeline = make_pipeline(LogisticRegression(max_iter=2000), scale=True)
    model = CalibratedScorecard(pipeline, cv=3, random_state=0).fit(X, y)
    from sklearn.model_selection import StratifiedKFold

    train_idx, valid_idx = next(StratifiedKFold(3, shuffle=True, random_state=0).split(X, y))
    refit = make_pipeline(LogisticRegression(max_iter=2000), scale=True).fit(
        X.iloc[train_idx], y[train_idx]
    )
    np.testing.assert_allclose(
        model.oof_margin_[valid_idx], refit.decision_function(X.iloc[valid_idx]), rtol=1e-6
    )
    assert model.fold_scores_[0] == pytest.approx(
        roc_auc_score(y[valid_idx], model.oof_margin_[valid_idx])
    )


def test_calibration_fixes_a_biased_model(small_model: tuple[CalibratedScorecard, Any]) -> None:
    """Platt scaling on out-of-fold log-odds brings the mean PD to the observed rate."""
    model, data = small_model
    p = model.predict_proba(data.X_test)[:, 1]
    assert abs(p.mean() - data.y_test.mean()) < 0.03
    np.testing.assert_allclose(
        model.decision_function(data.X_test),
        model.slope_ * logit(model.pipeline_.predict_proba(data.X_test)[:, 1]) + model.intercept_,
        rtol=1e-6,
    )


def test_reason_codes_are_exact_shares_of_the_calibrated_score(
    predictor: ScorecardPredictor, small_model: tuple[CalibratedScorecard, Any]
) -> None:
    """Contributions × slope plus the calibrated base value give the model's own
    calibrated log-odds, row by row, on the fast path and the batch path."""
    model, data = small_model
    rows = data.X_test.head(20)
    expected = model.decision_function(rows)
    fast = predictor.score_columns({c: rows[c].to_numpy() for c in rows.columns})
    np.testing.assert_allclose(
        fast.contributions.sum(axis=1) + fast.base_value, expected, rtol=1e-4, atol=1e-4
    )
    one = predictor.score_columns(rows.iloc[0].to_dict())
    assert one.margin[0] == pytest.approx(expected[0], abs=1e-4)
    frame = predictor.score_frame(rows)
    np.testing.assert_allclose(
        frame["probability_of_default"], np.round(model.predict_proba(rows)[:, 1], 4), atol=1.5e-4
    )


def test_points_follow_the_scale() -> None:
    """600 points at odds 50:1, 20 more for each doubling of the odds."""
    scale = MlopsConfig().scale
    kwargs = {"base_score": scale.base_score, "base_odds": scale.base_odds, "pdo": scale.pdo}
    at_base = points(np.log(1 / 50), **kwargs)
    doubled = points(np.log(1 / 100), **kwargs)
    assert float(at_base) == pytest.approx(600.0)
    assert float(doubled - at_base) == pytest.approx(20.0)


def test_predictions_and_reason_codes(predictor: ScorecardPredictor) -> None:
    risky = CreditApplication(**EXAMPLE)
    safe = CreditApplication(
        **{**EXAMPLE, **{c: -1 for c in MODEL_INPUTS if c.startswith("PAY_") and "AMT" not in c}}
    )
    out_risky, out_safe = predictor.predict([risky, safe])
    assert out_risky.probability_of_default > out_safe.probability_of_default
    assert out_risky.score < out_safe.score
    assert out_risky.application_id == "A-000001"
    codes = [c.model_dump() for c in out_risky.reason_codes]
    from tenfold.testing import check_reason_codes

    check_reason_codes(codes, k=3, outcome="default risk")
    assert any(c["direction"] == "increases" for c in codes)


def test_retrain_keeps_the_design_and_refits(
    small_model: tuple[CalibratedScorecard, Any], cfg: MlopsConfig
) -> None:
    model, data = small_model
    X, y = data.X_test, data.y_test
    candidate = retrain(model, X, y, cfg)
    booster = candidate.model.pipeline_.named_steps["model"]
    assert booster.get_params()["n_estimators"] == 40  # the champion's design
    assert candidate.params["max_depth"] == 3
    assert not np.allclose(candidate.model.predict_proba(X)[:, 1], model.predict_proba(X)[:, 1])
    with pytest.raises(Exception, match="both outcomes"):
        retrain(model, X.head(5), np.zeros(5, dtype=int), cfg)


def test_sex_and_marriage_are_not_model_inputs() -> None:
    assert "SEX" not in MODEL_INPUTS
    assert "MARRIAGE" not in MODEL_INPUTS
    assert "SEX" not in CreditApplication.model_fields
    frame = pd.DataFrame([EXAMPLE])
    assert set(MODEL_INPUTS) <= set(frame.columns)
