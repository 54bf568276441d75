"""Top-k ranking metrics, with the Microsoft *recommenders* definitions, so numbers are
comparable with their published MovieLens benchmark.

A recommender's output is a ranked list of items per user; the truth is the set of items
each user interacted with in the test part (binary relevance: any test interaction is
relevant). Only users present in both are scored, as in recommenders'
``merge_ranking_true_pred``; each metric is the mean over those users:

- ``precision@k`` = hits in the top k / k (a list shorter than k is still divided by k);
- ``recall@k`` = hits in the top k / number of relevant items;
- ``ndcg@k``: binary gains, DCG = Σ over hits 1 / log(1 + rank), divided by the ideal DCG
  of min(relevant, k) hits (the log base cancels);
- ``map@k``: Σ over hits of (hits so far / rank), divided by min(relevant, k): Spark's
  ``meanAveragePrecisionAt``, which recommenders' ``map_at_k`` follows since 2023;
- ``map``: the same sum divided by the number of relevant items: recommenders' ``map``,
  the "MAP" column of their published benchmark tables.

Beyond accuracy (computed on all recommendation lists, recommenders' ``catalog_coverage``,
``distributional_coverage`` and ``novelty``):

- ``coverage``: distinct recommended items / distinct items in training;
- ``distributional_coverage``: entropy (bits) of how often each item is recommended;
- ``novelty``: mean over every recommendation of −log2(item's training interactions /
  all training interactions); items never seen in training add 0, as there.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

# user → ranked items and user → relevant items (any hashable ids)
Recommendations = Mapping[Any, Sequence[Any]]
Truth = Mapping[Any, Collection[Any]]


@dataclass(frozen=True)
class UserScores:
    """Per-user accuracy at k (one entry per scored user, in ``users`` order)."""

    users: list[Hashable]
    precision: np.ndarray
    recall: np.ndarray
    ndcg: np.ndarray
    map_at_k: np.ndarray
    map: np.ndarray


def user_scores(recommended: Recommendations, relevant: Truth, k: int) -> UserScores:
    """Accuracy at ``k`` of every user present in both ``recommended`` and ``relevant``
    (users with an empty truth set are not scored: they have nothing to find)."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    users = [u for u in relevant if relevant[u] and u in recommended]
    n = len(users)
    out = {name: np.zeros(n) for name in ("precision", "recall", "ndcg", "map_at_k", "map")}
    # ideal DCG of the first m hits, m = 0..k
    discounts = 1.0 / np.log(np.arange(2, k + 2))
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])
    for row, user in enumerate(users):
        truth = relevant[user]
        truth_set = truth if isinstance(truth, set | frozenset) else set(truth)
        top = _dedupe(recommended[user])[:k]
        hits = np.fromiter((item in truth_set for item in top), dtype=bool, count=len(top))
        n_rel = len(truth_set)
        n_hits = int(hits.sum())
        out["precision"][row] = n_hits / k
        out["recall"][row] = n_hits / n_rel
        out["ndcg"][row] = float(discounts[: len(top)][hits].sum()) / ideal[min(n_rel, k)]
        if n_hits:
            ranks = np.flatnonzero(hits) + 1
            precision_at_hits = float((np.arange(1, n_hits + 1) / ranks).sum())
            out["map_at_k"][row] = precision_at_hits / min(n_rel, k)
            out["map"][row] = precision_at_hits / n_rel
    return UserScores(users=users, **out)


def _dedupe(items: Iterable[Hashable]) -> list[Hashable]:
    """A list with repeats removed (first occurrence kept): an item recommended twice
    must not count as two hits."""
    return list(dict.fromkeys(items))


def accuracy_at_k(recommended: Recommendations, relevant: Truth, k: int) -> dict[str, float]:
    """``precision@k``, ``recall@k``, ``ndcg@k``, ``map@k``, ``map`` and ``users``."""
    scores = user_scores(recommended, relevant, k)
    if not scores.users:
        raise ValueError("no user has both recommendations and relevant items")
    return {
        f"precision@{k}": float(scores.precision.mean()),
        f"recall@{k}": float(scores.recall.mean()),
        f"ndcg@{k}": float(scores.ndcg.mean()),
        f"map@{k}": float(scores.map_at_k.mean()),
        "map": float(scores.map.mean()),
        "users": len(scores.users),
    }


def catalogue_coverage(recommended: Recommendations, training_items: Collection[Any]) -> float:
    """Distinct recommended items / distinct items in training."""
    if not training_items:
        raise ValueError("training has no items")
    distinct = {item for items in recommended.values() for item in items}
    return len(distinct) / len(set(training_items))


def distributional_coverage(recommended: Recommendations) -> float:
    """Entropy (bits) of the recommendation frequency of each item: higher = the lists
    spread over more of the catalogue more evenly."""
    counts = Counter(item for items in recommended.values() for item in items)
    total = sum(counts.values())
    if total == 0:
        return 0.0
    p = np.fromiter(counts.values(), dtype=float) / total
    return float(-(p * np.log2(p)).sum())


def novelty(recommended: Recommendations, training_counts: Mapping[Any, int]) -> float:
    """Mean self-information −log2(p(item)) of the recommendations, p = the item's share
    of all training interactions (Castells et al. 2011, item choice model)."""
    n_records = sum(training_counts.values())
    n_recommendations = sum(len(items) for items in recommended.values())
    if n_records == 0 or n_recommendations == 0:
        return 0.0
    total = 0.0
    for items in recommended.values():
        for item in items:
            count = training_counts.get(item, 0)
            if count > 0:
                total += -math.log2(count / n_records)
    return total / n_recommendations


def evaluate_rankings(
    recommended: Recommendations,
    relevant: Truth,
    k: int,
    *,
    training_counts: Mapping[Any, int],
) -> dict[str, float]:
    """Accuracy at ``k`` and the beyond-accuracy metrics of the top-``k`` lists, in one
    mapping (``training_counts``: interactions per item in the training part)."""
    top_k = {user: list(items)[:k] for user, items in recommended.items()}
    return {
        **accuracy_at_k(top_k, relevant, k),
        "coverage": catalogue_coverage(top_k, [i for i, c in training_counts.items() if c > 0]),
        "distributional_coverage": distributional_coverage(top_k),
        "novelty": novelty(top_k, training_counts),
    }
