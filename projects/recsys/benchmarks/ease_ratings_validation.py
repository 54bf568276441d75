"""EASE on rating-weighted interactions, on the validation splits only (the three the
training tunes on); the test part is not read.

The committed EASE (cornac) learns from and scores the binary matrix: a 1-star rating
counts as much as a 5. Here EASE's closed form (Steck 2019: ``P = (XᵀX + λI)⁻¹``,
``B = -P / diag(P)``, zero diagonal) runs in numpy on a weighted ``X`` whose entry for a
rating r is ``w(r)``, for a few weightings, each with its λ picked on the same splits;
then each replaces the binary EASE in the hybrid's blend (ALS and TF-IDF content as
committed, weights by the hybrid's grid). Decided in advance: adopted only if the blend
gains at least 0.002 of mean validation P@10 and gains on each of the three splits.

    TENFOLD_DATA_DIR=/path/to/datasets uv run python \
        projects/recsys/benchmarks/ease_ratings_validation.py [seed ...]

With seeds, the validation splits are those seeds' instead of the training's (42-44): the
check on splits the weighting was not picked on.

Measured: see the README's *Limitations*.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from recsys.config import RecsysConfig
from recsys.data import load
from recsys.models import EASE, ContentProfile, standardised
from recsys.train import (
    FACTORIES,
    ValidationView,
    prepare,
    split,
    tune_hybrid_weights,
    validation_views,
)

LAMBDAS = (200.0, 350.0, 500.0, 650.0, 900.0, 1300.0, 2000.0)
WEIGHTINGS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "binary (numpy, the committed EASE's check)": lambda r: np.ones_like(r),
    "rating / 5": lambda r: r / 5.0,
    "1 for 4-5 stars, 0.5 below": lambda r: np.where(r >= 4, 1.0, 0.5),
    "1 for 4-5 stars, 0.25 below": lambda r: np.where(r >= 4, 1.0, 0.25),
    "(rating - 1) / 4 + 0.25": lambda r: (r - 1.0) / 4.0 + 0.25,
}


class WeightedEASE:
    """EASE's closed form on a weighted matrix; scores a user's weighted history."""

    def __init__(self, weighted: np.ndarray, lamb: float) -> None:
        gram = weighted.T @ weighted + lamb * np.eye(weighted.shape[1])
        inverse = np.linalg.inv(gram)
        self.B_ = -inverse / np.diag(inverse)[None, :]
        np.fill_diagonal(self.B_, 0.0)
        self.history_ = weighted

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.history_[rows] @ self.B_)


def main(seeds: list[int]) -> None:
    cfg = RecsysConfig()
    prepared = prepare(load(cfg), cfg)
    train_part = split(prepared, cfg).train
    views = (
        [ValidationView.of(prepared, train_part, cfg, s) for s in seeds]
        if seeds
        else validation_views(prepared, train_part, cfg)
    )
    print(f"validation splits of seeds {seeds or cfg.validation_seeds}")
    params = json.loads((cfg.reports_dir / "metrics.json").read_text())["models"]
    als = [FACTORIES["als"](cfg, **params["als"]["params"]).fit(v.fit) for v in views]
    content = [
        ContentProfile(prepared.content["tfidf"], name="content_tfidf", use_ratings=True).fit(
            v.fit, v.split.train
        )
        for v in views
    ]

    def blend(ease_parts: Sequence[Any]) -> tuple[float, list[float]]:
        parts: dict[str, Sequence[Any]] = {"als": als, "ease": ease_parts, "content_tfidf": content}
        weights, grid = tune_hybrid_weights(parts, views, cfg)
        z = [
            sum(w * standardised(parts[n][i].score(v.rows)) for n, w in weights.items() if w)
            for i, v in enumerate(views)
        ]
        per_split = [v.precision(s) for v, s in zip(views, z, strict=True)]
        return float(grid["value"].max()), per_split

    committed = [EASE(**params["ease"]["params"]).fit(v.fit) for v in views]
    alone = np.mean([v.precision(m.score(v.rows)) for v, m in zip(views, committed, strict=True)])
    base, base_splits = blend(committed)
    print(f"committed EASE (cornac, binary): alone {alone:.4f}, blend {base:.4f} {base_splits}")
    for name, weigh in WEIGHTINGS.items():
        matrices = []
        for v in views:
            m = v.fit.matrix.copy().astype(np.float64)
            m.data = weigh(m.data)
            matrices.append(m.toarray())
        by_lamb = {
            lamb: float(
                np.mean(
                    [
                        v.precision(WeightedEASE(x, lamb).score(v.rows))
                        for v, x in zip(views, matrices, strict=True)
                    ]
                )
            )
            for lamb in LAMBDAS
        }
        lamb = max(by_lamb, key=lambda k: by_lamb[k])
        models = [WeightedEASE(x, lamb) for x in matrices]
        value, splits = blend(models)
        gains = [round(s - b, 4) for s, b in zip(splits, base_splits, strict=True)]
        print(
            f"{name}: alone {by_lamb[lamb]:.4f} (lambda {lamb:g}; "
            f"{', '.join(f'{k:g}: {p:.4f}' for k, p in by_lamb.items())}) "
            f"| blend {value:.4f}, {value - base:+.4f}, per split {gains}",
            flush=True,
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]])
