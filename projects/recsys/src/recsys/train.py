"""Training: popularity → matrix factorisation (ALS, BPR, EASE; SVD on ratings) →
content (TF-IDF, MiniLM) → hybrid, each tuned on a validation split carved from the
training part; the test part is never seen here (:mod:`recsys.evaluate` scores it once).

Training returns the candidates; the champion is the best validation P@k. The serving
model (the champion refitted on every interaction with its tuned parameters, and the
precomputed top-N and similar items) is built by :func:`serving_model` and registered
by the CLI, a separate step.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd

from recsys.config import RecsysConfig
from recsys.data import Interactions
from recsys.features import InteractionMatrix, catalogue_index, minilm_content, tfidf_content
from recsys.models import (
    EASE,
    ContentProfile,
    Hybrid,
    ImplicitALS,
    ImplicitBPR,
    Popularity,
    Recommender,
    SurpriseSVD,
    item_similarity,
    scores_in_batches,
    standardised,
    top_k,
)
from recsys.snapshot import ServingModel, Snapshot, precompute_similar, precompute_user_lists
from recsys.splits import Split, stratified_split, validation_split
from tenfold.ranking import accuracy_at_k
from tenfold.tuning import TuningResult, tune

log = logging.getLogger("recsys.train")

COLLABORATIVE = ("als", "bpr", "ease")
# the recommenders benchmark's SVD parameters (rating-based comparison, not tuned)
SVD_PARAMS: dict[str, Any] = {"n_factors": 150, "n_epochs": 15, "lr_all": 0.005, "reg_all": 0.02}
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class Prepared:
    """The catalogue and users as fixed indexes, and the items' content vectors."""

    interactions: Interactions
    users: pd.Index
    items: pd.Index
    catalogue: pd.DataFrame  # aligned with ``items``
    content: Mapping[str, Any]  # "tfidf" (and "minilm" with the extra) → n_items × d

    def matrix(self, frame: pd.DataFrame) -> InteractionMatrix:
        return InteractionMatrix.build(
            frame, self.items, users=self.users, weights=frame["rating"].to_numpy()
        )


def prepare(interactions: Interactions, cfg: RecsysConfig) -> Prepared:
    ratings = interactions.ratings
    items = catalogue_index(interactions.items, ratings)
    catalogue = interactions.items.drop_duplicates("item").set_index("item").reindex(items)
    catalogue["title"] = catalogue["title"].fillna(pd.Series(items, index=items))
    catalogue["genres"] = catalogue["genres"].fillna("")
    catalogue = catalogue.rename_axis("item").reset_index()
    content: dict[str, Any] = {"tfidf": tfidf_content(catalogue)}
    if cfg.use_minilm:
        from tenfold.embeddings import dense_available

        if dense_available():
            content["minilm"] = minilm_content(catalogue)
        else:
            log.info("MiniLM content skipped: the opt-in extra is not installed (make nlp-deep)")
    users = pd.Index(pd.unique(ratings["user"]))
    return Prepared(interactions, users, items, catalogue, content)


def split(prepared: Prepared, cfg: RecsysConfig) -> Split:
    return stratified_split(prepared.interactions.ratings, ratio=cfg.train_ratio, seed=cfg.seed)


# --------------------------------------------------------------------------- scoring


def recommend(
    model: Recommender, data: InteractionMatrix, users: pd.Index, k: int
) -> dict[str, list[str]]:
    """Top ``k`` unseen items for ``users`` (ids), as item ids."""
    rows = data.users.get_indexer(users)
    rows = rows[rows >= 0]
    seen = data.binary()
    out: dict[str, list[str]] = {}
    for block_rows, scores in scores_in_batches(model, rows):
        positions, values = top_k(scores, seen[block_rows], k)
        for r, picked, vals in zip(block_rows, positions, values, strict=True):
            out[str(data.users[r])] = [
                str(data.items[i]) for i, v in zip(picked, vals, strict=True) if np.isfinite(v)
            ]
    return out


