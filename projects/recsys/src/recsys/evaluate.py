"""Evaluation: the test part, once, for every candidate; the time-ordered split beside
it; a cold-start study; figures; the metrics document and its README tables; and the
promotion gate (test P@k, challenger and champion refitted on the same training rows).

Every candidate is refitted on the whole training part with the parameters chosen on
validation, then ranks every unseen catalogue item for each test user.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from recsys.config import RecsysConfig
from recsys.models import Recommender, item_similarity, top_k
from recsys.snapshot import ServingModel
from recsys.splits import Split, time_split
from recsys.train import Prepared, RecsysResult, recommend, truth_of
from tenfold.evaluation import new_figure
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.ranking import evaluate_rankings
from tenfold.reports import fmt, markdown_table
from tenfold.tracking import IncompatibleModel
from tenfold.training import Evaluation

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

DISPLAY_NAMES = {
    "popularity": "Popularity",
    "als": "implicit ALS (tuned)",
    "bpr": "implicit BPR (tuned)",
    "ease": "EASE (cornac, tuned)",
    "svd": "SVD (surprise, ratings)",
    "content_tfidf": "Content: TF-IDF metadata",
    "content_minilm": "Content: MiniLM embeddings",
    "hybrid": "Hybrid (CF blend + content)",
}
# recommenders' MovieLens 100K benchmark, same split (P@10; MAP is their `map`)
PUBLISHED = {
    "BiVAE": {"precision@10": 0.412, "source": "recommenders benchmark"},
    "BPR (cornac)": {"precision@10": 0.388, "source": "recommenders benchmark"},
    "SAR": {"precision@10": 0.331, "source": "recommenders benchmark"},
}
CURVE_K = (1, 5, 10, 20)


def score_split(
    recipe: Recommender, prepared: Prepared, split_: Split, ks: tuple[int, ...]
) -> dict[int, dict[str, float]]:
    """Fit ``recipe`` (an unfitted system) on ``split_.train``; metrics at each k on
    ``split_.test``."""
    train = prepared.matrix(split_.train)
    model = recipe.fit(train, split_.train)
    truth = truth_of(split_.test)
    recs = recommend(model, train, pd.Index(list(truth)), max(ks))
    counts = dict(zip(prepared.items.astype(str), train.item_counts().tolist(), strict=True))
    return {k: evaluate_rankings(recs, truth, k, training_counts=counts) for k in ks}


def cold_start(result: RecsysResult, cfg: RecsysConfig, profile_size: int = 5) -> dict[str, Any]:
    """What a new user gets: popularity, or the nearest taste of a short profile.

    Each test user is treated as new, known only by ``profile_size`` of their training
    items (the first ones in the split's random order): the profile answer sums the
    similar-items rows of those items (what the API does for ``?liked=``). Both are
    scored like the main protocol, the user's training items excluded. Items nobody
    rated in training can only be reached through content neighbours; they are counted.
    """
    prepared, split_ = result.data.prepared, result.data.split
    train = prepared.matrix(split_.train)
    content = prepared.content.get("minilm", prepared.content["tfidf"])
    similarity = item_similarity(train, content, content_weight=cfg.similar_content_weight)
    np.fill_diagonal(similarity, 0.0)
    truth = truth_of(split_.test)
    users = pd.Index(list(truth))
    rows = train.users.get_indexer(users)
    seen = train.binary()[rows]
    counts = train.item_counts().astype(np.float64)
    first = split_.train.groupby("user", sort=False)["item"].apply(lambda s: list(s[:profile_size]))
    profile_scores = np.zeros((len(users), len(prepared.items)))
    for j, user in enumerate(users):
        liked = prepared.items.get_indexer(first.get(user, []))
        profile_scores[j] = similarity[liked[liked >= 0]].sum(axis=0)
    out: dict[str, Any] = {"profile_size": profile_size}
    k = cfg.k
    item_counts = dict(zip(prepared.items.astype(str), counts.astype(int).tolist(), strict=True))
    for name, scores in (
        ("popularity", np.tile(counts, (len(users), 1))),
        ("profile_similar_items", profile_scores),
    ):
        positions, _ = top_k(scores, seen, k)
        recs = {
            str(users[j]): [str(prepared.items[i]) for i in positions[j]] for j in range(len(users))
        }
        metrics = evaluate_rankings(recs, truth, k, training_counts=item_counts)
        out[name] = {m: metrics[m] for m in (f"precision@{k}", f"ndcg@{k}", "coverage")}
    test_items = set(split_.test["item"])
    cold_items = [i for i in test_items if item_counts.get(str(i), 0) == 0]
    out["test_items_unseen_in_training"] = len(cold_items)
    out["catalogue_items_unseen_in_training"] = int((counts == 0).sum())
    return out


def evaluate(result: RecsysResult, cfg: RecsysConfig) -> Evaluation:
    """Every candidate on the test part (and the time-ordered split), the cold-start
    study, the figures: the metrics document of ``metrics.json``."""
    prepared, split_ = result.data.prepared, result.data.split
    interactions = prepared.interactions
    metric = f"precision@{cfg.k}"
    time_split_ = (
        time_split(interactions.ratings, test_fraction=cfg.time_test_fraction)
        if interactions.has_time
        else None
    )
    per_model: dict[str, Any] = {}
    curves: dict[str, dict[int, float]] = {}
    for name, candidate in result.candidates.items():
        at_k = score_split(candidate.fresh(), prepared, split_, CURVE_K)
        row: dict[str, Any] = {
            "family": candidate.family,
            "params": {k: _plain(v) for k, v in sorted(candidate.params.items())},
            "validation": {k: v for k, v in candidate.validation.items() if k != "users"},
            "test": at_k[cfg.k],
        }
        curves[name] = {k: at_k[k][f"precision@{k}"] for k in CURVE_K}
        if time_split_ is not None:
            row["time_split"] = score_split(candidate.fresh(), prepared, time_split_, (cfg.k,))[
                cfg.k
            ]
        if candidate.tuning is not None:
            row["tuning"] = {
                "trials": candidate.tuning.n_trials,
                "best_validation_precision": candidate.tuning.best_score,
            }
        per_model[name] = row
    ratings = interactions.ratings
    document: dict[str, Any] = {
        "data": {
            **interactions.source.summary(),
            "users": int(ratings["user"].nunique()),
            "items": len(prepared.items),
            "interactions": len(ratings),
            "density": len(ratings) / (ratings["user"].nunique() * len(prepared.items)),
        },
        "protocol": {
            "split": "recommenders python_stratified_split (per user, ratio 0.75)",
            "seed": cfg.seed,
            "k": cfg.k,
            **split_.describe(),
            "validation": {
                "ratio_of_train": cfg.validation_ratio,
                # tuned and picked on the mean of this many splits; rows: the first one's
                "splits": cfg.validation_splits,
                "seeds": cfg.validation_seeds,
                **result.data.validation.describe(),
            },
            "time_split": (
                {"last_fraction_per_user": cfg.time_test_fraction, **time_split_.describe()}
                if time_split_ is not None
                else None
            ),
            "relevance": "binary: every test interaction is relevant",
            "seen_items": "excluded from every list",
            "champion_selection": f"best validation {metric}",
            "content_representations": sorted(prepared.content),
        },
        "models": per_model,
        "champion": result.best_name,
        "published": PUBLISHED,
        "cold_start": cold_start(result, cfg),
        "serving": {"top_n": cfg.top_n, "similar_n": cfg.similar_n},
    }
    figures = {
        "accuracy.png": plot_accuracy(per_model, cfg.k),
        "precision_at_k.png": plot_precision_curves(curves),
        "accuracy_vs_coverage.png": plot_tradeoff(per_model, cfg.k),
    }
    hybrid = result.candidates.get("hybrid")
    grid = hybrid.blend_grid if hybrid is not None else None
    if grid is not None and not grid.empty:
        figures["hybrid_weight.png"] = plot_hybrid_weight(grid, cfg.k)
    return Evaluation(metrics=document, figures=figures)


def promotion_gate(result: RecsysResult, cfg: RecsysConfig) -> tuple[Gate, Scorer]:
    """The gate a challenger must pass: P@k on the test part of the benchmark split,
    better than the champion's by more than ``cfg.promotion_margin``. A registered model
    is fitted on every interaction (test included), so each is scored the way evaluation
    scores a candidate: its recipe refitted on the training part, its lists ranked
    against the test part, for challenger and champion on the same rows."""
    prepared, split_ = result.data.prepared, result.data.split
    rows = ValidationSet.of(
        f"{result.source.dataset} test part (stratified {cfg.train_ratio:.0%} split, "
        f"seed {cfg.seed})",
        split_.test[["user", "item"]],
    )

    def score(record: ModelRecord) -> float:
        model = record.model
        if not isinstance(model, ServingModel):
            raise IncompatibleModel(record.uri, "it is not a recsys serving model")
        return score_split(model.fresh(), prepared, split_, (cfg.k,))[cfg.k][f"precision@{cfg.k}"]

    return Gate(f"test P@{cfg.k}", True, cfg.promotion_margin, rows), score


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------- figures


def plot_accuracy(models: Mapping[str, Any], k: int) -> Figure:
    fig = new_figure(8, 4.5)
    ax = fig.subplots()
    names = list(models)
    x = np.arange(len(names))
    width = 0.38
    stratified = [models[n]["test"][f"precision@{k}"] for n in names]
    ax.bar(x - width / 2, stratified, width, label="stratified 75/25 (benchmark split)")
    if all("time_split" in models[n] for n in names):
        timed = [models[n]["time_split"][f"precision@{k}"] for n in names]
        ax.bar(x + width / 2, timed, width, label="time-ordered (last 20 % per user)")
    ax.axhline(0.412, color="grey", ls="--", lw=1, label="BiVAE, published (0.412)")
    ax.set_xticks(x, [DISPLAY_NAMES.get(n, n) for n in names], rotation=30, ha="right")
    ax.set_ylabel(f"precision@{k} on test")
    ax.set_title(f"Precision@{k}: every system, both splits")
    ax.set_ylim(0, max(stratified) * 1.3)
    ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_precision_curves(curves: Mapping[str, Mapping[int, float]]) -> Figure:
    fig = new_figure()
    ax = fig.subplots()
    for name, points in curves.items():
        ks = sorted(points)
        ax.plot(ks, [points[k] for k in ks], marker="o", label=DISPLAY_NAMES.get(name, name))
    ax.set_xlabel("k")
    ax.set_ylabel("precision@k (test)")
    ax.set_title("Precision at k")
    ax.legend(fontsize=7)
    return fig


def plot_tradeoff(models: Mapping[str, Any], k: int) -> Figure:
    fig = new_figure()
    ax = fig.subplots()
    for name, row in models.items():
        test = row["test"]
        ax.scatter(test["coverage"], test[f"precision@{k}"], s=20 + 8 * test["novelty"])
        ax.annotate(
            f"{DISPLAY_NAMES.get(name, name)}\nnovelty {test['novelty']:.1f}",
            (test["coverage"], test[f"precision@{k}"]),
            fontsize=7,
            xytext=(4, 4),
            textcoords="offset points",
        )
    ax.set_xlabel(f"catalogue coverage of the top-{k} lists")
    ax.set_ylabel(f"precision@{k}")
    ax.set_title("Accuracy against coverage (marker size: novelty)")
    return fig


def plot_hybrid_weight(trials: pd.DataFrame, k: int) -> Figure:
    """Validation P@k of every blend tried: the first model's weight against the last
    (content) one's; the middle model gets the rest."""
    names = [c for c in trials.columns if c != "value"]
    fig = new_figure(5.5, 4.2)
    ax = fig.subplots()
    points = ax.scatter(
        trials[names[0]], trials[names[-1]], c=trials["value"], cmap="viridis", s=60
    )
    best = trials.iloc[int(trials["value"].to_numpy().argmax())]
    ax.scatter([best[names[0]]], [best[names[-1]]], marker="x", color="red", s=90, label="chosen")
    fig.colorbar(points, ax=ax, label=f"validation precision@{k}")
    ax.set_xlabel(f"weight of {DISPLAY_NAMES.get(names[0], names[0])}")
    ax.set_ylabel(f"weight of {DISPLAY_NAMES.get(names[-1], names[-1])}")
    middle = ", ".join(DISPLAY_NAMES.get(n, n) for n in names[1:-1])
    ax.set_title(f"Hybrid blend on validation (rest: {middle})", fontsize=9)
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- README tables


def ordered(models: Mapping[str, Any]) -> list[tuple[str, Any]]:
    """Systems in the story's order (metrics.json sorts its keys)."""
    rank = {name: i for i, name in enumerate(DISPLAY_NAMES)}
    return sorted(models.items(), key=lambda kv: (rank.get(kv[0], len(rank)), kv[0]))


def results_table(metrics: Mapping[str, Any]) -> str:
    k = metrics["protocol"]["k"]
    champion = metrics["champion"]
    rows = []
    for name, row in ordered(metrics["models"]):
        test = row["test"]
        timed = row.get("time_split") or {}
        rows.append(
            {
                "name": DISPLAY_NAMES.get(name, name)
                + (" **(champion)**" if name == champion else ""),
                "val": row["validation"][f"precision@{k}"],
                **{m: test[m] for m in test},
                "time": timed.get(f"precision@{k}"),
            }
        )
    table = markdown_table(
        rows,
        [
            ("System", lambda r: r["name"]),
            (f"val P@{k}", lambda r: fmt(r["val"])),
            (f"P@{k}", lambda r: fmt(r[f"precision@{k}"])),
            (f"R@{k}", lambda r: fmt(r[f"recall@{k}"])),
            (f"NDCG@{k}", lambda r: fmt(r[f"ndcg@{k}"])),
            (f"MAP@{k}", lambda r: fmt(r[f"map@{k}"])),
            ("MAP", lambda r: fmt(r["map"])),
            ("coverage", lambda r: fmt(r["coverage"])),
            ("novelty", lambda r: fmt(r["novelty"], 2)),
            (f"time-split P@{k}", lambda r: fmt(r["time"])),
        ],
    )
    data = metrics["data"]
    protocol = metrics["protocol"]
    cold = metrics["cold_start"]
    splits = int(protocol["validation"].get("splits", 1))
    note = (
        f"{data['kind']} data: {data['interactions']:,} interactions, {data['users']:,} users, "
        f"{data['items']:,} items; stratified split {protocol['train_rows']:,} / "
        f"{protocol['test_rows']:,} rows (seed {protocol['seed']}), tuned on the mean of "
        f"{splits} validation split{'s' if splits > 1 else ''} of the training part "
        f"({protocol['validation']['train_rows']:,} / {protocol['validation']['test_rows']:,}"
        f"{' each' if splits > 1 else ''}); champion = best validation P@{k}."
    )
    cold_note = (
        f"Cold start (each test user known by {cold['profile_size']} items only): popularity "
        f"P@{k} {fmt(cold['popularity'][f'precision@{k}'])}, nearest taste of the profile "
        f"{fmt(cold['profile_similar_items'][f'precision@{k}'])}; "
        f"{cold['catalogue_items_unseen_in_training']} catalogue items have no training "
        "interaction (their similar items are content neighbours)."
    )
    return "\n\n".join([table, note, cold_note])


def benchmark_table(results: Mapping[str, Any]) -> str:
    """The latency benchmark's JSON as the README's table."""
    rows = results["rows"]
    table = markdown_table(
        rows,
        [
            ("path", lambda r: r["path"]),
            ("connections", lambda r: r["concurrency"]),
            ("p50 (ms)", lambda r: fmt(r["p50_ms"])),
            ("p99 (ms)", lambda r: fmt(r["p99_ms"])),
            ("requests/s", lambda r: f"{r['requests_per_s']:.0f}"),
            ("server CPU (ms/request)", lambda r: fmt(r.get("server_cpu_ms"))),
        ],
    )
    return table + "\n\n" + str(results.get("note", ""))


def scale_table(results: Mapping[str, Any]) -> str:
    rows = results["rows"]
    table = markdown_table(
        rows,
        [
            ("users", lambda r: f"{r['users']:,}"),
            ("precompute (s)", lambda r: fmt(r["precompute_s"], 2)),
            ("write to Redis (s)", lambda r: fmt(r["write_s"], 2)),
            ("keys/s", lambda r: f"{r['keys_per_s']:,.0f}"),
            ("Redis memory (MB)", lambda r: fmt(r["redis_memory_mb"], 1)),
            ("bytes/user", lambda r: f"{r['bytes_per_user']:,.0f}"),
        ],
    )
    return table + "\n\n" + str(results.get("note", ""))
