"""Metric sets, decision thresholds, bootstrap intervals and the standard plots.

Plots use matplotlib's object API (``Figure``): no global figure state, safe inside a
server or a test. The standard curves are scikit-learn's Display classes drawn on our
axes (ROC, precision-recall, reliability, confusion matrix, prediction error); what
stays hand-written here is what they do not draw (gain, value curve, importance).
``save_figure`` strips the software stamp so PNGs do not change when only a library
version does.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import AutoLocator
from sklearn import metrics as skm
from sklearn.calibration import CalibrationDisplay
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    PredictionErrorDisplay,
    RocCurveDisplay,
)

# --------------------------------------------------------------------------- metrics


def classification_metrics(
    y_true: np.ndarray, proba: np.ndarray, *, threshold: float = 0.5
) -> dict[str, float]:
    """Ranking, probability and thresholded metrics of a binary classifier."""
    y_true = np.asarray(y_true)
    proba = np.asarray(proba, dtype=float)
    pred = (proba >= threshold).astype(int)
    return {
        "roc_auc": float(skm.roc_auc_score(y_true, proba)),
        "pr_auc": float(skm.average_precision_score(y_true, proba)),
        "brier": float(skm.brier_score_loss(y_true, proba)),
        "log_loss": float(skm.log_loss(y_true, np.clip(proba, 1e-15, 1 - 1e-15))),
        "threshold": float(threshold),
        "f1": float(skm.f1_score(y_true, pred, zero_division=0)),
        "precision": float(skm.precision_score(y_true, pred, zero_division=0)),
        "recall": float(skm.recall_score(y_true, pred, zero_division=0)),
        "accuracy": float(skm.accuracy_score(y_true, pred)),
    }


def regression_metrics(y_true: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    y_true = np.asarray(y_true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    return {
        "rmse": float(np.sqrt(skm.mean_squared_error(y_true, pred))),
        "mae": float(skm.mean_absolute_error(y_true, pred)),
        "r2": float(skm.r2_score(y_true, pred)),
        "mape": float(skm.mean_absolute_percentage_error(y_true, pred)),
    }


def lift_at(y_true: np.ndarray, proba: np.ndarray, fraction: float) -> float:
    """Positive rate among the top ``fraction`` scored, divided by the overall rate."""
    y_true = np.asarray(y_true)
    n_top = max(1, round(len(y_true) * fraction))
    top = np.argsort(-np.asarray(proba), kind="stable")[:n_top]
    base = y_true.mean()
    return float(y_true[top].mean() / base) if base > 0 else float("nan")


def gain_table(y_true: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Cumulative gain and lift by score decile (decile 1 = highest scores)."""
    y_true = np.asarray(y_true)
    order = np.argsort(-np.asarray(proba), kind="stable")
    bins = np.array_split(order, n_bins)
    total_pos = max(int(y_true.sum()), 1)
    rows = []
    cum_pos = cum_n = 0
    for i, idx in enumerate(bins, start=1):
        cum_pos += int(y_true[idx].sum())
        cum_n += len(idx)
        rows.append(
            {
                "decile": i,
                "positive_rate": float(y_true[idx].mean()),
                "cumulative_gain": cum_pos / total_pos,
                "cumulative_lift": (cum_pos / cum_n) / (total_pos / len(y_true)),
            }
        )
    return pd.DataFrame(rows)


@dataclass(frozen=True)
class ValueCurve:
    thresholds: np.ndarray
    values: np.ndarray

    @property
    def best_threshold(self) -> float:
        # Ties resolve to the lowest threshold; argmax is deterministic.
        return float(self.thresholds[int(np.argmax(self.values))])

    @property
    def best_value(self) -> float:
        return float(np.max(self.values))