def truth_of(frame: pd.DataFrame) -> dict[str, set[str]]:
    return {str(u): set(map(str, g)) for u, g in frame.groupby("user", sort=False)["item"]}


def precision_on(
    model: Recommender, data: InteractionMatrix, truth: Mapping[str, set[str]], k: int
) -> float:
    users = pd.Index(list(truth))
    return accuracy_at_k(recommend(model, data, users, k), truth, k)[f"precision@{k}"]


# --------------------------------------------------------------------------- candidates


@dataclass
class Candidate:
    name: str
    family: str  # baseline | collaborative | rating | content | hybrid
    make: Callable[[], Recommender]
    params: dict[str, Any]
    validation: dict[str, float] = field(default_factory=dict)
    tuning: TuningResult | None = None
    run_id: str | None = None


@dataclass
class TrainResult:
    candidates: dict[str, Candidate]
    champion: str
    split: Split
    validation: Split
    prepared: Prepared

    @property
    def best(self) -> Candidate:
        return self.candidates[self.champion]


def _als(cfg: RecsysConfig, **p: Any) -> ImplicitALS:
    return ImplicitALS(random_state=cfg.seed, **p)


def _bpr(cfg: RecsysConfig, **p: Any) -> ImplicitBPR:
    return ImplicitBPR(random_state=cfg.seed, **p)


def _ease(cfg: RecsysConfig, **p: Any) -> EASE:
    return EASE(random_state=cfg.seed, **p)


SEARCH_SPACES: dict[str, Callable[[optuna.Trial], dict[str, Any]]] = {
    "als": lambda t: {
        "factors": t.suggest_int("factors", 8, 128, log=True),
        "regularization": t.suggest_float("regularization", 1e-3, 30.0, log=True),
        "alpha": t.suggest_float("alpha", 0.3, 30.0, log=True),
        "iterations": 15,
    },
    "bpr": lambda t: {
        # bounded so that a trial stays within seconds (BPR is the slowest to fit)
        "factors": t.suggest_int("factors", 16, 128, log=True),
        "learning_rate": t.suggest_float("learning_rate", 3e-3, 0.1, log=True),
        "regularization": t.suggest_float("regularization", 1e-4, 0.1, log=True),
        "iterations": t.suggest_int("iterations", 50, 150, step=50),
    },
    "ease": lambda t: {
        "lamb": t.suggest_float("lamb", 30.0, 5000.0, log=True),
        "positive_only": t.suggest_categorical("positive_only", [False, True]),
    },
}
FACTORIES: dict[str, Callable[..., Recommender]] = {"als": _als, "bpr": _bpr, "ease": _ease}


