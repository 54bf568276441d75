"""Evaluation: the test split, once, for every candidate; figures; the error analysis;
the metrics document.

Everything here is a pure function of fitted models and data: figures are returned as
matplotlib Figures, the error analysis as markdown text and the metrics as a dict. The
CLI decides where they are written.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from sklearn import metrics as skm

from nlp.config import NlpConfig
from nlp.features import TokenExplainer, TokenWeight
from nlp.train import NlpResult, macro_f1
from tenfold.evaluation import bootstrap_ci, new_figure
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.reports import fmt, markdown_table
from tenfold.training import Candidate
from tenfold.training import Evaluation as BaseEvaluation

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

DISPLAY_NAMES = {
    "tfidf": "TF-IDF word + char n-grams → linear (SGD, log loss)",
    "embeddings": "all-MiniLM-L6-v2 embeddings → logistic regression",
}
SHORT_NAMES = {"tfidf": "TF-IDF", "embeddings": "Embeddings"}
MODEL_ORDER = ("tfidf", "embeddings")


@dataclass(frozen=True)
class TestPredictions:
    classes: list[str]
    proba: np.ndarray
    features: Any  # the fitted features step's output (sparse tf-idf or embeddings)

    @property
    def predicted(self) -> np.ndarray:
        labels: np.ndarray = np.asarray(self.classes, dtype=object)[np.argmax(self.proba, axis=1)]
        return labels

    @property
    def confidence(self) -> np.ndarray:
        return np.asarray(self.proba.max(axis=1))


@dataclass(frozen=True, kw_only=True)
class Evaluation(BaseEvaluation):
    """The metrics and figures, the error analysis (``files``: ``error_analysis.md``) and
    each model's test predictions."""

    predictions: dict[str, TestPredictions]

    @property
    def error_analysis(self) -> str:
        return self.files[ERROR_ANALYSIS]


ERROR_ANALYSIS = "error_analysis.md"


def predict_test(candidate: Candidate, X: Any) -> TestPredictions:
    """Probabilities on the test rows, keeping the features for the explanations."""
    pipeline = candidate.model
    features = pipeline[:-1].transform(X)
    model = pipeline.named_steps["model"]
    return TestPredictions(
        [str(c) for c in model.classes_], model.predict_proba(features), features
    )


def most_confused(
    y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], k: int = 3
) -> list[dict[str, Any]]:
    """The ``k`` largest off-diagonal cells: (true class, predicted class, count)."""
    matrix = skm.confusion_matrix(y_true, y_pred, labels=list(classes))
    cells = [
        (int(matrix[i, j]), classes[i], classes[j])
        for i in range(len(classes))
        for j in range(len(classes))
        if i != j and matrix[i, j] > 0
    ]
    cells.sort(key=lambda c: (-c[0], c[1], c[2]))
    return [{"true": t, "predicted": p, "count": n} for n, t, p in cells[:k]]


def test_metrics(y: np.ndarray, predictions: TestPredictions, cfg: NlpConfig) -> dict[str, Any]:
    classes = predictions.classes
    pred = predictions.predicted
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y, pred, labels=classes, zero_division=0
    )
    low, high = bootstrap_ci(macro_f1, y, pred, n_boot=cfg.bootstrap_samples, seed=cfg.seed)
    return {
        "macro_f1": macro_f1(y, pred),
        "macro_f1_ci95": [low, high],
        "accuracy": float(skm.accuracy_score(y, pred)),
        "weighted_f1": float(skm.f1_score(y, pred, average="weighted")),
        "log_loss": float(skm.log_loss(y, predictions.proba, labels=classes)),
        "errors": int(np.sum(pred != y)),
        "per_class": {
            c: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, c in enumerate(classes)
        },
        "confusion_matrix": skm.confusion_matrix(y, pred, labels=classes).tolist(),
        "most_confused": most_confused(y, pred, classes),
    }


