"""Evaluation: the test period, once, for every variant; figures; the metrics document.

Pure functions of fitted models and data: figures come back as matplotlib Figures and
the metrics as a dict; the CLI decides where they go.

Metrics (test period, after the delay gap):

- AUPRC (average precision) with a bootstrap 95 % interval, ROC-AUC;
- card precision @ k per day (the handbook's): each day, the k cards with the highest
  fraud score among cards not already caught on an earlier day; the share of them that
  were really compromised, averaged over days;
- recall at a fixed alert budget: the share of frauds among the ``alerts_per_day``
  highest-scored transactions of each day;
- dollar cost at the threshold chosen on validation and at 0.5, against "no model"
  (every fraud is lost) and "flag everything" (every transaction is reviewed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn import metrics as skm

from fraud.config import FraudConfig
from fraud.train import (
    DEFAULT_THRESHOLD,
    VARIANTS,
    FraudCandidate,
    FraudResult,
    background_mean,
    cost_at,
)
from tenfold.evaluation import bootstrap_ci, new_figure, plot_importance, plot_pr
from tenfold.explain import FastScorer
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.reports import fmt, markdown_table
from tenfold.training import Evaluation as BaseEvaluation

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

DISPLAY_NAMES = {
    "logistic_regression": "Logistic regression",
    "lightgbm": "LightGBM",
    "lightgbm_class_weight": "LightGBM + class weights",
    "lightgbm_smote": "LightGBM + SMOTE",
}
SCENARIOS = {1: "amount > threshold", 2: "compromised terminal", 3: "compromised card"}


@dataclass(frozen=True, kw_only=True)
class Evaluation(BaseEvaluation):
    test_proba: dict[str, np.ndarray]


# --------------------------------------------------------------------------- metrics


def dense_rank(score: np.ndarray) -> np.ndarray:
    """Scores replaced by the rank of their distinct value (ties share a rank)."""
    return np.unique(np.asarray(score, dtype=float), return_inverse=True)[1].astype(np.int64)


def average_precision_from_ranks(y: np.ndarray, ranks: np.ndarray) -> float:
    """Average precision (equal to sklearn's) of scores given as dense ranks.

    Counting frauds and rows per rank with ``bincount`` replaces the sort that
    ``average_precision_score`` does on every call, so a bootstrap over 100k rows takes
    a second instead of ten. AP depends only on the order of the scores, and ranks keep
    it, ties included.
    """
    y = np.asarray(y)
    size = int(ranks.max()) + 1
    positives = np.bincount(ranks, weights=y, minlength=size)[::-1]
    rows = np.bincount(ranks, minlength=size)[::-1]
    total = positives.sum()
    if total == 0:
        return float("nan")
    present = rows > 0
    tp = np.cumsum(positives)[present]
    alerts = np.cumsum(rows)[present]
    gained = positives[present] / total
    return float(np.sum(gained * tp / alerts))


def card_precision_at_k(
    day: np.ndarray, card: np.ndarray, y: np.ndarray, score: np.ndarray, k: int
) -> tuple[float, list[float]]:
    """Mean and per-day card precision @ k (Fraud-Detection-Handbook, ch. 4).

    A card's daily score is its highest transaction score, its label whether any of its
    transactions that day was fraud. Cards caught on an earlier day (in a top k and
    compromised) are removed from later days: they would already be blocked.
    """
    frame = pd.DataFrame(
        {"day": np.floor(day).astype(np.int64), "card": card, "y": y, "score": score}
    )
    caught: set[Any] = set()
    per_day: list[float] = []
    for _, rows in frame.groupby("day", sort=True):
        rows = rows[~rows["card"].isin(caught)]
        cards = rows.groupby("card", sort=True).agg(score=("score", "max"), y=("y", "max"))
        top = cards.sort_values("score", ascending=False, kind="stable").head(k)
        per_day.append(float(top["y"].sum() / k))
        caught.update(top.index[top["y"] == 1])
    return float(np.mean(per_day)), per_day


def recall_at_budget(day: np.ndarray, y: np.ndarray, score: np.ndarray, per_day: int) -> float:
    """Share of all frauds found when analysts review the ``per_day`` highest-scored
    transactions of each day."""
    frame = pd.DataFrame({"day": np.floor(day).astype(np.int64), "y": y, "score": score})
    order = frame.sort_values(["day", "score"], ascending=[True, False], kind="stable")
    top = order.groupby("day", sort=True).head(per_day)
    return float(top["y"].sum() / max(int(frame["y"].sum()), 1))


def decision_metrics(
    y: np.ndarray, proba: np.ndarray, amount: np.ndarray, threshold: float, cfg: FraudConfig
) -> dict[str, float]:
    alert = proba >= threshold
    caught = alert & (y == 1)
    return {
        "threshold": threshold,
        "cost": cost_at(y, proba, amount, threshold, cfg),
        "alerts": int(alert.sum()),
        "frauds_caught": int(caught.sum()),
        "precision": float(caught.sum() / max(int(alert.sum()), 1)),
        "recall": float(caught.sum() / max(int(y.sum()), 1)),
        "fraud_amount_caught_share": float(amount[caught].sum() / max(amount[y == 1].sum(), 1e-9)),
    }


def baseline_costs(y: np.ndarray, amount: np.ndarray, cfg: FraudConfig) -> dict[str, float]:
    return {
        "no_model": float(amount[y == 1].sum()),
        "flag_everything": float(len(y) * cfg.economics.review_cost),
    }


def test_metrics(
    candidate: FraudCandidate, result: FraudResult, cfg: FraudConfig
) -> tuple[dict[str, Any], np.ndarray]:
    periods = result.data.periods
    y = periods.split.y_test
    meta = periods.meta_test
    amount = meta["amount"].to_numpy()
    proba = candidate.model.predict_proba(periods.split.X_test)[:, 1]
    low, high = bootstrap_ci(
        average_precision_from_ranks, y, dense_rank(proba), n_boot=cfg.n_boot, seed=cfg.seed
    )
    cp, cp_days = card_precision_at_k(
        meta["day"].to_numpy(), meta["card"].to_numpy(), y, proba, cfg.top_k_cards
    )
    no_model = baseline_costs(y, amount, cfg)["no_model"]
    tuned = decision_metrics(y, proba, amount, candidate.threshold, cfg)
    default = decision_metrics(y, proba, amount, DEFAULT_THRESHOLD, cfg)
    metrics: dict[str, Any] = {
        "auprc": float(skm.average_precision_score(y, proba)),
        "auprc_ci95": [low, high],
        "roc_auc": float(skm.roc_auc_score(y, proba)),
        f"card_precision@{cfg.top_k_cards}": cp,
        f"card_precision@{cfg.top_k_cards}_per_day": cp_days,
        f"recall@{cfg.alerts_per_day}_alerts_per_day": recall_at_budget(
            meta["day"].to_numpy(), y, proba, cfg.alerts_per_day
        ),
        "at_tuned_threshold": {**tuned, "savings_vs_no_model": no_model - tuned["cost"]},
        "at_default_threshold": {**default, "savings_vs_no_model": no_model - default["cost"]},
    }
    return metrics, proba


def evaluate(result: FraudResult, cfg: FraudConfig) -> Evaluation:
    """The test period, once, for every variant: the metrics document and its figures
    (PR, costs, card precision, reason codes, the timeline)."""
    periods = result.data.periods
    split = periods.split
    per_model: dict[str, Any] = {}
    probas: dict[str, np.ndarray] = {}
    for name in VARIANTS:
        candidate = result.candidates[name]
        metrics, proba = test_metrics(candidate, result, cfg)
        per_model[name] = {
            "cv_auprc": candidate.cv_score,
            "cv_auprc_folds": candidate.fold_scores,
            "validation": {
                "threshold": candidate.threshold,
                "cost": candidate.validation_cost,
                "cost_at_0.5": candidate.validation_cost_default,
            },
            "test": metrics,
            "params": {k: _plain(v) for k, v in sorted(candidate.params.items())},
        }
        probas[name] = proba
    y_valid = split.y_train[validation_rows_of(result)]
    amount_valid = periods.meta_train["amount"].to_numpy()[validation_rows_of(result)]
    amount_test = periods.meta_test["amount"].to_numpy()
    p = cfg.protocol
    document: dict[str, Any] = {
        "data": data_summary(result),
        "protocol": {
            "seed": cfg.seed,
            "split": "time-ordered: burn-in | train | delay gap | test (days)",
            "periods_days": {k: round(v, 4) for k, v in periods.bounds.items()},
            "burn_in_days": p.burn_in,
            "train_days": p.train,
            "delay_days": p.delay,
            "test_days": p.test,
            "cv": f"{p.cv_folds} expanding-window folds, {p.cv_valid_days:g}-day validation "
            f"blocks, each after a {p.delay:g}-day gap",
            "threshold_selection": "min dollar cost on the validation blocks' out-of-fold "
            "predictions",
            "champion_selection": "min validation cost at the tuned threshold",
            "bootstrap_resamples": cfg.n_boot,
        },
        "economics": {
            "review_cost": cfg.economics.review_cost,
            "missed_fraud_cost": "the transaction amount",
        },
        "baselines": {
            "validation": baseline_costs(y_valid, amount_valid, cfg),
            "test": {
                **baseline_costs(split.y_test, amount_test, cfg),
                # what a perfect ranking scores: the metric's ceiling on these days
                f"card_precision@{cfg.top_k_cards}_perfect": card_precision_at_k(
                    periods.meta_test["day"].to_numpy(),
                    periods.meta_test["card"].to_numpy(),
                    split.y_test,
                    split.y_test.astype(float),
                    cfg.top_k_cards,
                )[0],
            },
        },
        "models": per_model,
        "champion": result.best_name,
        "decision_threshold": result.best.threshold,
    }
    figures = {
        "pr.png": plot_pr(
            {DISPLAY_NAMES[n]: (split.y_test, probas[n]) for n in VARIANTS},
            title="Precision-recall, test period",
        ),
        "cost_threshold.png": plot_validation_costs(result, document["baselines"]["validation"]),
        "cost_test.png": plot_test_costs(document),
        "card_precision.png": plot_card_precision(document, cfg),
        "reason_codes.png": reason_code_figure(result),
        "timeline.png": timeline_figure(result),
    }
    return Evaluation(metrics=document, figures=figures, test_proba=probas)


def promotion_gate(result: FraudResult, cfg: FraudConfig) -> tuple[Gate, Scorer]:
    """The gate a challenger must pass: the dollar cost of the test period at each model's
    own decision threshold (saved with it), below the champion's by more than
    ``cfg.promotion_margin`` dollars."""
    periods = result.data.periods
    X, y = periods.split.X_test, periods.split.y_test
    amount = periods.meta_test["amount"].to_numpy()
    b = periods.bounds
    rows = ValidationSet.of(
        f"{result.source.dataset} test period (days {b['test_start']:.0f}-{b['test_end']:.0f})",
        X,
        y,
    )

    def score(record: ModelRecord) -> float:
        threshold = float(record.metadata["decision_threshold"])
        return cost_at(y, record.model.predict_proba(X)[:, 1], amount, threshold, cfg)

    return Gate("test cost ($) at the model's threshold", False, cfg.promotion_margin, rows), score


def validation_rows_of(result: FraudResult) -> np.ndarray:
    return result.best.valid_rows


def data_summary(result: FraudResult) -> dict[str, Any]:
    periods = result.data.periods
    y_all = result.data.prepared.y
    meta = result.data.prepared.meta
    summary: dict[str, Any] = {
        **result.source.summary(),
        "rows": len(y_all),
        "days": round(float(meta["day"].max() - meta["day"].min()), 4),
        "fraud_rate": float(np.mean(y_all)),
        "train_rows": len(periods.split.y_train),
        "train_frauds": int(periods.split.y_train.sum()),
        "test_rows": len(periods.split.y_test),
        "test_frauds": int(periods.split.y_test.sum()),
        "test_fraud_amount": float(
            periods.meta_test["amount"].to_numpy()[periods.split.y_test == 1].sum()
        ),
    }
    if "scenario" in meta.columns:
        counts = meta["scenario"].value_counts()
        summary["frauds_by_scenario"] = {
            SCENARIOS[s]: int(counts.get(s, 0)) for s in sorted(SCENARIOS)
        }
    return summary


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- figures


def _no_model_line(ax: Any, cost: float) -> None:
    ax.axhline(cost, color="tab:red", linestyle="--", linewidth=1, label=f"no model (${cost:,.0f})")


def plot_validation_costs(result: FraudResult, baselines: Mapping[str, float]) -> Figure:
    """Cost against threshold on the validation blocks, with each variant's choice."""
    fig = new_figure(7, 4.5)
    ax = fig.subplots()
    for name in VARIANTS:
        curve = result.candidates[name].validation_curve
        line = ax.plot(curve.thresholds, -curve.values, label=DISPLAY_NAMES[name])[0]
        ax.plot(
            [curve.best_threshold],
            [-curve.best_value],
            marker="o",
            color=line.get_color(),
            markersize=5,
        )
    _no_model_line(ax, baselines["no_model"])
    ax.set_xscale("log")
    ax.set_ylim(0, baselines["no_model"] * 1.6)
    ax.set(
        xlabel="Decision threshold (log scale)",
        ylabel="Cost on validation blocks ($)",
        title="Cost vs threshold (dots: the chosen thresholds)",
    )
    ax.legend(fontsize=8, loc="upper right")
    return fig


def plot_test_costs(document: Mapping[str, Any]) -> Figure:
    """Test-period cost per variant at 0.5 and at the tuned threshold."""
    test_base = document["baselines"]["test"]
    fig = new_figure(8, 4.5)
    ax = fig.subplots()
    x = np.arange(len(VARIANTS))
    default = [document["models"][n]["test"]["at_default_threshold"]["cost"] for n in VARIANTS]
    tuned = [document["models"][n]["test"]["at_tuned_threshold"]["cost"] for n in VARIANTS]
    ax.bar(x - 0.2, default, width=0.4, label="threshold 0.5", color="tab:gray")
    ax.bar(x + 0.2, tuned, width=0.4, label="threshold tuned on validation", color="tab:blue")
    _no_model_line(ax, test_base["no_model"])
    for xi, value in zip(x + 0.2, tuned, strict=True):
        ax.annotate(f"${value:,.0f}", (xi, value), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(x, [DISPLAY_NAMES[n].replace(" + ", "\n+ ") for n in VARIANTS], fontsize=8)
    ax.set(
        ylabel="Cost over the test period ($)",
        title=f"Test cost (flag everything: ${test_base['flag_everything']:,.0f}, off the chart)",
    )
    ax.legend(fontsize=8)
    return fig


def plot_card_precision(document: Mapping[str, Any], cfg: FraudConfig) -> Figure:
    key = f"card_precision@{cfg.top_k_cards}_per_day"
    fig = new_figure(7, 4)
    ax = fig.subplots()
    ceiling = document["baselines"]["test"][f"card_precision@{cfg.top_k_cards}_perfect"]
    ax.axhline(
        ceiling, color="grey", linestyle="--", linewidth=1, label=f"perfect ranking ({ceiling:.3f})"
    )
    for name in VARIANTS:
        per_day = document["models"][name]["test"][key]
        ax.plot(
            range(1, len(per_day) + 1), per_day, marker="o", markersize=3, label=DISPLAY_NAMES[name]
        )
    ax.set(
        xlabel="Day of the test period",
        ylabel=f"Card precision @ {cfg.top_k_cards}",
        title=f"Card precision @ {cfg.top_k_cards} per day (test)",
    )
    ax.legend(fontsize=8)
    return fig


def reason_code_figure(result: FraudResult, *, max_rows: int = 2000) -> Figure:
    """Mean |contribution| per feature of the champion on ``max_rows`` test transactions:
    the same contributions the API turns into reason codes (TreeSHAP is exact but costs
    about a millisecond per row, hence a sample)."""
    split = result.data.periods.split
    pipeline = result.best.model
    scorer = FastScorer(pipeline, background_mean=background_mean(pipeline, split.X_train))
    # evenly spread over the test period, not its first hours
    X = split.X_test.iloc[np.linspace(0, len(split.X_test) - 1, max_rows).astype(np.int64)]
    scores = scorer.score({c: X[c].to_numpy() for c in X.columns})
    mean_abs = np.abs(scores.contributions).mean(axis=0)
    return plot_importance(
        dict(zip(scorer.sources, mean_abs.tolist(), strict=True)),
        title=f"Reason-code weight: {DISPLAY_NAMES[result.best_name]}",
        xlabel="mean |contribution| (log-odds of fraud), test transactions",
    )


def timeline_figure(result: FraudResult) -> Figure:
    """Frauds per day by scenario, with the protocol's periods shaded."""
    meta = result.data.prepared.meta
    y = result.data.prepared.y
    day = np.floor(meta["day"].to_numpy()).astype(np.int64)
    fig = new_figure(10, 4)
    ax = fig.subplots()
    n_days = int(day.max()) + 1
    bottom = np.zeros(n_days)
    if "scenario" in meta.columns:
        for scenario, label in SCENARIOS.items():
            counts = np.bincount(day[meta["scenario"].to_numpy() == scenario], minlength=n_days)
            ax.bar(np.arange(n_days), counts, bottom=bottom, width=1.0, label=label)
            bottom += counts
    else:
        ax.bar(np.arange(n_days), np.bincount(day[y == 1], minlength=n_days), width=1.0)
    b = result.data.periods.bounds
    for (start, end), label, colour in (
        ((meta["day"].min(), b["train_start"]), "burn-in (history only)", "0.92"),
        ((b["train_start"], b["train_end"]), "train + CV", "tab:green"),
        ((b["train_end"], b["test_start"]), "delay gap", "tab:orange"),
        ((b["test_start"], b["test_end"]), "test", "tab:red"),
    ):
        ax.axvspan(start, end, alpha=0.12, color=colour, label=label)
    ax.set(
        xlabel="Day",
        ylabel="Frauds per day",
        title="Simulated frauds and the time-ordered protocol",
    )
    ax.legend(fontsize=7, ncols=2, loc="upper left")
    return fig


# --------------------------------------------------------------------------- README


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results table, generated from ``metrics.json``."""
    key_cp = next(
        k
        for k in metrics["models"]["lightgbm"]["test"]
        if k.startswith("card_precision@") and not k.endswith("_per_day")
    )
    key_recall = next(k for k in metrics["models"]["lightgbm"]["test"] if k.startswith("recall@"))
    k = key_cp.split("@")[1]
    budget = key_recall.split("@")[1].split("_")[0]
    base = metrics["baselines"]["test"]
    champion = metrics["champion"]

    def money(value: float) -> str:
        return f"${value:,.0f}"

    def savings(value: float) -> str:
        return f"{money(value)} ({value / base['no_model']:.0%})"

    rows = [{"name": n, **metrics["models"][n]} for n in VARIANTS]
    table = markdown_table(
        rows,
        [
            (
                "Variant",
                lambda r: (
                    DISPLAY_NAMES[r["name"]] + (" **(champion)**" if r["name"] == champion else "")
                ),
            ),
            ("CV AUPRC", lambda r: fmt(r["cv_auprc"])),
            (
                "Test AUPRC [95 % CI]",
                lambda r: (
                    f"{fmt(r['test']['auprc'])} [{fmt(r['test']['auprc_ci95'][0])}, "
                    f"{fmt(r['test']['auprc_ci95'][1])}]"
                ),
            ),
            ("ROC-AUC", lambda r: fmt(r["test"]["roc_auc"])),
            (f"CP@{k}", lambda r: fmt(r["test"][key_cp])),
            (f"Recall @ {budget} alerts/day", lambda r: fmt(r["test"][key_recall])),
            ("Cost @ 0.5", lambda r: money(r["test"]["at_default_threshold"]["cost"])),
            ("Threshold (validation)", lambda r: fmt(r["validation"]["threshold"], 3)),
            ("Cost @ tuned", lambda r: money(r["test"]["at_tuned_threshold"]["cost"])),
            (
                "Savings vs no model",
                lambda r: savings(r["test"]["at_tuned_threshold"]["savings_vs_no_model"]),
            ),
        ],
    )
    data = metrics["data"]
    note = (
        f"Test period: {data['test_rows']:,} transactions, {data['test_frauds']} frauds "
        f"({money(data['test_fraud_amount'])}). Baselines on the same days: **no model** "
        f"{money(base['no_model'])} (every fraud lost), **flag everything** "
        f"{money(base['flag_everything'])} (every transaction reviewed at "
        f"${metrics['economics']['review_cost']:g}). CP@{k} of a perfect ranking on these "
        f"days: {fmt(base[f'card_precision@{k}_perfect'])}. {data['kind']} data "
        f"({data['dataset']}), seed {metrics['protocol']['seed']}, "
        f"{metrics['protocol']['bootstrap_resamples']} bootstrap resamples."
    )
    return f"{table}\n\n{note}"
