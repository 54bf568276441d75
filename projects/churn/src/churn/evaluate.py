"""Evaluation: the test split, once, for every candidate; figures; the metrics document.

Everything here is a pure function of fitted models and data: figures are returned as
matplotlib Figures and the metrics as a dict. The CLI decides where they are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score

from churn.config import ChurnConfig
from churn.features import TENURE_LABELS, engineer
from churn.train import CANDIDATES, ChurnCandidate, ChurnResult, retention_value_curve
from tenfold.evaluation import (
    classification_metrics,
    gain_table,
    lift_at,
    new_figure,
    plot_calibration,
    plot_confusion,
    plot_gain,
    plot_importance,
    plot_pr,
    plot_roc,
    plot_value_curve,
)
from tenfold.explain import FastScorer, encoded_mean
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.reports import fmt, markdown_table
from tenfold.training import Evaluation as BaseEvaluation

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

DISPLAY_NAMES = {
    "logistic_regression": "Logistic regression",
    "xgboost": "XGBoost (defaults)",
    "xgboost_tuned": "XGBoost tuned (Optuna)",
}


@dataclass(frozen=True, kw_only=True)
class Evaluation(BaseEvaluation):
    test_proba: dict[str, np.ndarray]


def test_metrics(
    candidate: ChurnCandidate, X: pd.DataFrame, y: np.ndarray, cfg: ChurnConfig
) -> tuple[dict[str, float], np.ndarray]:
    proba = candidate.model.predict_proba(X)[:, 1]
    metrics = classification_metrics(y, proba, threshold=candidate.threshold)
    metrics[f"lift@{int(cfg.lift_fraction * 100)}%"] = lift_at(y, proba, cfg.lift_fraction)
    econ = cfg.economics
    act = proba >= candidate.threshold
    value = econ.value_true_positive * np.sum(act & (y == 1)) + econ.value_false_positive * np.sum(
        act & (y == 0)
    )
    metrics["expected_value_per_customer"] = float(value / len(y))
    metrics["contacted_share"] = float(act.mean())
    return metrics, proba


def evaluate(result: ChurnResult, cfg: ChurnConfig) -> Evaluation:
    """The test split, once, for every candidate: the metrics document and its figures
    (ROC, PR, calibration, gain, confusion, value curve, SHAP, and EDA for Telco)."""
    split = result.data.split
    per_model: dict[str, Any] = {}
    probas: dict[str, np.ndarray] = {}
    for name in CANDIDATES:
        candidate = result.candidates[name]
        metrics, proba = test_metrics(candidate, split.X_test, split.y_test, cfg)
        per_model[name] = {
            "cv_roc_auc": candidate.cv_score,
            "cv_roc_auc_std": candidate.cv_std,
            "test": metrics,
            "params": {k: _plain(v) for k, v in sorted(candidate.params.items())},
        }
        probas[name] = proba
    best = result.best
    econ = cfg.economics
    document = {
        "data": {
            **result.source.summary(),
            "rows": int(len(split.y_train) + len(split.y_test)),
            "train_rows": len(split.y_train),
            "test_rows": len(split.y_test),
            "positive_rate": float(np.mean(np.concatenate([split.y_train, split.y_test]))),
        },
        "protocol": {
            "seed": cfg.seed,
            "test_size": cfg.test_size,
            "cv_folds": cfg.cv_folds,
            "n_trials": cfg.n_trials,
            "champion_selection": "best mean CV ROC-AUC",
            "threshold_selection": "max expected value on out-of-fold predictions",
        },
        "economics": {
            "offer_cost": econ.offer_cost,
            "saved_customer_value": econ.saved_customer_value,
            "offer_success_rate": econ.offer_success_rate,
        },
        "models": per_model,
        "champion": result.best_name,
        "decision_threshold": best.threshold,
        "gain_table": gain_table(split.y_test, probas[result.best_name]).to_dict("records"),
    }
    tuning = result.candidates["xgboost_tuned"].tuning
    if tuning is not None:
        document["tuning"] = {
            "trials": tuning.n_trials,
            "pruned": tuning.n_pruned,
            "best_cv_roc_auc": tuning.best_score,
        }
    curves = {DISPLAY_NAMES[n]: (split.y_test, probas[n]) for n in CANDIDATES}
    figures = {
        "roc.png": plot_roc(curves, title="ROC, held-out test (20 %)"),
        "pr.png": plot_pr(curves, title="Precision-recall, held-out test"),
        "calibration.png": plot_calibration(curves, title="Reliability, held-out test"),
        "gain.png": plot_gain(curves, title="Cumulative gain, held-out test"),
        "confusion_matrix.png": plot_confusion(
            split.y_test,
            (probas[result.best_name] >= best.threshold).astype(int),
            labels=["stays", "churns"],
            title=f"{DISPLAY_NAMES[result.best_name]} at threshold {best.threshold:.2f}",
        ),
        "threshold_value.png": plot_value_curve(
            retention_value_curve(split.y_train, best.oof_proba, cfg),
            title="Expected retention value vs threshold (out-of-fold, train)",
            ylabel="Total expected value ($)",
        ),
        **shap_figures(result),
    }
    prepared = result.data.prepared
    if prepared.telco:
        figures.update(eda_figures(prepared.X, prepared.y))
    return Evaluation(metrics=document, figures=figures, test_proba=probas)


def promotion_gate(result: ChurnResult, cfg: ChurnConfig) -> tuple[Gate, Scorer]:
    """The gate a challenger must pass: ROC-AUC on the held-out test split (champion and
    challenger scored on the same rows), better by more than ``cfg.promotion_margin``."""
    split = result.data.split
    rows = ValidationSet.of(
        f"{result.source.dataset} test split ({cfg.test_size:.0%}, seed {cfg.seed})",
        split.X_test,
        split.y_test,
    )

    def score(record: ModelRecord) -> float:
        return float(roc_auc_score(split.y_test, record.model.predict_proba(split.X_test)[:, 1]))

    return Gate("test ROC-AUC", True, cfg.promotion_margin, rows), score


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- SHAP


def shap_figures(result: ChurnResult, *, max_rows: int = 1000) -> dict[str, Figure]:
    """Global importance (mean |SHAP| per input column) and one customer's explanation.

    Contributions come from the same fast scorer the API uses (exact TreeSHAP for
    XGBoost), summed over one-hot columns back to the input column.
    """
    split = result.data.split
    pipeline = result.best.model
    scorer = FastScorer(pipeline, background_mean=encoded_mean(pipeline, split.X_train))
    X = split.X_test.head(max_rows)
    scores = scorer.score({c: X[c].to_numpy() for c in X.columns})
    mean_abs = np.abs(scores.contributions).mean(axis=0)
    importance = dict(zip(scorer.sources, mean_abs.tolist(), strict=True))
    figures = {
        "shap_importance.png": plot_importance(
            importance,
            title=f"SHAP global importance: {DISPLAY_NAMES[result.best_name]}",
            xlabel="mean |SHAP value| (log-odds of churn)",
        )
    }
    riskiest = int(np.argmax(scores.prediction))
    figures["shap_customer.png"] = plot_customer(
        scores.contributions[riskiest],
        scorer.sources,
        {k: _row_value(v, riskiest) for k, v in scores.inputs.items()},
        base=scores.base_value,
        probability=float(scores.prediction[riskiest]),
    )
    return figures


def _row_value(values: Any, i: int) -> Any:
    array = np.atleast_1d(np.asarray(values, dtype=object))
    return array[i] if len(array) > i else array[0]


def plot_customer(
    contributions: np.ndarray,
    sources: tuple[str, ...],
    values: Mapping[str, Any],
    *,
    base: float,
    probability: float,
    top: int = 10,
) -> Figure:
    """A waterfall-style bar chart of one customer's largest contributions."""
    order = np.argsort(-np.abs(contributions), kind="stable")[:top][::-1]
    labels = [f"{sources[i]} = {_fmt_value(values.get(sources[i]))}" for i in order]
    fig = new_figure(7.5, 0.35 * len(order) + 1.6)
    ax = fig.subplots()
    colours = ["tab:red" if contributions[i] > 0 else "tab:blue" for i in order]
    ax.barh(labels, contributions[order], color=colours)
    ax.axvline(0, color="grey", linewidth=1)
    ax.set(
        xlabel="SHAP value (log-odds; red raises churn risk)",
        title=f"One customer: churn probability {probability:.0%} (base log-odds {base:.2f})",
    )
    return fig