def evaluate(result: NlpResult, cfg: NlpConfig) -> Evaluation:
    """The test split, once, for every model: the metrics document, its figures and the
    error analysis."""
    split = result.data.split
    predictions = {
        name: predict_test(candidate, split.X_test) for name, candidate in result.candidates.items()
    }
    per_model: dict[str, Any] = {}
    for name, candidate in result.candidates.items():
        per_model[name] = {
            "cv_macro_f1": candidate.cv_score,
            "cv_macro_f1_std": candidate.cv_std,
            "params": {k: _param(v) for k, v in sorted(candidate.params.items())},
            "test": test_metrics(split.y_test, predictions[name], cfg),
        }
        if candidate.tuning is not None:
            per_model[name]["tuning"] = {
                "trials": candidate.tuning.n_trials,
                "pruned": candidate.tuning.n_pruned,
                "best_cv_macro_f1": candidate.tuning.best_score,
            }
    prepared = result.data.prepared
    y_all = prepared.y
    classes = list(prepared.classes)
    document: dict[str, Any] = {
        "data": {
            **result.source.summary(),
            "documents": len(y_all),
            "near_duplicate_groups": int(len(y_all) - len(np.unique(prepared.groups))),
            "train_documents": len(split.y_train),
            "test_documents": len(split.y_test),
            "classes": {c: int(np.sum(y_all == c)) for c in classes},
        },
        "protocol": {
            "seed": cfg.seed,
            "test_size": cfg.test_size,
            "cv_folds": cfg.cv_folds,
            "n_trials": cfg.n_trials,
            "split": "stratified, near-duplicates grouped (StratifiedGroupKFold)",
            "champion_selection": "best mean CV macro-F1",
            "max_seq_length": cfg.max_seq_length,
        },
        "models": per_model,
        "champion": result.best_name,
        "skipped": dict(result.data.skipped),
    }
    if len(predictions) == 2:
        document["comparison"] = compare(split.y_test, predictions)
    figures = {
        "confusion_matrix.png": plot_confusions(split.y_test, predictions, per_model),
        "per_class_f1.png": plot_per_class_f1(per_model, classes),
        "confidence.png": plot_confidence(split.y_test, predictions),
    }
    if "tfidf" in result.candidates:
        figures["top_terms.png"] = plot_top_terms(TokenExplainer(result.candidates["tfidf"].model))
    report = error_analysis(result, predictions, per_model, cfg)
    return Evaluation(
        metrics=document, figures=figures, files={ERROR_ANALYSIS: report}, predictions=predictions
    )


def promotion_gate(result: NlpResult, cfg: NlpConfig) -> tuple[Gate, Scorer]:
    """The gate a challenger must pass: macro-F1 on the grouped, stratified test split,
    above the champion's by more than ``cfg.promotion_margin``."""
    split = result.data.split
    rows = ValidationSet.of(
        f"{result.source.dataset} test split (grouped, seed {cfg.seed})",
        split.X_test,
        split.y_test,
    )

    def score(record: ModelRecord) -> float:
        return macro_f1(split.y_test, record.model.predict(split.X_test))

    return Gate("test macro-F1", True, cfg.promotion_margin, rows), score


def compare(y: np.ndarray, predictions: Mapping[str, TestPredictions]) -> dict[str, Any]:
    """Where the two models agree, and whose errors the other one gets right."""
    tfidf_wrong = predictions["tfidf"].predicted != y
    dense_wrong = predictions["embeddings"].predicted != y
    agree = predictions["tfidf"].predicted == predictions["embeddings"].predicted
    return {
        "agreement": float(np.mean(agree)),
        "both_wrong": int(np.sum(tfidf_wrong & dense_wrong)),
        "only_tfidf_wrong": int(np.sum(tfidf_wrong & ~dense_wrong)),
        "only_embeddings_wrong": int(np.sum(dense_wrong & ~tfidf_wrong)),
    }


def _param(value: Any) -> Any:
    """Floats as 4 significant digits in text: the metrics writer rounds to 4 decimals,
    which would turn a regularisation strength of 3e-7 into 0."""
    value = value.item() if isinstance(value, np.generic) else value
    return f"{value:.4g}" if isinstance(value, float) else value


# --------------------------------------------------------------------------- figures


def _confused_text(pairs: Sequence[Mapping[str, Any]]) -> str:
    if not pairs:
        return "no errors"
    return "\n".join(f"{p['true']} → {p['predicted']}: {p['count']}" for p in pairs)


