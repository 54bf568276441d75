"""Exact path-dependent TreeSHAP for a small batch, in vectorised numpy.

XGBoost's ``pred_contribs`` is exact but costs a DMatrix and a C++ call per request:
about 0.45 ms for 400 depth-3 trees on one row, half the latency budget of an API.
This computes the same values with a handful of numpy operations.

Why it works: path-dependent TreeSHAP is the Shapley value of the game
``v(S) = Σ_leaves value · Π_(nodes on the path) (x follows the path if the node's
feature is in S, else the node's cover ratio)``. Grouping the path's nodes by feature
makes each leaf a product game over its own path features ``U``: feature ``u`` counts
``s_u`` (does x satisfy every condition on ``u`` along the path, 0 or 1) when present
and ``R_u`` (the product of its cover ratios) when absent. A leaf's Shapley values
therefore depend on x only through the bit pattern ``s``; there are ``2^|U|`` patterns,
all precomputed at load time. Scoring a row is: evaluate every path condition, pack the
bits into a pattern per leaf, look up, and add by feature.

The table has ``leaves × 2^depth × depth`` entries, so it suits the compact ensembles a
latency-sensitive API uses; :func:`compile_xgboost` returns None for anything it does not
cover (categorical splits, other objectives, huge tables) and callers fall back to
XGBoost itself. Tests check equality with ``pred_contribs``.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

SUPPORTED_OBJECTIVES = {
    "binary:logistic": "logit",
    "reg:squarederror": "identity",
    "reg:logistic": "logit",
}
MAX_TABLE_ENTRIES = 20_000_000


@dataclass(frozen=True)
class _Paths:
    """Every leaf's root path, padded to the deepest (padding nodes never fail)."""

    feature: np.ndarray  # (L, D) feature index per path node (padding: 0)
    threshold: np.ndarray  # (L, D) float32
    go_left: np.ndarray  # (L, D) bool: the path takes the left child here
    default_left: np.ndarray  # (L, D) bool: where a missing value goes
    bit: np.ndarray  # (L, D) int64: 1 << (position of the node's feature in U); 0 = padding
    full: np.ndarray  # (L,) int64: 2^|U| - 1, the pattern of a row that follows the path
    unique_feature: np.ndarray  # (L, K) feature index of each position (padding: bias column)
    table: np.ndarray  # (L, 2^K, K) Shapley value of each position, per pattern


class CompiledTreeShap:
    """Contributions with the layout of ``pred_contribs``: one column per feature, then
    the bias (expected value of the ensemble plus the base margin)."""

    def __init__(self, paths: _Paths, n_features: int, bias: float) -> None:
        self._paths = paths
        self.n_features = n_features
        self.bias = bias

    def contributions(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)  # XGBoost compares in float32
        n, width = len(X), self.n_features + 1
        p = self._paths
        values = X[:, p.feature]  # (n, L, D)
        went_left = np.where(np.isnan(values), p.default_left, values < p.threshold)
        failed = np.bitwise_or.reduce(np.where(went_left == p.go_left, 0, p.bit), axis=2)
        pattern = p.full & ~failed  # (n, L)
        phi = p.table[np.arange(len(p.table)), pattern]  # (n, L, K)
        # padding positions point at the bias column and hold 0: adding them is harmless
        index = (np.arange(n)[:, None, None] * width) + p.unique_feature
        out: np.ndarray = (
            np.bincount(
                np.broadcast_to(index, phi.shape).ravel(), weights=phi.ravel(), minlength=n * width
            )
            .astype(np.float64)
            .reshape(n, width)
        )
        out[:, -1] += self.bias
        return out


def _shapley_table(value: np.ndarray, ratio: np.ndarray) -> np.ndarray:
    """(L, 2^k, k) Shapley values of the product games of ``L`` leaves with ``k`` players.

    Player u contributes ``s_u`` (pattern bit) when in the coalition, ``ratio[:, u]``
    when not; the game's value is ``value · Π_u (...)``.
    """
    n_leaves, k = ratio.shape
    table = np.zeros((n_leaves, 2**k, k))
    weight = [math.factorial(s) * math.factorial(k - s - 1) / math.factorial(k) for s in range(k)]
    for pattern in range(2**k):
        s = np.array([(pattern >> u) & 1 for u in range(k)], dtype=float)
        for i in range(k):
            others = [u for u in range(k) if u != i]
            total = np.zeros(n_leaves)
            for size in range(len(others) + 1):
                for coalition in combinations(others, size):
                    if any(s[u] == 0 for u in coalition):
                        continue  # a coalition holding a failed condition is worth 0
                    absent = [u for u in others if u not in coalition]
                    total += weight[size] * np.prod(ratio[:, absent], axis=1)
            table[:, pattern, i] = value * (s[i] - ratio[:, i]) * total
    return table