def _fmt_value(value: Any) -> str:
    if isinstance(value, float | np.floating):
        return f"{value:.1f}"
    return str(value)


# --------------------------------------------------------------------------- EDA


def eda_figures(frame: pd.DataFrame, y: np.ndarray) -> dict[str, Figure]:
    """Churn rate by contract, tenure band, charges and number of services."""
    data = frame.assign(churn=y)
    engineered = engineer({c: frame[c].to_numpy() for c in frame.columns})
    data["tenure_bucket"] = engineered["tenure_bucket"]
    data["n_services"] = engineered["n_services"].astype(int)
    overall = float(np.mean(y))

    fig = new_figure(11, 4)
    left, middle, right = fig.subplots(1, 3)
    for ax, column, order in (
        (left, "Contract", None),
        (middle, "tenure_bucket", TENURE_LABELS),
        (right, "PaymentMethod", None),
    ):
        rate = data.groupby(column)["churn"].mean()
        if order is not None:
            rate = rate.reindex(list(order))
        ax.bar(
            [str(i).replace(" (automatic)", "\n(auto)") for i in rate.index],
            rate.values,
            color="tab:blue",
        )
        ax.axhline(
            overall, color="tab:red", linestyle="--", linewidth=1, label=f"overall {overall:.1%}"
        )
        ax.set(title=f"Churn rate by {column}", ylabel="churn rate")
        ax.tick_params(axis="x", labelsize=7, rotation=20)
        ax.legend(fontsize=7)
    figures = {"eda_churn_rates.png": fig}

    fig = new_figure(11, 4)
    left, right = fig.subplots(1, 2)
    bins = np.linspace(frame["MonthlyCharges"].min(), frame["MonthlyCharges"].max(), 30)
    for label, mask in (("stays", y == 0), ("churns", y == 1)):
        left.hist(
            frame.loc[mask, "MonthlyCharges"], bins=bins, alpha=0.6, density=True, label=label
        )
    left.set(title="Monthly charges by outcome", xlabel="MonthlyCharges ($)", ylabel="density")
    left.legend(fontsize=8)
    by_services = data.groupby("n_services")["churn"].agg(["mean", "size"])
    right.bar(by_services.index, by_services["mean"], color="tab:blue")
    right.axhline(overall, color="tab:red", linestyle="--", linewidth=1)
    right.set(
        title="Churn rate by number of services (incl. internet)",
        xlabel="services",
        ylabel="churn rate",
    )
    for net in ("DSL", "Fiber optic", "No"):
        share = data.loc[data["InternetService"] == net, "churn"].mean()
        right.annotate(
            f"{net}: {share:.0%}",
            xy=(0.98, 0.92 - 0.07 * ("DSL", "Fiber optic", "No").index(net)),
            xycoords="axes fraction",
            ha="right",
            fontsize=8,
        )
    figures["eda_charges_services.png"] = fig
    return figures


