"""RP3beta (Paudel et al. 2017: a random walk user → item → user → item, its steps raised
to alpha, the landing item's popularity divided out to the power beta) on the validation
split only, alone and as a fourth part of the hybrid's blend. The test part is not read.

    TENFOLD_DATA_DIR=/path/to/datasets uv run python \
        projects/recsys/benchmarks/rp3beta_validation.py

Measured (README, *Limitations*): best RP3beta 0.1878 validation P@10 (alpha 0.8, beta
0.6), EASE 0.1903, ALS 0.1895; the blend 0.1983 with three parts, 0.1988 with RP3beta.
"""

from __future__ import annotations

import itertools
import json

import numpy as np

from recsys.config import RecsysConfig
from recsys.data import load
from recsys.models import EASE, ContentProfile, standardised
from recsys.train import FACTORIES, ValidationView, prepare, simplex_grid, split

ALPHAS = (0.6, 0.8, 1.0, 1.2)
BETAS = (0.0, 0.2, 0.3, 0.4, 0.5, 0.6)


def rp3beta(binary: np.ndarray, alpha: float, beta: float) -> np.ndarray:
    """The item-item transition matrix of RP3beta (zero diagonal)."""
    user_degree = np.maximum(binary.sum(axis=1, keepdims=True), 1)
    item_degree = np.maximum(binary.sum(axis=0), 1)
    user_to_item = (binary / user_degree) ** alpha
    item_to_user = (binary / item_degree).T ** alpha
    weights = (item_to_user @ user_to_item) / item_degree[None, :] ** beta
    np.fill_diagonal(weights, 0.0)
    return np.asarray(weights)


def main() -> None:
    cfg = RecsysConfig()
    prepared = prepare(load(cfg), cfg)
    view = ValidationView.of(prepared, split(prepared, cfg).train, cfg, cfg.seed)
    fit, rows, precision, valid = view.fit, view.rows, view.precision, view.split

    binary = fit.binary().astype(np.float64).toarray()
    grid = {
        (a, b): precision(binary[rows] @ rp3beta(binary, a, b))
        for a, b in itertools.product(ALPHAS, BETAS)
    }
    alpha, beta = max(grid, key=lambda ab: grid[ab])
    print(json.dumps({f"rp3beta a={a} b={b}": round(v, 4) for (a, b), v in grid.items()}))
    # the committed hybrid's parts with their tuned parameters (reports/metrics.json)
    params = json.loads((cfg.reports_dir / "metrics.json").read_text())["models"]
    als = FACTORIES["als"](cfg, **params["als"]["params"]).fit(fit)
    ease = EASE(**params["ease"]["params"]).fit(fit)
    content = ContentProfile(prepared.content["tfidf"], name="content_tfidf", use_ratings=True)
    content.fit(fit, valid.train)
    z = {
        "ease": standardised(ease.score(rows)),
        "als": standardised(als.score(rows)),
        "content_tfidf": standardised(content.score(rows)),
        "rp3beta": standardised(binary[rows] @ rp3beta(binary, alpha, beta)),
    }
    for parts in (list(z)[:3], list(z)):
        results = [
            (precision(sum(w * z[n] for n, w in zip(parts, ws, strict=True) if w)), ws)
            for ws in simplex_grid(len(parts), cfg.trials.hybrid)
        ]
        value, weights = max(results)
        print(f"blend of {parts}: validation P@{cfg.k} {value:.4f} with weights {weights}")


if __name__ == "__main__":
    main()