def value_curve(
    y_true: np.ndarray,
    proba: np.ndarray,
    *,
    tp: float | np.ndarray,
    fp: float | np.ndarray,
    fn: float | np.ndarray = 0.0,
    tn: float | np.ndarray = 0.0,
    thresholds: np.ndarray | None = None,
) -> ValueCurve:
    """Total value of acting on ``proba >= t`` for each threshold ``t``.

    Each outcome's value is a scalar or one value per row (e.g. a missed fraud costs its
    own amount). Costs are negative values.
    """
    y = np.asarray(y_true).astype(bool)
    p = np.asarray(proba, dtype=float)
    n = len(y)
    per = {
        k: np.broadcast_to(np.asarray(v, dtype=float), (n,))
        for k, v in {"tp": tp, "fp": fp, "fn": fn, "tn": tn}.items()
    }
    if thresholds is None:
        thresholds = np.round(np.linspace(0.01, 0.99, 99), 2)
    values = np.empty(len(thresholds))
    for i, t in enumerate(thresholds):
        act = p >= t
        values[i] = (
            per["tp"][act & y].sum()
            + per["fp"][act & ~y].sum()
            + per["fn"][~act & y].sum()
            + per["tn"][~act & ~y].sum()
        )
    return ValueCurve(np.asarray(thresholds, dtype=float), values)


