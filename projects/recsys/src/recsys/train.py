"""Training: popularity → matrix factorisation (ALS, BPR, EASE; SVD on ratings) →
content (TF-IDF, MiniLM) → hybrid, each tuned on a validation split carved from the
training part; the test part is never scored here (:mod:`recsys.evaluate` scores it once).

Training returns the candidates (:class:`tenfold.training.TrainResult`); the best is the
best validation P@k. Each candidate's model is what serving needs
(:class:`~recsys.snapshot.ServingModel`): the system refitted on every interaction with
its tuned parameters, its precomputed top-N per user and similar items per item, and
its unfitted recipe, which evaluation and the promotion gate refit on the training part
only. Logging to MLflow, registering the best as challenger and the gate are later steps
(``tenfold.tracking``, ``tenfold.promotion``).
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
from tenfold.data import DataError
from tenfold.ranking import accuracy_at_k
from tenfold.tracking import LoggedTraining, metric_name
from tenfold.training import Candidate, TrainResult
from tenfold.tuning import TuningResult, tune

log = logging.getLogger("recsys.train")

COLLABORATIVE = ("als", "bpr", "ease")
# the recommenders benchmark's SVD parameters (rating-based comparison, not tuned)
SVD_PARAMS: dict[str, Any] = {"n_factors": 150, "n_epochs": 15, "lr_all": 0.005, "reg_all": 0.02}
Progress = Callable[[str, int, int], None]
# what loading a serving model needs beside scikit-learn (the recommenders keep their
# fitted state as numpy arrays: implicit, cornac and surprise are needed to fit only)
MODEL_REQUIREMENTS = ("numpy", "scipy", "pandas", "cloudpickle")
# the validation metrics of every candidate (``users`` is a count, not a score)
VALIDATION_METRICS = ("precision@{k}", "recall@{k}", "ndcg@{k}", "map@{k}", "map")


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


def precision_of_scores(
    scores: Any,
    seen: Any,
    users: pd.Index,
    data: InteractionMatrix,
    truth: Mapping[str, set[str]],
    k: int,
) -> float:
    """P@k of a score matrix whose rows are ``users`` (``seen`` masks their history)."""
    positions, _ = top_k(np.asarray(scores), seen, k)
    recs = {str(users[j]): [str(data.items[i]) for i in positions[j]] for j in range(len(users))}
    return float(accuracy_at_k(recs, truth, k)[f"precision@{k}"])


@dataclass(frozen=True)
class ValidationView:
    """A validation split ready to score (what the validation-only benchmarks share)."""

    fit: InteractionMatrix
    split: Split
    users: pd.Index
    rows: np.ndarray
    seen: Any  # the users' training history, masked out of every top-k
    truth: Mapping[str, set[str]]
    k: int

    @classmethod
    def of(
        cls, prepared: Prepared, train_part: pd.DataFrame, cfg: RecsysConfig, seed: int
    ) -> ValidationView:
        valid = validation_split(train_part, ratio=cfg.validation_ratio, seed=seed)
        fit = prepared.matrix(valid.train)
        truth = truth_of(valid.test)
        users = pd.Index(list(truth))
        rows = fit.users.get_indexer(users)
        return cls(fit, valid, users, rows, fit.binary()[rows], truth, cfg.k)

    def precision(self, scores: Any) -> float:
        return precision_of_scores(scores, self.seen, self.users, self.fit, self.truth, self.k)


def validation_views(
    prepared: Prepared, train_part: pd.DataFrame, cfg: RecsysConfig
) -> list[ValidationView]:
    """The validation splits of the training part whose mean P@k tunes and picks (seeds
    ``cfg.validation_seeds``; the first is :attr:`TrainingData.validation`).
    One split is too noisy to pick by: the same system's P@k moves by ~0.005 from one
    split to the next, as much as the gains being chosen between."""
    return [ValidationView.of(prepared, train_part, cfg, seed) for seed in cfg.validation_seeds]


# --------------------------------------------------------------------------- candidates


@dataclass(frozen=True)
class TrainingData:
    """What a training was fitted and validated on: the prepared catalogue, the
    benchmark split (its test part is for evaluation only) and the validation split
    carved from its training part."""

    prepared: Prepared
    split: Split
    validation: Split


@dataclass(kw_only=True)
class RecsysCandidate(Candidate):
    """One system: its model is a :class:`~recsys.snapshot.ServingModel`; ``metric`` is
    the validation P@k, the mean of ``fold_scores`` (one per validation split), and
    ``oof`` the top-k lists of the first validation split."""

    family: str  # baseline | collaborative | rating | content | hybrid
    validation: dict[str, float]

    def fresh(self) -> Recommender:
        """The system unfitted, with its chosen parameters (to refit on other rows)."""
        model: ServingModel = self.model
        return model.fresh()

    @property
    def blend_grid(self) -> pd.DataFrame | None:
        """The hybrid's validation grid (one row per weight vector tried), else None."""
        grid = self.metadata.get("blend_grid")
        return None if grid is None else pd.DataFrame(grid["data"], columns=grid["columns"])