# --------------------------------------------------------------------------- README


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results table, generated from ``metrics.json``."""
    lift_key = next(k for k in metrics["models"]["xgboost_tuned"]["test"] if k.startswith("lift@"))
    rows = [{"name": n, **metrics["models"][n]} for n in CANDIDATES]
    champion = metrics["champion"]
    table = markdown_table(
        rows,
        [
            (
                "Model",
                lambda r: (
                    DISPLAY_NAMES[r["name"]] + (" **(champion)**" if r["name"] == champion else "")
                ),
            ),
            ("CV ROC-AUC", lambda r: fmt(r["cv_roc_auc"])),
            ("Test ROC-AUC", lambda r: fmt(r["test"]["roc_auc"])),
            ("Test PR-AUC", lambda r: fmt(r["test"]["pr_auc"])),
            ("Brier", lambda r: fmt(r["test"]["brier"])),
            ("Threshold", lambda r: fmt(r["test"]["threshold"], 2)),
            ("F1 @ threshold", lambda r: fmt(r["test"]["f1"])),
            (lift_key.replace("@", " @ "), lambda r: fmt(r["test"][lift_key], 2)),
            ("Value / customer", lambda r: f"${r['test']['expected_value_per_customer']:.2f}"),
        ],
    )
    data = metrics["data"]
    note = (
        f"{data['kind']} data: {data['rows']} customers, {data['test_rows']} in the "
        f"stratified test split (churn rate {data['positive_rate']:.1%}); seed "
        f"{metrics['protocol']['seed']}, {metrics['protocol']['cv_folds']}-fold CV, "
        f"{metrics['protocol']['n_trials']} Optuna trials."
    )
    return f"{table}\n\n{note}"
