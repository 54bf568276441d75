"""implicit's ALS outside the tuned search space, on validation splits only: the test
part is not read. "committed" is the tuned ALS of ``reports/metrics.json``. Against the
earlier search (regularization up to 30, 24 TPE trials, 9 factors picked), 128 factors
with regularization 40 and alpha 5 did better on three validation splits of the training
part (seeds 42, 7, 11), alone and as the hybrid's ALS part: the finding that widened the
search (``recsys.train.als_params``).

    TENFOLD_DATA_DIR=/path/to/datasets uv run python \
        projects/recsys/benchmarks/als_wider_validation.py

Measured (README, *Limitations*): see the printed table.
"""

from __future__ import annotations

import json

import pandas as pd

from recsys.config import RecsysConfig
from recsys.data import load
from recsys.models import EASE, ContentProfile, standardised
from recsys.train import (
    FACTORIES,
    Prepared,
    ValidationView,
    prepare,
    split,
    tune_hybrid_weights,
)

SEEDS = (42, 7, 11)
WIDER = {"factors": 128, "regularization": 40.0, "alpha": 5.0, "iterations": 15}


def one_split(
    cfg: RecsysConfig, prepared: Prepared, train_part: pd.DataFrame, seed: int
) -> dict[str, float]:
    """Validation P@k of the committed and the wider ALS, alone and in the best blend
    with the committed EASE and TF-IDF content (the hybrid's grid)."""
    params = json.loads((cfg.reports_dir / "metrics.json").read_text())["models"]
    view = ValidationView.of(prepared, train_part, cfg, seed)
    ease = EASE(**params["ease"]["params"]).fit(view.fit)
    content = ContentProfile(prepared.content["tfidf"], name="content_tfidf", use_ratings=True)
    tfidf = content.fit(view.fit, view.split.train)
    out: dict[str, float] = {}
    for label, als_params in (("committed", params["als"]["params"]), ("wider", WIDER)):
        als = FACTORIES["als"](cfg, **als_params).fit(view.fit)
        out[f"als {label}"] = view.precision(standardised(als.score(view.rows)))
        parts = {"ease": [ease], "als": [als], "content_tfidf": [tfidf]}
        _, grid = tune_hybrid_weights(parts, [view], cfg)
        out[f"blend {label}"] = float(grid["value"].max())
    return out


def main() -> None:
    cfg = RecsysConfig()
    prepared = prepare(load(cfg), cfg)
    train_part = split(prepared, cfg).train
    for seed in SEEDS:
        out = one_split(cfg, prepared, train_part, seed)
        print(f"validation seed {seed}: " + json.dumps({k: round(v, 4) for k, v in out.items()}))


if __name__ == "__main__":
    main()