RecsysResult = TrainResult[RecsysCandidate, TrainingData]


@dataclass
class _Fitted:
    """A system tuned and fitted on the validation split's training part."""

    name: str
    family: str
    recipe: Recommender
    params: dict[str, Any]
    validation: dict[str, float]  # the mean over the validation splits
    lists: dict[str, list[str]]  # on the first validation split
    fold_scores: list[float]  # P@k on each validation split
    tuning: TuningResult | None = None
    grid: pd.DataFrame | None = None


def _als(cfg: RecsysConfig, **p: Any) -> ImplicitALS:
    return ImplicitALS(random_state=cfg.seed, **p)


def _bpr(cfg: RecsysConfig, **p: Any) -> ImplicitBPR:
    return ImplicitBPR(random_state=cfg.seed, **p)


def _ease(cfg: RecsysConfig, **p: Any) -> EASE:
    return EASE(random_state=cfg.seed, **p)


def als_params(factors: int, alpha: float, reg_per_alpha: float) -> dict[str, Any]:
    """ALS's model parameters from the searched ones. implicit weighs an interaction by
    1 + alpha * rating, so the ridge that balances it grows with alpha: searching the
    ratio instead of the regularization itself takes the coupling out of the search (on
    the separate scales TPE kept pairing a strong ridge with a weak alpha, which
    collapses, and never reached the regularization near 40 that ALS wants here)."""
    return {
        "factors": factors,
        "alpha": alpha,
        "regularization": alpha * reg_per_alpha,
        "iterations": 15,
    }