def compile_xgboost(booster: Any) -> CompiledTreeShap | None:
    """Compile an XGBoost booster, or None when it is outside what this supports."""
    model = json.loads(booster.save_raw("json"))
    learner = model["learner"]
    link = SUPPORTED_OBJECTIVES.get(learner["objective"]["name"])
    gbm = learner["gradient_booster"]
    if link is None or gbm.get("name") != "gbtree":
        return None
    params = learner["learner_model_param"]
    if int(params.get("num_class", 0)) > 1 or int(params.get("num_target", 1)) > 1:
        return None
    base_score = float(str(params["base_score"]).strip("[]"))
    base_margin = math.log(base_score / (1 - base_score)) if link == "logit" else base_score
    n_features = int(params["num_feature"])

    leaves: dict[int, list[tuple[float, list[tuple[int, float, bool, bool, float]]]]] = {}
    expected = 0.0
    for tree in gbm["model"]["trees"]:
        if any(tree["split_type"]) or tree["categories"]:
            return None  # categorical splits
        left, right = tree["left_children"], tree["right_children"]
        cond, feat = tree["split_conditions"], tree["split_indices"]
        default_left, cover = tree["default_left"], tree["sum_hessian"]
        stack: list[tuple[int, list[tuple[int, float, bool, bool, float]]]] = [(0, [])]
        while stack:
            node, path = stack.pop()
            if left[node] == -1:
                weight = float(np.prod([p[4] for p in path])) if path else 1.0
                expected += cond[node] * weight
                k = len({p[0] for p in path})
                leaves.setdefault(k, []).append((float(cond[node]), path))
                continue
            for child, is_left in ((left[node], True), (right[node], False)):
                step = (
                    int(feat[node]),
                    float(cond[node]),
                    is_left,
                    bool(default_left[node]),
                    cover[child] / cover[node],
                )
                stack.append((child, [*path, step]))

    items = [item for k, group in sorted(leaves.items()) if k > 0 for item in group]
    if not items:
        return None
    depth = max(len(path) for _, path in items)
    k_max = max(len({step[0] for step in path}) for _, path in items)
    if len(items) * 2**k_max * k_max > MAX_TABLE_ENTRIES:
        return None
    n = len(items)
    feature = np.zeros((n, depth), dtype=np.int64)
    threshold = np.zeros((n, depth), dtype=np.float32)
    go_left = np.zeros((n, depth), dtype=bool)
    dleft = np.zeros((n, depth), dtype=bool)
    bit = np.zeros((n, depth), dtype=np.int64)
    full = np.zeros(n, dtype=np.int64)
    unique = np.full((n, k_max), n_features, dtype=np.int64)
    table = np.zeros((n, 2**k_max, k_max))
    row = 0
    for k, group in sorted(leaves.items()):
        if k == 0:
            continue  # a lone leaf only shifts the expected value
        ratio = np.ones((len(group), k))
        value = np.zeros(len(group))
        for i, (leaf_value, path) in enumerate(group):
            r = row + i
            value[i] = leaf_value
            position = {f: q for q, f in enumerate(dict.fromkeys(step[0] for step in path))}
            for col, (f, thr, is_left, d_left, cover_ratio) in enumerate(path):
                feature[r, col], threshold[r, col] = f, thr
                go_left[r, col], dleft[r, col] = is_left, d_left
                bit[r, col] = 1 << position[f]
                ratio[i, position[f]] *= cover_ratio
            for f, q in position.items():
                unique[r, q] = f
            full[r] = 2**k - 1
        # patterns only ever use the group's k low bits; higher ones stay zero
        table[row : row + len(group), : 2**k, :k] = _shapley_table(value, ratio)
        row += len(group)
    paths = _Paths(feature, threshold, go_left, dleft, bit, full, unique, table)
    return CompiledTreeShap(paths, n_features, base_margin + expected)
