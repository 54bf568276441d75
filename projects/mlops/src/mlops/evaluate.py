"""Evaluation: the test split, once, for every candidate; figures; the metrics document;
the promotion gate (test log-loss).

Pure functions of fitted models and data: figures are returned as matplotlib Figures and
the metrics as a dict; the CLI decides where they are written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import log_loss

from mlops.config import MlopsConfig
from mlops.scorecard import BANDS, band, points
from mlops.train import CANDIDATES, MlopsResult
from tenfold.evaluation import (
    classification_metrics,
    gain_table,
    new_figure,
    plot_calibration,
    plot_gain,
    plot_importance,
    plot_roc,
)
from tenfold.explain import FastScorer
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.reports import fmt, markdown_table
from tenfold.training import Evaluation

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

DISPLAY_NAMES = {
    "logistic_regression": "Logistic regression scorecard",
    "xgboost_tuned": "XGBoost tuned (Optuna), Platt-calibrated",
}


def evaluate(result: MlopsResult, cfg: MlopsConfig) -> Evaluation:
    """The test split, once, for every candidate: metrics, calibration, risk bands and
    the figures (ROC, reliability, gain, score distribution, mean |contribution|)."""
    split = result.data.split
    per_model: dict[str, Any] = {}
    probas: dict[str, np.ndarray] = {}
    for name in CANDIDATES:
        candidate = result.candidates[name]
        proba = candidate.model.predict_proba(split.X_test)[:, 1]
        probas[name] = proba
        per_model[name] = {
            "cv_roc_auc": candidate.cv_score,
            "cv_roc_auc_std": candidate.cv_std,
            "test": classification_metrics(split.y_test, proba),
            "calibration": {
                "platt_slope": candidate.model.slope_,
                "platt_intercept": candidate.model.intercept_,
                "mean_predicted": float(proba.mean()),
                "observed_rate": float(split.y_test.mean()),
            },
            "params": {k: _plain(v) for k, v in sorted(candidate.params.items())},
        }
    best = result.best
    best_proba = probas[result.best_name]
    labels = np.array([band(p) for p in best_proba])
    bands = {
        label: {
            "share": float(np.mean(labels == label)),
            "default_rate": float(split.y_test[labels == label].mean())
            if np.any(labels == label)
            else None,
        }
        for _, label in BANDS
    }
    scale = cfg.scale
    document: dict[str, Any] = {
        "data": {
            **result.source.summary(),
            "rows": int(len(split.y_train) + len(split.y_test)),
            "train_rows": len(split.y_train),
            "test_rows": len(split.y_test),
            "default_rate": float(np.mean(np.concatenate([split.y_train, split.y_test]))),
        },
        "protocol": {
            "seed": cfg.seed,
            "test_size": cfg.test_size,
            "cv_folds": cfg.cv_folds,
            "n_trials": cfg.n_trials,
            "champion_selection": "best mean CV ROC-AUC",
            "calibration": "Platt scaling on out-of-fold log-odds",
            "promotion_gate": "test log-loss, lower by more than the margin",
        },
        "scale": {"base_score": scale.base_score, "base_odds": scale.base_odds, "pdo": scale.pdo},
        "models": per_model,
        "champion": result.best_name,
        "risk_bands": bands,
        "gain_table": gain_table(split.y_test, best_proba).to_dict("records"),
    }
    if best.tuning is not None:
        document["tuning"] = {
            "trials": best.tuning.n_trials,
            "pruned": best.tuning.n_pruned,
            "best_cv_roc_auc": best.tuning.best_score,
        }
    curves = {DISPLAY_NAMES[n]: (split.y_test, probas[n]) for n in CANDIDATES}
    figures = {
        "roc.png": plot_roc(curves, title="ROC, held-out test (20 %)"),
        "calibration.png": plot_calibration(curves, title="Reliability, held-out test"),
        "gain.png": plot_gain(curves, title="Cumulative gain, held-out test"),
        "score_distribution.png": plot_scores(
            points(best.model.decision_function(split.X_test), **_scale(cfg)), split.y_test
        ),
        "importance.png": importance_figure(result),
    }
    return Evaluation(metrics=document, figures=figures)


def _scale(cfg: MlopsConfig) -> dict[str, float]:
    return {
        "base_score": cfg.scale.base_score,
        "base_odds": cfg.scale.base_odds,
        "pdo": cfg.scale.pdo,
    }


def plot_scores(score: np.ndarray, y: np.ndarray) -> Figure:
    fig = new_figure(7, 4)
    ax = fig.subplots()
    bins = np.linspace(np.percentile(score, 0.5), np.percentile(score, 99.5), 40).tolist()
    ax.hist(score[y == 0], bins=bins, alpha=0.6, label="repaid", density=True)
    ax.hist(score[y == 1], bins=bins, alpha=0.6, label="defaulted", density=True)
    ax.set(
        xlabel="scorecard points (higher = safer)",
        ylabel="density",
        title="Score distribution by outcome, held-out test",
    )
    ax.legend()
    return fig


def importance_figure(result: MlopsResult, max_rows: int = 2000) -> Figure:
    """Mean |contribution| to the calibrated log-odds, per input, on test rows."""
    best = result.best.model
    X = result.data.split.X_test.head(max_rows)
    scorer = FastScorer(
        best.pipeline_, background_mean=result.best.metadata.get("encoded_background_mean")
    )
    scores = scorer.score_batch({c: X[c].to_numpy() for c in X.columns})
    mean_abs = np.abs(scores.contributions * best.slope_).mean(axis=0)
    return plot_importance(
        dict(zip(scorer.sources, mean_abs.tolist(), strict=True)),
        title="What drives the score (mean |contribution|, test rows)",
        xlabel="mean |contribution| to the log-odds of default",
    )


def promotion_gate(result: MlopsResult, cfg: MlopsConfig) -> tuple[Gate, Scorer]:
    """Test log-loss (champion and challenger re-scored on the same rows), lower by more
    than ``cfg.promotion_margin``: the probability is what a lender prices on, so a
    better-ranked but worse-calibrated model does not pass."""
    split = result.data.split
    rows = ValidationSet.of(
        f"{result.source.dataset} test split ({cfg.test_size:.0%}, seed {cfg.seed})",
        split.X_test,
        split.y_test,
    )
    return log_loss_gate(rows, split.X_test, split.y_test, cfg.promotion_margin)


def log_loss_gate(rows: ValidationSet, X: Any, y: np.ndarray, margin: float) -> tuple[Gate, Scorer]:
    """The gate on log-loss over ``X``/``y`` (also the retraining flow's)."""

    def score(record: ModelRecord) -> float:
        return float(log_loss(y, record.model.predict_proba(X)[:, 1], labels=[0, 1]))

    return Gate("log-loss", False, margin, rows), score


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# --------------------------------------------------------------------------- README


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results table, generated from ``metrics.json``."""
    champion = metrics["champion"]
    rows = [{"name": n, **metrics["models"][n]} for n in CANDIDATES if n in metrics["models"]]
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
            ("Log-loss", lambda r: fmt(r["test"]["log_loss"], 4)),
            ("Brier", lambda r: fmt(r["test"]["brier"], 4)),
            (
                "Mean PD / observed",
                lambda r: (
                    f"{r['calibration']['mean_predicted']:.3f} / "
                    f"{r['calibration']['observed_rate']:.3f}"
                ),
            ),
        ],
    )
    bands = markdown_table(
        [{"band": k, **v} for k, v in metrics["risk_bands"].items()],
        [
            ("Risk band", lambda r: r["band"]),
            ("Share of applicants", lambda r: f"{r['share']:.1%}"),
            (
                "Observed default rate",
                lambda r: "–" if r["default_rate"] is None else f"{r['default_rate']:.1%}",
            ),
        ],
    )
    data = metrics["data"]
    note = (
        f"{data['kind']} data: {data['rows']} clients, {data['test_rows']} in the stratified "
        f"test split (default rate {data['default_rate']:.1%}); seed "
        f"{metrics['protocol']['seed']}, {metrics['protocol']['cv_folds']}-fold CV, "
        f"{metrics['protocol']['n_trials']} Optuna trials."
    )
    return f"{table}\n\n{bands}\n\n{note}"