# BaseTrial: a Trial while searching, a FixedTrial when the best one is replayed (_fixed)
SEARCH_SPACES: dict[str, Callable[[optuna.trial.BaseTrial], dict[str, Any]]] = {
    "als": lambda t: als_params(
        factors=t.suggest_int("factors", 8, 256, log=True),
        alpha=t.suggest_float("alpha", 0.3, 40.0, log=True),
        reg_per_alpha=t.suggest_float("reg_per_alpha", 0.01, 30.0, log=True),
    ),
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
    views: Sequence[ValidationView],
    cfg: RecsysConfig,
    *,
    on_trial: Callable[[int, int], None] | None = None,
) -> TuningResult:
    """A seeded TPE study of one model's parameters: each trial's value is its mean P@k
    over the validation splits (fitted on each one's training part)."""
    space = SEARCH_SPACES[name]
    factory = FACTORIES[name]

    def objective(trial: optuna.Trial) -> float:
        params = space(trial)
        return float(
            np.mean(
                [
                    precision_on(factory(cfg, **params).fit(v.fit), v.fit, v.truth, cfg.k)
                    for v in views
                ]
            )
        )

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
    """The model parameters of the best trial: its search space replayed on the trial's
    values, so fixed and derived parameters come out as they did in the trial."""
    return SEARCH_SPACES[name](optuna.trial.FixedTrial(dict(params)))


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
    models: Mapping[str, Sequence[Recommender]],
    views: Sequence[ValidationView],
    cfg: RecsysConfig,
) -> tuple[dict[str, float], pd.DataFrame]:
    """The blend weights by grid on validation: ``models[name][i]`` is the part fitted on
    ``views[i]``; its z-scored scores are reused for every weight vector, whose value is
    the mean P@k over the views. Ties go to the vector listed first (most weight on the
    first model, the best collaborative one)."""
    names = list(models)
    z = [{n: standardised(models[n][i].score(v.rows)) for n in names} for i, v in enumerate(views)]
    results = []
    for weights in sorted(simplex_grid(len(names), cfg.trials.hybrid), reverse=True):
        values = [
            view.precision(sum(w * zs[n] for n, w in zip(names, weights, strict=True) if w))
            for view, zs in zip(views, z, strict=True)
        ]
        results.append((*weights, float(np.mean(values))))
    table = pd.DataFrame(results, columns=[*names, "value"])
    best = table.iloc[int(table["value"].to_numpy().argmax())]
    return {n: float(best[n]) for n in names}, table


def train(
    cfg: RecsysConfig,
    interactions: Interactions,
    *,
    progress: Progress | None = None,
) -> RecsysResult:
    """Every system tuned and scored on the validation split of the training part, then
    refitted on every interaction for serving; the best is the best validation P@k (ties
    go to the simpler system: the order they are built in)."""
    report = progress or (lambda stage, done, total: None)
    prepared = prepare(interactions, cfg)
    split_ = split(prepared, cfg)
    views = validation_views(prepared, split_.train, cfg)
    valid = views[0].split
    fitted = validated_systems(prepared, views, cfg, report)
    metric = f"precision@{cfg.k}"
    order = list(fitted)
    best = max(order, key=lambda n: (fitted[n].validation[metric], -order.index(n)))
    report("serving", 0, len(fitted))
    shared = ServingParts.of(prepared, cfg)
    candidates: dict[str, RecsysCandidate] = {}
    for done, system in enumerate(fitted.values(), start=1):
        candidates[system.name] = candidate(system, serving_model(system, shared, cfg), cfg)
        report("serving", done, len(fitted))
    example = pd.DataFrame({"user_id": [str(u) for u in prepared.users[:3]]})
    return TrainResult(
        candidates, best, TrainingData(prepared, split_, valid), interactions.source, example
    )