def tune_collaborative(
    name: str,
    fit: InteractionMatrix,
    truth: Mapping[str, set[str]],
    cfg: RecsysConfig,
    *,
    on_trial: Callable[[int, int], None] | None = None,
) -> TuningResult:
    """A seeded TPE study of one model's parameters on the validation split."""
    space = SEARCH_SPACES[name]
    factory = FACTORIES[name]

    def objective(trial: optuna.Trial) -> float:
        model = factory(cfg, **space(trial)).fit(fit)
        return precision_on(model, fit, truth, cfg.k)

    n_trials = getattr(cfg.trials, name)
    return tune(
        objective,
        n_trials=n_trials,
        seed=cfg.seed,
        study_name=name,
        n_startup_trials=min(10, max(1, n_trials // 2)),
        on_trial=on_trial,
    )


def _fixed(params: Mapping[str, Any], name: str) -> dict[str, Any]:
    """Best trial params completed with the fixed ones of the search space."""
    fixed = {"als": {"iterations": 15}}.get(name, {})
    return {**fixed, **params}


def simplex_grid(n_components: int, steps: int) -> list[tuple[float, ...]]:
    """Every weight vector with entries in multiples of 1/steps summing to 1."""
    out: list[tuple[float, ...]] = []

    def walk(prefix: tuple[int, ...], left: int) -> None:
        if len(prefix) == n_components - 1:
            out.append(tuple(round(w / steps, 4) for w in (*prefix, left)))
            return
        for w in range(left + 1):
            walk((*prefix, w), left - w)

    walk((), steps)
    return out


def tune_hybrid_weights(
    models: Mapping[str, Recommender],
    fit: InteractionMatrix,
    truth: Mapping[str, set[str]],
    cfg: RecsysConfig,
) -> tuple[dict[str, float], pd.DataFrame]:
    """The blend weights by grid on validation: every model is fitted once and its
    z-scored validation scores reused for every weight vector. Ties go to the vector
    listed first (most weight on the first model, the best collaborative one)."""
    users = pd.Index(list(truth))
    rows = fit.users.get_indexer(users)
    names = list(models)
    z = {n: standardised(models[n].score(rows)) for n in names}
    seen = fit.binary()[rows]
    results = []
    for weights in sorted(simplex_grid(len(names), cfg.trials.hybrid), reverse=True):
        blend = sum(w * z[n] for n, w in zip(names, weights, strict=True) if w)
        positions, _ = top_k(np.asarray(blend), seen, cfg.k)
        recs = {str(users[j]): [str(fit.items[i]) for i in positions[j]] for j in range(len(users))}
        results.append((*weights, accuracy_at_k(recs, truth, cfg.k)[f"precision@{cfg.k}"]))
    table = pd.DataFrame(results, columns=[*names, "value"])
    best = table.iloc[int(table["value"].to_numpy().argmax())]
    return {n: float(best[n]) for n in names}, table


def train(
    prepared: Prepared,
    cfg: RecsysConfig,
    *,
    progress: Progress | None = None,
    tracker: Callable[[Candidate], None] | None = None,
) -> TrainResult:
    """Every candidate tuned and scored on the validation split of the training part.

    ``tracker`` is called once per finished candidate (the CLI logs it to MLflow).
    """
    report = progress or (lambda stage, done, total: None)
    split_ = split(prepared, cfg)
    valid = validation_split(split_.train, ratio=cfg.validation_ratio, seed=cfg.seed)
    fit = prepared.matrix(valid.train)
    truth = truth_of(valid.test)
    candidates: dict[str, Candidate] = {}

    def finish(candidate: Candidate, model: Recommender) -> None:
        users = pd.Index(list(truth))
        recs = recommend(model, fit, users, cfg.k)
        candidate.validation = accuracy_at_k(recs, truth, cfg.k)
        candidates[candidate.name] = candidate
        log.info(
            "%s: validation P@%d %.4f",
            candidate.name,
            cfg.k,
            candidate.validation[f"precision@{cfg.k}"],
        )
        if tracker is not None:
            tracker(candidate)

    report("popularity", 0, 1)
    finish(Candidate("popularity", "baseline", Popularity, {}), Popularity().fit(fit))

    fitted: dict[str, Recommender] = {}
    for name in COLLABORATIVE:
        tuning = tune_collaborative(name, fit, truth, cfg, on_trial=_stage(report, name))
        params = _fixed(tuning.best_params, name)
        factory = FACTORIES[name]
        model = factory(cfg, **params).fit(fit)
        fitted[name] = model
        finish(
            Candidate(name, "collaborative", _bind(factory, cfg, params), params, tuning=tuning),
            model,
        )

    report("svd", 0, 1)
    svd_params = dict(SVD_PARAMS)
    svd = SurpriseSVD(random_state=cfg.seed, **svd_params).fit(fit, valid.train)
    finish(
        Candidate(
            "svd",
            "rating",
            lambda: SurpriseSVD(random_state=cfg.seed, **svd_params),
            svd_params,
        ),
        svd,
    )

    contents: dict[str, Recommender] = {}
    for kind, vectors in prepared.content.items():
        report(f"content_{kind}", 0, 1)
        use_ratings = prepared.interactions.has_ratings
        model = ContentProfile(vectors, name=f"content_{kind}", use_ratings=use_ratings).fit(
            fit, valid.train
        )
        contents[kind] = model
        finish(
            Candidate(
                f"content_{kind}",
                "content",
                _content_maker(vectors, kind, use_ratings),
                {"vectors": kind, "use_ratings": use_ratings},
            ),
            model,
        )

    report("hybrid", 0, 1)
    metric = f"precision@{cfg.k}"
    by_validation = sorted(COLLABORATIVE, key=lambda n: -candidates[n].validation[metric])
    best_content = max(contents, key=lambda n: candidates[f"content_{n}"].validation[metric])
    parts = {n: fitted[n] for n in by_validation[:2]}
    parts[f"content_{best_content}"] = contents[best_content]
    weights, table = tune_hybrid_weights(parts, fit, truth, cfg)
    makers = {name: candidates[name].make for name in parts}
    hybrid_params: dict[str, Any] = {f"weight.{n}": w for n, w in weights.items()}
    for name in parts:
        hybrid_params.update({f"{name}.{k}": v for k, v in candidates[name].params.items()})

    def make_hybrid() -> Hybrid:
        return Hybrid([(makers[n](), w) for n, w in weights.items()])

    hybrid = Hybrid([(parts[n], w) for n, w in weights.items()])
    hybrid_candidate = Candidate("hybrid", "hybrid", make_hybrid, hybrid_params)
    hybrid_candidate.tuning = TuningResult(
        weights, float(table["value"].max()), len(table), 0, table
    )
    finish(hybrid_candidate, hybrid)

    # ties go to the simpler system (the order candidates were built in)
    order = list(candidates)
    champion = max(order, key=lambda n: (candidates[n].validation[metric], -order.index(n)))
    return TrainResult(candidates, champion, split_, valid, prepared)


def _stage(report: Progress, name: str) -> Callable[[int, int], None]:
    return lambda done, total: report(name, done, total)


def _content_maker(vectors: Any, kind: str, use_ratings: bool) -> Callable[[], Recommender]:
    return lambda: ContentProfile(vectors, name=f"content_{kind}", use_ratings=use_ratings)


def _bind(
    factory: Callable[..., Recommender], cfg: RecsysConfig, params: dict[str, Any]
) -> Callable[[], Recommender]:
    return lambda: factory(cfg, **params)


# --------------------------------------------------------------------------- serving


def serving_model(result: TrainResult, cfg: RecsysConfig) -> ServingModel:
    """The champion refitted on every interaction with its tuned parameters, with its
    top-N per user and the similar items per item precomputed."""
    prepared = result.prepared
    ratings = prepared.interactions.ratings
    everything = prepared.matrix(ratings)
    model = result.best.make().fit(everything, ratings)
    user_top, user_scores = precompute_user_lists(model, everything, cfg.top_n)
    content = prepared.content.get("minilm", prepared.content["tfidf"])
    similarity = item_similarity(everything, content, content_weight=cfg.similar_content_weight)
    similar_top, similar_scores = precompute_similar(similarity, cfg.similar_n)
    counts = everything.item_counts()
    popular = np.lexsort((np.arange(len(counts)), -counts))[: cfg.top_n].astype(np.int32)
    snapshot = Snapshot(
        users=prepared.users,
        items=prepared.items,
        titles=prepared.catalogue["title"].astype(str).to_numpy(),
        user_top=user_top,
        user_scores=user_scores,
        similar_top=similar_top,
        similar_scores=similar_scores,
        popular=popular,
        popular_counts=counts[popular].astype(np.float32),
    )
    return ServingModel(snapshot, model, everything.binary(), result.champion, cfg.top_n)
