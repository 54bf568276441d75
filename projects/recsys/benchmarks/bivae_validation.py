"""cornac's BiVAE (Truong et al. 2021), the best published system on this split (0.412 test
P@10), on the validation splits only; the test part is not read. Needs torch (the nlp
project's opt-in extra: ``make nlp-deep``).

Settings are those of the Microsoft recommenders benchmark that published the 0.412
(50 latent dimensions, one hidden layer of 100, tanh, Poisson likelihood, 500 epochs,
batch 128, learning rate 0.001), trained on the ratings. Printed: BiVAE alone, and the
hybrid's blend (grid of the hybrid) with BiVAE as a fourth part and in place of EASE,
against the committed three-part blend, on the three tuning splits or on the seeds
given. Decided in advance: adopted only if a blend gains at least 0.002 of mean P@10 and
gains on every split::

    TENFOLD_DATA_DIR=/path/to/datasets uv run python \
        projects/recsys/benchmarks/bivae_validation.py [seed ...]

Measured: see the README's *Limitations*.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from recsys.config import RecsysConfig
from recsys.data import load
from recsys.features import InteractionMatrix
from recsys.models import EASE, ContentProfile, cornac_dataset, standardised
from recsys.train import FACTORIES, ValidationView, prepare, split, tune_hybrid_weights

BIVAE = {
    "k": 50,
    "encoder_structure": [100],
    "act_fn": "tanh",
    "likelihood": "pois",
    "n_epochs": 500,
    "batch_size": 128,
    "learning_rate": 0.001,
}


class BiVAE:
    """cornac's BiVAECF on the ratings, scored for every catalogue item."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def fit(self, data: InteractionMatrix) -> BiVAE:
        import cornac
        import torch

        torch.set_num_threads(1)
        train_set = cornac_dataset(data.matrix.tocoo(), self.seed)
        self.model_ = cornac.models.BiVAECF(**BIVAE, seed=self.seed, use_gpu=False)
        self.model_.fit(train_set)
        return self

    def score(self, rows: np.ndarray) -> np.ndarray:
        import torch

        vae = self.model_.bivae
        with torch.no_grad():
            theta = vae.mu_theta[torch.as_tensor(rows)]
            return np.asarray(vae.decode_user(theta, vae.mu_beta).cpu().numpy())


def main(seeds: list[int]) -> None:
    cfg = RecsysConfig()
    prepared = prepare(load(cfg), cfg)
    train_part = split(prepared, cfg).train
    seeds = seeds or cfg.validation_seeds
    views = [ValidationView.of(prepared, train_part, cfg, s) for s in seeds]
    print(f"validation splits of seeds {seeds}", flush=True)
    params = json.loads((cfg.reports_dir / "metrics.json").read_text())["models"]
    parts: dict[str, Sequence[Any]] = {
        "als": [FACTORIES["als"](cfg, **params["als"]["params"]).fit(v.fit) for v in views],
        "ease": [EASE(**params["ease"]["params"]).fit(v.fit) for v in views],
        "content_tfidf": [
            ContentProfile(prepared.content["tfidf"], name="content_tfidf", use_ratings=True).fit(
                v.fit, v.split.train
            )
            for v in views
        ],
    }
    started = time.perf_counter()
    parts["bivae"] = [BiVAE(cfg.seed).fit(v.fit) for v in views]
    alone = [v.precision(m.score(v.rows)) for v, m in zip(views, parts["bivae"], strict=True)]
    print(
        f"BiVAE alone {np.mean(alone):.4f} {np.round(alone, 4).tolist()} "
        f"({time.perf_counter() - started:.0f} s for {len(views)} fits)",
        flush=True,
    )

    def blend(names: list[str]) -> tuple[list[float], dict[str, float]]:
        """Per-split P@k of the hybrid's best blend of ``names``, and its weights."""
        chosen = {n: parts[n] for n in names}
        weights, _ = tune_hybrid_weights(chosen, views, cfg)
        per_split = [
            v.precision(
                sum(w * standardised(chosen[n][i].score(v.rows)) for n, w in weights.items() if w)
            )
            for i, v in enumerate(views)
        ]
        return per_split, weights

    base, base_weights = blend(["als", "ease", "content_tfidf"])
    print(f"committed blend {np.mean(base):.4f} weights {base_weights}")
    for names in (["als", "ease", "content_tfidf", "bivae"], ["als", "bivae", "content_tfidf"]):
        got, weights = blend(names)
        gains = [round(g - b, 4) for g, b in zip(got, base, strict=True)]
        print(
            f"blend {names}: {np.mean(got):.4f}, {np.mean(got) - np.mean(base):+.4f}, "
            f"per split {gains}, weights {weights}",
            flush=True,
        )


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]])