def validated_systems(
    prepared: Prepared, views: Sequence[ValidationView], cfg: RecsysConfig, report: Progress
) -> dict[str, _Fitted]:
    """Each system tuned on ``views`` (fit on each one's training part, mean P@k over
    their test parts), in the story's order: popularity, ALS, BPR, EASE, SVD, content,
    hybrid."""
    metric = f"precision@{cfg.k}"
    systems: dict[str, _Fitted] = {}
    fitted: dict[str, list[Recommender]] = {}  # each system fitted on each view

    def finish(
        name: str,
        family: str,
        recipe: Recommender,
        params: dict[str, Any],
        models: list[Recommender] | None = None,
        **more: Any,
    ) -> None:
        if models is None:
            models = [copy.deepcopy(recipe).fit(v.fit, v.split.train) for v in views]
        view_lists = [
            recommend(m, v.fit, v.users, cfg.k) for m, v in zip(models, views, strict=True)
        ]
        scores = [
            accuracy_at_k(ranked, v.truth, cfg.k)
            for ranked, v in zip(view_lists, views, strict=True)
        ]
        validation = {key: float(np.mean([s[key] for s in scores])) for key in scores[0]}
        lists = view_lists[0]  # the first split's lists are the candidate's oof
        fitted[name] = models
        folds = [float(s[metric]) for s in scores]
        systems[name] = _Fitted(
            name, family, recipe, params, validation, lists, fold_scores=folds, **more
        )
        log.info(
            "%s: validation P@%d %.4f (%s)",
            name,
            cfg.k,
            validation[metric],
            " / ".join(f"{f:.4f}" for f in folds),
        )

    report("popularity", 0, 1)
    finish("popularity", "baseline", Popularity(), {})

    for name in COLLABORATIVE:
        tuning = tune_collaborative(name, views, cfg, on_trial=_stage(report, name))
        params = _fixed(tuning.best_params, name)
        finish(name, "collaborative", FACTORIES[name](cfg, **params), params, tuning=tuning)

    report("svd", 0, 1)
    svd_params = dict(SVD_PARAMS)
    finish("svd", "rating", SurpriseSVD(random_state=cfg.seed, **svd_params), svd_params)

    contents: list[str] = []
    use_ratings = prepared.interactions.has_ratings
    for kind, vectors in prepared.content.items():
        name = f"content_{kind}"
        report(name, 0, 1)
        contents.append(name)
        finish(
            name,
            "content",
            ContentProfile(vectors, name=name, use_ratings=use_ratings),
            {"vectors": kind, "use_ratings": use_ratings},
        )

    report("hybrid", 0, 1)
    by_validation = sorted(COLLABORATIVE, key=lambda n: -systems[n].validation[metric])
    best_content = max(contents, key=lambda n: systems[n].validation[metric])
    parts = [*by_validation[:2], best_content]
    weights, table = tune_hybrid_weights({n: fitted[n] for n in parts}, views, cfg)
    hybrid_params: dict[str, Any] = {f"weight.{n}": w for n, w in weights.items()}
    for name in parts:
        hybrid_params.update({f"{name}.{k}": v for k, v in systems[name].params.items()})
    recipe = Hybrid([(copy.deepcopy(systems[n].recipe), w) for n, w in weights.items()])
    finish(
        "hybrid",
        "hybrid",
        recipe,
        hybrid_params,
        # the parts are already fitted on every view: blend them, do not refit
        models=[Hybrid([(fitted[n][i], w) for n, w in weights.items()]) for i in range(len(views))],
        tuning=TuningResult(weights, float(table["value"].max()), len(table), 0, trials(table)),
        grid=table,
    )
    return systems


def trials(grid: pd.DataFrame) -> pd.DataFrame:
    """The hybrid's weight grid in the shape of an Optuna trials table (what the tracking
    of a tuning logs: number, value, state, params_*)."""
    weights = grid.drop(columns="value").add_prefix("params_")
    return pd.concat(
        [
            pd.DataFrame({"number": np.arange(len(grid)), "value": grid["value"].to_numpy()}),
            weights.reset_index(drop=True),
            pd.DataFrame({"state": ["COMPLETE"] * len(grid)}),
        ],
        axis=1,
    )


def candidate(system: _Fitted, model: ServingModel, cfg: RecsysConfig) -> RecsysCandidate:
    """A system as a :class:`tenfold.training.Candidate` (what MLflow records)."""
    k = cfg.k
    validation = {m.format(k=k): system.validation[m.format(k=k)] for m in VALIDATION_METRICS}
    lists = pd.DataFrame(
        [
            (user, rank, item)
            for user, items in system.lists.items()
            for rank, item in enumerate(items, start=1)
        ],
        columns=["user", "rank", "item"],
    )
    metadata: dict[str, Any] = {"system": system.name, "family": system.family, "top_n": cfg.top_n}
    if system.grid is not None:
        metadata["blend_grid"] = {
            "columns": list(system.grid.columns),
            "data": system.grid.to_numpy().tolist(),
        }
    return RecsysCandidate(
        name=system.name,
        model=model,
        params=system.params,
        metric=metric_name(f"precision@{k}"),
        fold_scores=list(system.fold_scores),
        oof=lists,
        requirements=MODEL_REQUIREMENTS,
        metadata=metadata,
        metrics={metric_name(f"validation_{m}"): v for m, v in validation.items()},
        tuning=system.tuning,
        family=system.family,
        validation=validation,
    )