def plot_confusions(
    y: np.ndarray, predictions: Mapping[str, TestPredictions], per_model: Mapping[str, Any]
) -> Figure:
    """One confusion matrix per model (counts; colour = share of the true class), with
    the most-confused pairs written under each."""
    fig = new_figure(5.2 * len(predictions), 6.4)
    axes = np.atleast_1d(fig.subplots(1, len(predictions)))
    for ax, (name, pred) in zip(axes, predictions.items(), strict=True):
        classes = pred.classes
        matrix = skm.confusion_matrix(y, pred.predicted, labels=classes)
        share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
        ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
        for i in range(len(classes)):
            for j in range(len(classes)):
                dark = share[i, j] > 0.5
                ax.text(
                    j, i, str(matrix[i, j]), ha="center", va="center",
                    color="white" if dark else "black", fontsize=9,
                )  # fmt: skip
        ax.set_xticks(range(len(classes)), classes, rotation=35, ha="right", fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
        test = per_model[name]["test"]
        ax.set_title(f"{SHORT_NAMES[name]}: macro-F1 {test['macro_f1']:.3f}", fontsize=10)
        ax.set_ylabel("true class")
        ax.set_xlabel(
            "predicted class\n\nmost confused (true → predicted):\n"
            + _confused_text(test["most_confused"]),
            fontsize=8,
        )
    fig.suptitle("Confusion matrices, held-out test", fontsize=11)
    return fig


def plot_per_class_f1(per_model: Mapping[str, Any], classes: Sequence[str]) -> Figure:
    fig = new_figure(7, 3.8)
    ax = fig.subplots()
    width = 0.8 / max(len(per_model), 1)
    lowest = 1.0
    for k, (name, row) in enumerate(per_model.items()):
        f1 = [row["test"]["per_class"][c]["f1"] for c in classes]
        lowest = min(lowest, *f1)
        xs = np.arange(len(classes)) + (k - (len(per_model) - 1) / 2) * width
        bars = ax.bar(xs, f1, width=width, label=SHORT_NAMES[name])
        ax.bar_label(bars, fmt="%.3f", fontsize=7, padding=2)
    ax.set_xticks(range(len(classes)), classes)
    ax.set_ylim(max(0.0, lowest - 0.05), 1.01)
    ax.set(ylabel="F1 (test)", title="Per-class F1, held-out test")
    ax.legend(fontsize=8, loc="lower right")
    return fig


def plot_confidence(y: np.ndarray, predictions: Mapping[str, TestPredictions]) -> Figure:
    """Confidence (top class probability) of right and wrong answers: errors should sit
    low, where a human could review them."""
    fig = new_figure(5 * len(predictions), 3.6)
    axes = np.atleast_1d(fig.subplots(1, len(predictions)))
    bins = np.linspace(0, 1, 21)
    for ax, (name, pred) in zip(axes, predictions.items(), strict=True):
        right = pred.predicted == y
        ax.hist(pred.confidence[right], bins=bins, alpha=0.7, label=f"right ({right.sum()})")
        ax.hist(pred.confidence[~right], bins=bins, alpha=0.9, label=f"wrong ({(~right).sum()})")
        ax.set_yscale("log")
        ax.set(
            xlabel="confidence (top class probability)", ylabel="articles", title=SHORT_NAMES[name]
        )
        ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_top_terms(explainer: TokenExplainer, k: int = 8) -> Figure:
    """The TF-IDF model's strongest word n-grams per class (coefficients)."""
    classes = explainer.classes
    fig = new_figure(2.6 * len(classes), 3.4)
    axes = np.atleast_1d(fig.subplots(1, len(classes)))
    for ax, name in zip(axes, classes, strict=True):
        terms = explainer.top_terms(name, k)[::-1]
        ax.barh([t for t, _ in terms], [w for _, w in terms], color="tab:blue")
        ax.set_title(name, fontsize=10)
        ax.tick_params(axis="y", labelsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle("TF-IDF model: strongest word n-grams per class (coefficient)", fontsize=10)
    return fig


# --------------------------------------------------------------------------- error analysis


def snippet(text: str, length: int = 150) -> str:
    """Headline and the start of the article, on one line, safe inside a table cell."""
    headline, _, body = text.strip().partition("\n")
    body = " ".join(body.split())
    cut = body[:length].rsplit(" ", 1)[0] + "…" if len(body) > length else body
    return _cell(f"**{headline.strip()}**: {cut}")


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _tokens(weights: Sequence[TokenWeight]) -> str:
    return ", ".join(f"{w.readable} ({w.weight:.2f})" for w in weights) or "–"


def error_analysis(
    result: NlpResult,
    predictions: Mapping[str, TestPredictions],
    per_model: Mapping[str, Any],
    cfg: NlpConfig,
) -> str:
    """Markdown: the most confused pairs and the worst errors of each model (the wrong
    answers given with the highest confidence), with what drove each one."""
    split = result.data.split
    y = split.y_test
    texts = split.X_test["text"].tolist()
    lines = [
        "# Error analysis (held-out test)",
        "",
        f"Generated by `python -m nlp run` from the {result.source.kind} data: "
        f"{len(y)} test articles, seed {cfg.seed}. An error's *confidence* is the "
        "probability the model gave its (wrong) answer; the worst errors are the most "
        "confident ones.",
    ]
    for name, pred in predictions.items():
        test = per_model[name]["test"]
        lines += [
            "",
            f"## {DISPLAY_NAMES[name]}",
            "",
            f"Errors: {test['errors']} of {len(y)} (macro-F1 {test['macro_f1']:.4f}). "
            "Most confused pairs: "
            + (
                "; ".join(
                    f"{p['true']} → {p['predicted']} ({p['count']})" for p in test["most_confused"]
                )
                or "none"
            )
            + ".",
            "",
        ]
        wrong = np.flatnonzero(pred.predicted != y)
        worst = wrong[np.lexsort((wrong, -pred.confidence[wrong]))][: cfg.worst_errors]
        if len(worst) == 0:
            lines.append("No misclassified articles.")
            continue
        if name == "tfidf":
            lines += _tfidf_rows(result.candidates["tfidf"], pred, worst, y, texts, cfg)
        else:
            lines += _dense_rows(result, pred, worst, y, texts)
    lines += ["", READING_GUIDE]
    return "\n".join(lines) + "\n"


def _tfidf_rows(
    candidate: Candidate,
    pred: TestPredictions,
    rows: np.ndarray,
    y: np.ndarray,
    texts: Sequence[str],
    cfg: NlpConfig,
) -> list[str]:
    explainer = TokenExplainer(candidate.model)
    table = [
        "| # | article | true | predicted | confidence | p(true) "
        "| words that drove it (predicted − true) | char n-grams |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for rank, i in enumerate(rows, start=1):
        guess, truth = str(pred.predicted[i]), str(y[i])
        words = explainer.top(pred.features, i, guess, against=truth, k=cfg.top_tokens, kind="word")
        chars = explainer.top(pred.features, i, guess, against=truth, k=4, kind="char")
        table.append(
            f"| {rank} | {snippet(texts[i])} | {truth} | **{guess}** | "
            f"{pred.confidence[i]:.2f} | {pred.proba[i, pred.classes.index(truth)]:.2f} | "
            f"{_cell(_tokens(words))} | {_cell(_tokens(chars))} |"
        )
    return [
        "Tokens: tf-idf value × (coefficient of the predicted class − coefficient of the "
        "true class), summed over the article's n-grams, gives the margin by which the wrong "
        "class won; the largest terms are listed.",
        "",
        *table,
    ]


def _dense_rows(
    result: NlpResult,
    pred: TestPredictions,
    rows: np.ndarray,
    y: np.ndarray,
    texts: Sequence[str],
) -> list[str]:
    """An embedding has no tokens to show; its nearest training article (cosine) shows
    what the article was taken to be like."""
    candidate = result.candidates["embeddings"]
    train_vectors = candidate.model[:-1].transform(result.data.split.X_train)
    raw_train = result.data.split.X_train["text"].tolist()
    table = [
        "| # | article | true | predicted | confidence | p(true) "
        "| nearest training article (cosine, its class) |",
        "|---|---|---|---|---|---|---|",
    ]
    for rank, i in enumerate(rows, start=1):
        similarity = train_vectors @ pred.features[i]
        nearest = int(np.argmax(similarity))
        truth = str(y[i])
        table.append(
            f"| {rank} | {snippet(texts[i])} | {truth} | **{pred.predicted[i]}** | "
            f"{pred.confidence[i]:.2f} | {pred.proba[i, pred.classes.index(truth)]:.2f} | "
            f"{snippet(raw_train[nearest], 60)} ({similarity[nearest]:.2f}, "
            f"{result.data.split.y_train[nearest]}) |"
        )
    return table


READING_GUIDE = (
    "Reading the tables: a confident error whose tokens are sensible for the predicted "
    "class (a business story about a football club's shares, a politics story about "
    "the economy) is usually an article that belongs to both topics; BBC News gives "
    "each article one label. Low-confidence errors are the ones a review queue would "
    "catch (see `confidence.png`)."
)


# --------------------------------------------------------------------------- README


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results tables, generated from ``metrics.json``."""
    champion = metrics["champion"]
    names = [n for n in MODEL_ORDER if n in metrics["models"]]
    rows = [{"name": n, **metrics["models"][n]} for n in names]
    data = metrics["data"]
    summary = markdown_table(
        rows,
        [
            (
                "Model",
                lambda r: (
                    DISPLAY_NAMES[r["name"]] + (" **(champion)**" if r["name"] == champion else "")
                ),
            ),
            (
                "CV macro-F1",
                lambda r: f"{fmt(r['cv_macro_f1'], 4)} ± {fmt(r['cv_macro_f1_std'], 4)}",
            ),
            ("Test macro-F1 (95 % CI)", lambda r: _with_ci(r["test"])),
            ("Accuracy", lambda r: fmt(r["test"]["accuracy"], 4)),
            ("Log loss", lambda r: fmt(r["test"]["log_loss"], 3)),
            ("Errors", lambda r: f"{r['test']['errors']} / {data['test_documents']}"),
        ],
    )
    classes = list(data["classes"])

    def scores_of(name: str) -> Callable[[Mapping[str, Any]], str]:
        per_class = metrics["models"][name]["test"]["per_class"]
        return lambda r: " / ".join(
            fmt(per_class[r["class"]][k], 3) for k in ("precision", "recall", "f1")
        )

    per_class = markdown_table(
        [{"class": c} for c in classes],
        [("Class", lambda r: str(r["class"]))]
        + [(f"{SHORT_NAMES[n]} P / R / F1", scores_of(n)) for n in names],
    )
    protocol = metrics["protocol"]
    note = (
        f"{data['kind']} data: {data['documents']} articles ({data['near_duplicate_groups']} "
        f"near-duplicates kept with their twin), {data['test_documents']} in the stratified, "
        f"grouped test split; seed {protocol['seed']}, {protocol['cv_folds']}-fold grouped CV, "
        f"{protocol['n_trials']} Optuna trials per model."
    )
    parts = [summary, per_class, note]
    if "comparison" in metrics:
        c = metrics["comparison"]
        parts.append(
            f"The models agree on {c['agreement']:.1%} of test articles; {c['both_wrong']} "
            f"articles fool both, {c['only_tfidf_wrong']} only TF-IDF, "
            f"{c['only_embeddings_wrong']} only the embeddings."
        )
    if metrics.get("skipped"):
        parts.append(f"Not trained: {metrics['skipped']}.")
    return "\n\n".join(parts)


def _with_ci(test: Mapping[str, Any]) -> str:
    low, high = test["macro_f1_ci95"]
    return f"**{fmt(test['macro_f1'], 4)}** ({fmt(low, 3)}–{fmt(high, 3)})"


def latency_table(latency: Mapping[str, Any]) -> str:
    """The README's latency table, generated from ``reports/latency.json`` (written by
    ``benchmarks/latency.py``)."""
    rows = [
        {"model": name, "mode": mode, **row}
        for name, modes in latency["models"].items()
        for mode, measured in modes.items()
        for row in measured
    ]
    table = markdown_table(
        rows,
        [
            ("Model", lambda r: SHORT_NAMES.get(r["model"], r["model"])),
            (
                "Request",
                lambda r: "1 article" if r["mode"] == "single" else f"batch of {r['batch_size']}",
            ),
            ("Concurrency", lambda r: str(r["concurrency"])),
            ("p50 ms", lambda r: fmt(r["p50_ms"], 1)),
            ("p99 ms", lambda r: fmt(r["p99_ms"], 1)),
            ("Requests/s", lambda r: fmt(r["requests_per_s"], 1)),
            ("Articles/s", lambda r: fmt(r["articles_per_s"], 1)),
        ],
    )
    setup = latency["setup"]
    note = (
        f"{setup['requests']} requests per row after {setup['warmup']} warm-up requests; "
        f"test articles of {setup['median_chars']} characters (median); one uvicorn worker "
        f"per model on 127.0.0.1, client on the same {setup['cpus']}-CPU machine "
        f"({setup['platform']})."
    )
    return f"{table}\n\n{note}"
