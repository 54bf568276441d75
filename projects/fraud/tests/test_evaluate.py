"""The fraud metrics on hand-made examples, costs, and the README's results table."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from fraud.config import PROJECT_DIR, Economics, FraudConfig
from fraud.evaluate import (
    average_precision_from_ranks,
    card_precision_at_k,
    dense_rank,
    recall_at_budget,
    results_table,
)
from fraud.train import cost_at, cost_curve
from tenfold.reports import read_section
from tenfold.repro import read_metrics

CFG = FraudConfig()


@pytest.mark.parametrize("decimals", [1, 2, 6])
def test_rank_average_precision_equals_sklearn(decimals: int) -> None:
    rng = np.random.default_rng(decimals)
    y = (rng.random(3000) < 0.02).astype(int)
    score = np.round(rng.random(3000) * 0.7 + 0.3 * y, decimals)  # coarse rounding: ties
    ours = average_precision_from_ranks(y, dense_rank(score))
    assert ours == pytest.approx(average_precision_score(y, score), abs=1e-12)


def test_card_precision_removes_cards_already_caught() -> None:
    # day 0: A (fraud, 0.9), B (genuine, 0.8), C (fraud, 0.1); k = 2 → {A, B}: 1/2
    # day 1: A again (0.95) is already blocked; C (fraud, 0.7), D (0.2) → {C, D}: 1/2
    day = np.array([0.1, 0.2, 0.3, 1.1, 1.2, 1.3, 1.4])
    card = np.array(["A", "B", "C", "A", "C", "D", "D"])
    y = np.array([1, 0, 1, 1, 1, 0, 0])
    score = np.array([0.9, 0.8, 0.1, 0.95, 0.7, 0.2, 0.05])
    mean, per_day = card_precision_at_k(day, card, y, score, k=2)
    assert per_day == [0.5, 0.5]  # without the removal, day 1 would score 1.0
    assert mean == 0.5


def test_a_card_is_scored_by_its_riskiest_transaction() -> None:
    # one card, a genuine transaction scored high and a fraud scored low: it is caught
    day = np.array([0.0, 0.5, 0.6])
    card = np.array([7, 7, 8])
    _, per_day = card_precision_at_k(day, card, np.array([0, 1, 0]), np.array([0.9, 0.1, 0.5]), k=1)
    assert per_day == [1.0]


def test_recall_at_a_daily_alert_budget() -> None:
    day = np.array([0.0, 0.1, 0.2, 0.3, 1.0, 1.5])
    y = np.array([1, 0, 1, 0, 1, 0])
    score = np.array([0.9, 0.8, 0.7, 0.1, 0.6, 0.5])
    # day 0: the top 2 hold one of its two frauds; day 1: its fraud is first
    assert recall_at_budget(day, y, score, per_day=2) == pytest.approx(2 / 3)


def test_costs_by_hand() -> None:
    cfg = dataclasses.replace(CFG, economics=Economics(review_cost=5.0))
    y = np.array([1, 0, 1])
    amount = np.array([100.0, 50.0, 10.0])
    proba = np.array([0.9, 0.6, 0.2])
    # alerts on rows 0 and 1 (two reviews), row 2's fraud is lost
    assert cost_at(y, proba, amount, 0.5, cfg) == 5 + 5 + 10
    curve = cost_curve(y, proba, amount, cfg)
    # the best is 15: review all three, or only row 0 and lose 10; ties go to the lowest
    assert -curve.best_value == 15
    assert curve.best_threshold == 0.001


def test_dearer_reviews_raise_the_threshold() -> None:
    rng = np.random.default_rng(0)
    y = (rng.random(5000) < 0.01).astype(int)
    proba = np.clip(rng.beta(1, 30, 5000) + 0.5 * y * rng.random(5000), 0, 1)
    amount = rng.gamma(2.0, 60.0, 5000)
    cheap = cost_curve(y, proba, amount, CFG).best_threshold
    dear_cfg = dataclasses.replace(CFG, economics=Economics(review_cost=50.0))
    dear = cost_curve(y, proba, amount, dear_cfg).best_threshold
    assert dear > cheap


def test_readme_table_is_the_committed_metrics() -> None:
    metrics = read_metrics(PROJECT_DIR / "reports" / "metrics.json")
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert read_section(readme, "results") == results_table(metrics).strip()