def from_run(
    cfg: RecsysConfig, interactions: Interactions, training: LoggedTraining
) -> RecsysResult:
    """A training read back from MLflow (:func:`tenfold.tracking.read_training`), for a
    separate ``evaluate`` step: the splits recomputed from the same seed and data, each
    system's recipe from its logged serving model, its validation scores from its run."""
    prepared = prepare(interactions, cfg)
    split_ = split(prepared, cfg)
    valid = validation_split(split_.train, ratio=cfg.validation_ratio, seed=cfg.seed)
    names = [n for n in training.tags.get("tenfold.candidates", "").split(",") if n]
    candidates: dict[str, RecsysCandidate] = {}
    for name in names or list(training.candidates):
        logged = training.candidates[name]
        if not isinstance(logged.model, ServingModel):
            raise DataError(f"training run {training.run_id}: {name} is not a recsys model")
        validation = {
            m.format(k=cfg.k): logged.metrics[metric_name(f"validation_{m.format(k=cfg.k)}")]
            for m in VALIDATION_METRICS
        }
        candidates[name] = RecsysCandidate.from_candidate(
            logged, family=str(logged.metadata["family"]), validation=validation
        )
    example = pd.DataFrame({"user_id": [str(u) for u in prepared.users[:3]]})
    return TrainResult(
        candidates,
        training.best_name,
        TrainingData(prepared, split_, valid),
        interactions.source,
        example,
        run_id=training.run_id,
    )


def _stage(report: Progress, name: str) -> Callable[[int, int], None]:
    return lambda done, total: report(name, done, total)


# --------------------------------------------------------------------------- serving


@dataclass(frozen=True)
class ServingParts:
    """What every system's serving model shares: every interaction (as ratings and as a
    matrix), the catalogue, the similar items of every item and the popularity order
    (the cold-start answer)."""

    ratings: pd.DataFrame
    everything: InteractionMatrix
    titles: np.ndarray
    similar_top: np.ndarray
    similar_scores: np.ndarray
    popular: np.ndarray
    popular_counts: np.ndarray

    @classmethod
    def of(cls, prepared: Prepared, cfg: RecsysConfig) -> ServingParts:
        ratings = prepared.interactions.ratings
        everything = prepared.matrix(ratings)
        content = prepared.content.get("minilm", prepared.content["tfidf"])
        similarity = item_similarity(everything, content, content_weight=cfg.similar_content_weight)
        similar_top, similar_scores = precompute_similar(similarity, cfg.similar_n)
        counts = everything.item_counts()
        popular = np.lexsort((np.arange(len(counts)), -counts))[: cfg.top_n].astype(np.int32)
        return cls(
            ratings,
            everything,
            prepared.catalogue["title"].astype(str).to_numpy(),
            similar_top,
            similar_scores,
            popular,
            counts[popular].astype(np.float32),
        )


def serving_model(system: _Fitted, shared: ServingParts, cfg: RecsysConfig) -> ServingModel:
    """``system`` refitted on every interaction with its tuned parameters, with its top-N
    per user precomputed and the shared similar items and popularity."""
    everything = shared.everything
    model = copy.deepcopy(system.recipe).fit(everything, shared.ratings)
    user_top, user_scores = precompute_user_lists(model, everything, cfg.top_n)
    snapshot = Snapshot(
        users=everything.users,
        items=everything.items,
        titles=shared.titles,
        user_top=user_top,
        user_scores=user_scores,
        similar_top=shared.similar_top,
        similar_scores=shared.similar_scores,
        popular=shared.popular,
        popular_counts=shared.popular_counts,
    )
    return ServingModel(
        snapshot, model, everything.binary(), system.name, cfg.top_n, recipe=system.recipe
    )
