"""Ranking metrics against cases computed by hand (recommenders' definitions)."""

from __future__ import annotations

from math import log, log2

import pytest

from tenfold.ranking import (
    accuracy_at_k,
    catalogue_coverage,
    distributional_coverage,
    evaluate_rankings,
    novelty,
    user_scores,
)

# A: hits at ranks 2 and 5 of five, 3 relevant; B: a short list (2 < k) with its one
# relevant item first; C: 12 relevant items, hits at ranks 1 and 3 (MAP@k and MAP differ)
RECOMMENDED = {
    "A": [1, 2, 3, 4, 5],
    "B": [7, 8],
    "C": [1, 20, 2, 21, 22],
    "D": [1, 2, 3],  # no test items: not scored
}
RELEVANT = {"A": {2, 5, 9}, "B": {7}, "C": set(range(1, 13)), "E": {4}}  # E: no list


def test_per_user_values_by_hand() -> None:
    scores = user_scores(RECOMMENDED, RELEVANT, k=5)
    assert scores.users == ["A", "B", "C"]
    a, b, c = 0, 1, 2
    assert scores.precision[a] == pytest.approx(2 / 5)
    assert scores.recall[a] == pytest.approx(2 / 3)
    idcg3 = 1 / log(2) + 1 / log(3) + 1 / log(4)
    assert scores.ndcg[a] == pytest.approx((1 / log(3) + 1 / log(6)) / idcg3)
    assert scores.map_at_k[a] == pytest.approx((1 / 2 + 2 / 5) / 3)
    # a list shorter than k is still divided by k (Spark's precisionAt)
    assert scores.precision[b] == pytest.approx(1 / 5)
    assert scores.recall[b] == scores.ndcg[b] == scores.map_at_k[b] == pytest.approx(1.0)
    # more relevant items than k: MAP@k divides by k, MAP by all 12
    assert scores.map_at_k[c] == pytest.approx((1 + 2 / 3) / 5)
    assert scores.map[c] == pytest.approx((1 + 2 / 3) / 12)
    idcg5 = sum(1 / log(1 + i) for i in range(1, 6))
    assert scores.ndcg[c] == pytest.approx((1 / log(2) + 1 / log(4)) / idcg5)
    assert scores.recall[c] == pytest.approx(2 / 12)


def test_means_over_scored_users() -> None:
    metrics = accuracy_at_k(RECOMMENDED, RELEVANT, k=5)
    assert metrics["users"] == 3
    assert metrics["precision@5"] == pytest.approx((2 / 5 + 1 / 5 + 2 / 5) / 3)
    assert metrics["recall@5"] == pytest.approx((2 / 3 + 1 + 2 / 12) / 3)
    assert metrics["map@5"] == pytest.approx(((0.9 / 3) + 1 + (5 / 3) / 5) / 3)
    assert metrics["map"] == pytest.approx(((0.9 / 3) + 1 + (5 / 3) / 12) / 3)


def test_k_cuts_the_list_and_duplicates_count_once() -> None:
    assert accuracy_at_k({"u": [9, 1]}, {"u": {1}}, k=1)["precision@1"] == 0.0
    doubled = accuracy_at_k({"u": [1, 1, 2]}, {"u": {1}}, k=3)
    assert doubled["precision@3"] == pytest.approx(1 / 3)


def test_perfect_and_empty_rankings() -> None:
    perfect = accuracy_at_k({"u": [1, 2]}, {"u": {1, 2}}, k=2)
    assert perfect == {
        "precision@2": 1.0,
        "recall@2": 1.0,
        "ndcg@2": 1.0,
        "map@2": 1.0,
        "map": 1.0,
        "users": 1,
    }
    with pytest.raises(ValueError, match="no user"):
        accuracy_at_k({"u": [1]}, {"v": {1}}, k=1)
    with pytest.raises(ValueError, match="k must be"):
        user_scores({"u": [1]}, {"u": {1}}, k=0)


def test_beyond_accuracy_by_hand() -> None:
    counts = {"a": 2, "b": 1, "c": 1}  # 4 training interactions
    recs = {"u": ["a", "b"], "v": ["a", "z"]}  # z never seen in training
    # −log2(2/4) = 1 (twice), −log2(1/4) = 2, z adds 0; 4 recommendations
    assert novelty(recs, counts) == pytest.approx((1 + 2 + 1 + 0) / 4)
    assert catalogue_coverage(recs, ["a", "b", "c"]) == pytest.approx(3 / 3)
    assert catalogue_coverage({"u": ["a"]}, ["a", "b", "c", "c"]) == pytest.approx(1 / 3)
    # a twice, b and z once: p = 1/2, 1/4, 1/4
    assert distributional_coverage(recs) == pytest.approx(-(0.5 * log2(0.5) + 0.5 * log2(0.25)))


def test_evaluate_rankings_truncates_to_k() -> None:
    metrics = evaluate_rankings(
        {"u": ["a", "b", "c"]}, {"u": {"c"}}, k=2, training_counts={"a": 1, "b": 1, "c": 2}
    )
    assert metrics["precision@2"] == 0.0
    assert metrics["coverage"] == pytest.approx(2 / 3)