def bootstrap_ci(
    metric: Callable[[np.ndarray, np.ndarray], float],
    y_true: np.ndarray,
    score: np.ndarray,
    *,
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Percentile bootstrap interval of ``metric`` over resampled rows."""
    rng = np.random.default_rng(seed)
    y_true = np.asarray(y_true)
    score = np.asarray(score)
    n = len(y_true)
    stats = []
    for _ in range(n_boot):
        idx = rng.integers(0, n, n)
        if len(np.unique(y_true[idx])) < 2:
            continue
        stats.append(metric(y_true[idx], score[idx]))
    low, high = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(low), float(high)


# --------------------------------------------------------------------------- plots


def new_figure(width: float = 6.0, height: float = 4.5) -> Figure:
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig


def save_figure(fig: Figure, path: Path, *, dpi: int = 110) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": None})
    return path


Curves = Mapping[str, tuple[np.ndarray, np.ndarray]]


def plot_roc(curves: Curves, *, title: str = "ROC curve") -> Figure:
    """ROC curves of several models on the same rows: {name: (y_true, score)}."""
    fig = new_figure()
    ax = fig.subplots()
    for i, (name, (y, p)) in enumerate(curves.items()):
        RocCurveDisplay.from_predictions(
            y,
            p,
            ax=ax,
            # three decimals: the models of a report are often within 0.01 of each other
            curve_kwargs={"label": f"{name} (AUC {skm.roc_auc_score(y, p):.3f})"},
            plot_chance_level=i == len(curves) - 1,
            chance_level_kw={"label": "chance", "color": "grey", "linewidth": 1},
        )
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title=title)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_pr(curves: Curves, *, title: str = "Precision-recall curve") -> Figure:
    """Precision-recall curves (steps, as average precision sums them) and the
    prevalence a random ranking would reach."""
    fig = new_figure()
    ax = fig.subplots()
    for i, (name, (y, p)) in enumerate(curves.items()):
        PrecisionRecallDisplay.from_predictions(
            y,
            p,
            ax=ax,
            curve_kwargs={"label": f"{name} (AP {skm.average_precision_score(y, p):.3f})"},
            plot_chance_level=i == len(curves) - 1,
            chance_level_kw={
                "label": f"prevalence {np.mean(y):.3f}",
                "color": "grey",
                "linewidth": 1,
            },
        )
    ax.set(xlabel="Recall", ylabel="Precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(loc="upper right", fontsize=8)
    return fig


def plot_calibration(curves: Curves, *, n_bins: int = 10, title: str = "Reliability") -> Figure:
    """Reliability curves on quantile bins (equal rows per point), Brier score in the label."""
    fig = new_figure()
    ax = fig.subplots()
    for i, (name, (y, p)) in enumerate(curves.items()):
        brier = skm.brier_score_loss(y, p)
        CalibrationDisplay.from_predictions(
            y,
            p,
            n_bins=n_bins,
            strategy="quantile",
            name=f"{name} (Brier {brier:.3f})",
            ref_line=i == 0,
            ax=ax,
            marker="o",
            markersize=3,
        )
    ax.set(xlabel="Mean predicted probability", ylabel="Observed frequency", title=title)
    ax.legend(loc="upper left", fontsize=8)
    return fig


def plot_confusion(
    y_true: np.ndarray,
    pred: np.ndarray,
    *,
    labels: list[str] | None = None,
    title: str = "Confusion matrix",
    normalize: bool = False,
) -> Figure:
    """Counts (or each actual class's shares, ``normalize``) of predicted vs actual."""
    classes = np.unique(np.concatenate([np.asarray(y_true), np.asarray(pred)]))
    names = labels or [str(c) for c in classes]
    size = max(4.0, 0.6 * len(names) + 2)
    fig = new_figure(size + 1, size)
    ax = fig.subplots()
    ConfusionMatrixDisplay.from_predictions(
        y_true,
        pred,
        labels=classes,
        display_labels=names,
        normalize="true" if normalize else None,
        values_format=".2f" if normalize else "d",
        cmap="Blues",
        xticks_rotation=45,
        ax=ax,
    )
    ax.set(xlabel="Predicted", ylabel="Actual", title=title)
    return fig


def plot_residuals(y_true: np.ndarray, pred: np.ndarray, *, title: str = "Residuals") -> Figure:
    """Residuals against the prediction (every row: no subsampling) and their histogram."""
    y_true = np.asarray(y_true, dtype=float)
    pred = np.asarray(pred, dtype=float)
    fig = new_figure(10, 4)
    left, right = fig.subplots(1, 2)
    PredictionErrorDisplay.from_predictions(
        y_true,
        pred,
        kind="residual_vs_predicted",
        subsample=None,
        ax=left,
        scatter_kwargs={"s": 6, "alpha": 0.5},
    )
    left.set(title=title)
    right.hist(y_true - pred, bins=50)
    right.set(xlabel="Residual (actual − predicted)", ylabel="Count", title="Residual distribution")
    return fig


def plot_predicted_vs_actual(
    y_true: np.ndarray, pred: np.ndarray, *, title: str = "Predicted vs actual"
) -> Figure:
    """Actual against predicted values (every row), with the diagonal of perfect ones."""
    fig = new_figure(5, 5)
    ax = fig.subplots()
    PredictionErrorDisplay.from_predictions(
        np.asarray(y_true, dtype=float),
        np.asarray(pred, dtype=float),
        kind="actual_vs_predicted",
        subsample=None,
        ax=ax,
        scatter_kwargs={"s": 6, "alpha": 0.5},
    )
    # the display puts five ticks at the data's extremes (626.0, 481.7, ...): round ones
    ax.xaxis.set_major_locator(AutoLocator())
    ax.yaxis.set_major_locator(AutoLocator())
    ax.set(title=title)
    return fig


def plot_gain(curves: Curves, *, title: str = "Cumulative gain") -> Figure:
    fig = new_figure()
    ax = fig.subplots()
    for name, (y, p) in curves.items():
        table = gain_table(y, p)
        ax.plot(
            [0, *(table["decile"] / 10)],
            [0, *table["cumulative_gain"]],
            marker="o",
            markersize=3,
            label=name,
        )
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="random")
    ax.set(
        xlabel="Share of customers contacted (by score)",
        ylabel="Share of positives found",
        title=title,
    )
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_value_curve(curve: ValueCurve, *, title: str, ylabel: str) -> Figure:
    fig = new_figure()
    ax = fig.subplots()
    ax.plot(curve.thresholds, curve.values)
    ax.axvline(
        curve.best_threshold,
        color="tab:red",
        linestyle="--",
        linewidth=1,
        label=f"best threshold {curve.best_threshold:.2f}",
    )
    ax.set(xlabel="Decision threshold", ylabel=ylabel, title=title)
    ax.legend(fontsize=8)
    return fig


def plot_importance(
    importance: Mapping[str, float], *, title: str, xlabel: str, top: int = 15
) -> Figure:
    items = sorted(importance.items(), key=lambda kv: abs(kv[1]), reverse=True)[:top][::-1]
    fig = new_figure(7, 0.3 * len(items) + 1.5)
    ax = fig.subplots()
    ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
    ax.set(xlabel=xlabel, title=title)
    return fig


def plot_optimisation_history(trials: pd.DataFrame) -> Figure:
    fig = new_figure()
    ax = fig.subplots()
    done = trials[trials["state"].str.contains("COMPLETE")]
    ax.scatter(done["number"], done["value"], s=10, label="trial")
    ax.plot(done["number"], done["value"].cummax(), color="tab:red", label="best so far")
    ax.set(xlabel="Trial", ylabel="CV score", title="Optuna optimisation history")
    ax.legend(fontsize=8)
    return fig
