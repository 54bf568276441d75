"""Evaluation: CV scores from training, the held-out sales once for every candidate, the
stack's interval coverage, figures, and the metrics document.

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
from matplotlib.ticker import FuncFormatter

from housing.config import HousingConfig
from housing.train import CANDIDATES, MEMBERS, HousingResult, stack_weights
from tenfold.evaluation import (
    bootstrap_ci,
    new_figure,
    plot_predicted_vs_actual,
    plot_residuals,
    regression_metrics,
)
from tenfold.promotion import Gate, Scorer, ValidationSet
from tenfold.reports import fmt, markdown_table
from tenfold.training import Evaluation

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord

DISPLAY_NAMES = {
    "ridge": "Ridge",
    "random_forest": "Random forest",
    "lightgbm": "LightGBM",
    "stack": "Stack (ridge + RF + LightGBM)",
}


@dataclass(frozen=True)
class Interval:
    prediction: np.ndarray
    lower: np.ndarray
    upper: np.ndarray

    def covers(self, y: np.ndarray) -> np.ndarray:
        return (y >= self.lower) & (y <= self.upper)


def heldout_metrics(y: np.ndarray, pred: np.ndarray, *, log_target: bool) -> dict[str, float]:
    """Errors on the held-out sales: in dollars, and RMSE of log price (the CV metric)."""
    metrics = regression_metrics(y, pred)
    if log_target:
        metrics["rmse_log"] = float(np.sqrt(np.mean((np.log(y) - np.log(pred)) ** 2)))
    return metrics


def interval_metrics(
    y: np.ndarray, interval: Interval, *, nominal: float, seed: int
) -> dict[str, Any]:
    """Empirical coverage next to the nominal level, its bootstrap 95 % interval, widths,
    and coverage within each fifth of the predicted prices (CV+ promises coverage on
    average over houses, not for every kind of house)."""
    covered = interval.covers(y)
    low, high = bootstrap_ci(lambda _, c: float(np.mean(c)), y, covered, n_boot=1000, seed=seed)
    width = interval.upper - interval.lower
    bands = pd.qcut(interval.prediction, 5, labels=False)
    by_band = [
        {
            "band": int(b) + 1,
            "predicted_from": float(np.min(interval.prediction[bands == b])),
            "predicted_to": float(np.max(interval.prediction[bands == b])),
            "coverage": float(np.mean(covered[bands == b])),
            "median_width": float(np.median(width[bands == b])),
        }
        for b in range(5)
    ]
    return {
        "nominal": nominal,
        "coverage": float(np.mean(covered)),
        "coverage_ci95": [low, high],
        "below": float(np.mean(y < interval.lower)),
        "above": float(np.mean(y > interval.upper)),
        "median_width": float(np.median(width)),
        "median_relative_width": float(np.median(width / interval.prediction)),
        "rows": len(y),
        "by_predicted_price": by_band,
    }


def evaluate(result: HousingResult, cfg: HousingConfig) -> Evaluation:
    """The held-out sales, once, for every candidate: the metrics document and figures
    (with the outlier-policy figure for Ames); the interval metrics go onto the run too."""
    prepared = result.data.prepared
    X, y = prepared.X_heldout, prepared.y_heldout
    per_model: dict[str, Any] = {}
    predictions: dict[str, np.ndarray] = {}
    for name in CANDIDATES:
        candidate = result.candidates[name]
        predictions[name] = np.asarray(candidate.model.predict(X), dtype=float)
        per_model[name] = {
            "cv_rmse": candidate.cv_score,
            "cv_rmse_std": candidate.cv_std,
            "cv_fold_rmse": list(candidate.fold_scores),
            "heldout": heldout_metrics(y, predictions[name], log_target=prepared.log_target),
            "params": {k: _plain(v) for k, v in sorted(candidate.params.items())},
        }
    stack = result.candidates["stack"]
    interval = Interval(*stack.model.predict_interval(X))
    score = "rmse_log" if prepared.log_target else "rmse"
    scale = np.log if prepared.log_target else np.asarray
    low, high = bootstrap_ci(
        lambda t, p: float(np.sqrt(np.mean((scale(t) - scale(p)) ** 2))),
        y,
        predictions["stack"],
        n_boot=1000,
        seed=cfg.seed,
    )
    per_model["stack"]["heldout"][f"{score}_ci95"] = [low, high]
    per_model["stack"]["weights"] = stack_weights(stack)
    ames = prepared.ames
    document: dict[str, Any] = {
        "data": {
            **result.source.summary(),
            "train_rows": len(prepared.y),
            "heldout_rows": len(y),
            "out_of_scope": {
                "train": prepared.out_of_scope[0],
                "heldout": prepared.out_of_scope[1],
            },
            "heldout_source": (
                "De Cock sales not in Kaggle train.csv"
                if ames
                else f"{cfg.holdout_size:.0%} random split"
            ),
            "target_scale": "log" if prepared.log_target else "raw",
        },
        "protocol": {
            "seed": cfg.seed,
            "cv_folds": cfg.cv_folds,
            "n_trials": cfg.n_trials,
            "forest_trials": cfg.forest_trials,
            "scope": f"GrLivArea <= {cfg.max_living_area:.0f}" if ames else "all rows",
            "cv_metric": f"RMSE of {'log ' if prepared.log_target else ''}{cfg.target}",
            "interval": "CV+ (MAPIE CrossConformalRegressor), log-ratio score",
            "champion": "stack",
        },
        "models": per_model,
        "champion": result.best_name,
        "interval": interval_metrics(y, interval, nominal=cfg.confidence_level, seed=cfg.seed),
        "tuning": {
            name: {
                "trials": tuning.n_trials,
                "pruned": tuning.n_pruned,
                "best_cv_rmse": tuning.best_score,
            }
            for name in MEMBERS
            if (tuning := result.candidates[name].tuning) is not None
        },
    }
    log = np.log if prepared.log_target else (lambda v: v)
    figures = {
        "cv_rmse.png": plot_cv_scores(result),
        "residuals.png": plot_residuals(
            log(y), log(predictions["stack"]), title="Stack residuals, held-out sales (log price)"
        ),
        "predicted_vs_actual.png": plot_predicted_vs_actual(
            y / 1000, predictions["stack"] / 1000, title="Stack, held-out sales ($ thousands)"
        ),
        "intervals.png": plot_intervals(y, interval, nominal=cfg.confidence_level),
    }
    if ames:
        figures["outliers.png"] = plot_scope(result.data.raw, cfg)
    return Evaluation(
        metrics=document,
        figures=figures,
        split="heldout",
        run_metrics={"interval": document["interval"]},
    )


def promotion_gate(result: HousingResult, cfg: HousingConfig) -> tuple[Gate, Scorer]:
    """The gate a challenger must pass: RMSE on the held-out sales (of log price for Ames,
    as in CV), lower than the champion's by more than ``cfg.promotion_margin``."""
    prepared = result.data.prepared
    X, y = prepared.X_heldout, prepared.y_heldout
    scale = np.log if prepared.log_target else np.asarray
    source = "De Cock sales not in Kaggle train.csv" if prepared.ames else "held-out 20 %"
    rows = ValidationSet.of(f"{result.source.dataset}: {source}", X, y)

    def score(record: ModelRecord) -> float:
        pred = np.asarray(record.model.predict(X), dtype=float)
        return float(np.sqrt(np.mean((scale(y) - scale(pred)) ** 2)))

    metric = "held-out RMSE (log price)" if prepared.log_target else "held-out RMSE"
    return Gate(metric, False, cfg.promotion_margin, rows), score


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


# --------------------------------------------------------------------------- figures


def plot_cv_scores(result: HousingResult) -> Figure:
    """CV RMSE per model: the mean (bar) and each fold (dots)."""
    fig = new_figure(7, 3.8)
    ax = fig.subplots()
    names = list(CANDIDATES)
    means = [result.candidates[n].cv_score for n in names]
    ax.barh([DISPLAY_NAMES[n] for n in names], means, color="tab:blue", alpha=0.6)
    for i, name in enumerate(names):
        folds = result.candidates[name].fold_scores
        ax.scatter(folds, [i] * len(folds), color="black", s=12, zorder=3)
        ax.annotate(
            f"{means[i]:.4f}", (means[i], i), xytext=(4, 8), textcoords="offset points", fontsize=8
        )
    scale = "log price" if result.data.prepared.log_target else "target"
    ax.set(
        xlabel=f"{len(result.data.folds)}-fold CV RMSE ({scale}); dots: folds",
        title="Cross-validated error",
    )
    ax.invert_yaxis()
    return fig


def plot_intervals(y: np.ndarray, interval: Interval, *, nominal: float) -> Figure:
    """Held-out sales ordered by predicted price: the interval band and the actual prices
    (red where the interval missed)."""
    order = np.argsort(interval.prediction, kind="stable")
    covered = interval.covers(y)[order]
    x = np.arange(len(order))
    fig = new_figure(9, 4.5)
    ax = fig.subplots()
    ax.fill_between(
        x,
        interval.lower[order] / 1000,
        interval.upper[order] / 1000,
        color="tab:blue",
        alpha=0.25,
        label=f"{nominal:.0%} interval",
    )
    ax.plot(x, interval.prediction[order] / 1000, color="tab:blue", linewidth=1, label="prediction")
    actual = y[order] / 1000
    ax.scatter(x[covered], actual[covered], s=4, color="black", alpha=0.5, label="actual, inside")
    ax.scatter(x[~covered], actual[~covered], s=8, color="tab:red", label="actual, outside")
    ax.set(
        yscale="log",
        xlabel="held-out sales, ordered by predicted price",
        ylabel="price ($ thousands, log scale)",
        title=f"Coverage {np.mean(covered):.1%} at nominal {nominal:.0%} ({len(y)} held-out sales)",
    )
    # plain dollar ticks on the log axis (not 6×10²)
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.yaxis.set_minor_formatter(
        FuncFormatter(lambda v, _: f"{v:,.0f}" if str(v)[0] in "25" else "")
    )
    ax.legend(fontsize=8, loc="upper left")
    return fig


def plot_scope(frame: pd.DataFrame, cfg: HousingConfig) -> Figure:
    """Living area vs price in the training file, with the sales beyond the scope limit."""
    area = pd.to_numeric(frame["GrLivArea"], errors="coerce")
    price = pd.to_numeric(frame[cfg.target], errors="coerce") / 1000
    out = area > cfg.max_living_area
    fig = new_figure(6.5, 4.5)
    ax = fig.subplots()
    ax.scatter(area[~out], price[~out], s=5, alpha=0.4, label="training sales")
    ax.scatter(
        area[out],
        price[out],
        s=30,
        color="tab:red",
        marker="x",
        label=f"left out ({int(out.sum())})",
    )
    ax.axvline(cfg.max_living_area, color="tab:red", linestyle="--", linewidth=1)
    ax.set(
        xlabel="GrLivArea (sq ft above ground)",
        ylabel="SalePrice ($ thousands)",
        title=f"Scope: houses up to {cfg.max_living_area:.0f} sq ft (De Cock 2011)",
    )
    ax.legend(fontsize=8)
    return fig


# --------------------------------------------------------------------------- README


def results_table(metrics: Mapping[str, Any]) -> str:
    """The README's results tables, generated from ``metrics.json``."""
    models = metrics["models"]
    weights = models["stack"]["weights"]
    log = metrics["data"]["target_scale"] == "log"
    score = "rmse_log" if log else "rmse"
    rows = [{"name": n, **models[n]} for n in CANDIDATES]
    table = markdown_table(
        rows,
        [
            (
                "Model",
                lambda r: (
                    DISPLAY_NAMES[r["name"]]
                    + (" **(champion)**" if r["name"] == metrics["champion"] else "")
                ),
            ),
            (
                f"CV RMSE{' (log)' if log else ''}",
                lambda r: f"{fmt(r['cv_rmse'], 4)} ± {fmt(r['cv_rmse_std'], 4)}",
            ),
            (f"Held-out RMSE{' (log)' if log else ''}", lambda r: fmt(r["heldout"][score], 4)),
            ("Held-out MAE ($)", lambda r: f"{r['heldout']['mae']:,.0f}"),
            ("Held-out R²", lambda r: fmt(r["heldout"]["r2"], 3)),
            ("Weight in stack", lambda r: fmt(weights.get(r["name"]), 2)),
        ],
    )
    interval = metrics["interval"]
    low, high = interval["coverage_ci95"]
    coverage = markdown_table(
        [interval],
        [
            ("Nominal", lambda r: f"{r['nominal']:.0%}"),
            ("Coverage, held-out", lambda r: f"**{r['coverage']:.1%}**"),
            ("95 % CI (bootstrap)", lambda r: f"{low:.1%} – {high:.1%}"),
            ("Below / above", lambda r: f"{r['below']:.1%} / {r['above']:.1%}"),
            (
                "Median width",
                lambda r: f"${r['median_width']:,.0f} (±{r['median_relative_width'] / 2:.0%})",
            ),
            ("Sales", lambda r: str(r["rows"])),
        ],
    )
    bands = markdown_table(
        interval["by_predicted_price"],
        [
            (
                "Predicted price",
                lambda r: (
                    f"${r['predicted_from'] / 1000:,.0f}k – ${r['predicted_to'] / 1000:,.0f}k"
                ),
            ),
            ("Coverage", lambda r: f"{r['coverage']:.1%}"),
            ("Median width", lambda r: f"${r['median_width']:,.0f}"),
        ],
    )
    data, protocol = metrics["data"], metrics["protocol"]
    ci_low, ci_high = models["stack"]["heldout"][f"{score}_ci95"]
    note = (
        f"{data['kind']} data: {data['train_rows']} training sales ({protocol['scope']}; "
        f"{data['out_of_scope']['train']} left out), {data['heldout_rows']} held-out sales "
        f"({data['heldout_source']}). Seed {protocol['seed']}, {protocol['cv_folds']}-fold CV with "
        f"all preprocessing refitted per fold, Optuna trials: {protocol['n_trials']} (ridge, "
        f"LightGBM), {protocol['forest_trials']} (forest). Stack held-out RMSE 95 % bootstrap "
        f"CI: {ci_low:.4f} – {ci_high:.4f}."
    )
    return (
        f"{table}\n\n{coverage}\n\nBy fifth of the predicted price (held-out):\n\n{bands}\n\n{note}"
    )


def latency_table(latency: Mapping[str, Any]) -> str:
    """The README's latency table, generated from ``reports/latency.json`` (written by
    ``benchmarks/serve_latency.py``)."""
    names = {
        "compiled": "compiled (numpy features, preprocessing and forest)",
        "pipeline": "scikit-learn Pipeline (before)",
    }
    rows = [
        {"path": path, **row} for path, measured in latency["paths"].items() for row in measured
    ]
    table = markdown_table(
        rows,
        [
            ("Path", lambda r: names.get(r["path"], r["path"])),
            ("Concurrency", lambda r: str(r["concurrency"])),
            ("Requests", lambda r: str(r["requests"])),
            ("p50 ms", lambda r: fmt(r["p50_ms"], 1)),
            ("p99 ms", lambda r: fmt(r["p99_ms"], 1)),
            ("Requests/s", lambda r: fmt(r["requests_per_s"], 1)),
        ],
    )
    setup = latency["setup"]
    note = (
        f"`POST /v1/predict` with price and 90 % CV+ interval, {setup['houses']} held-out "
        f"Kaggle test houses cycled, after {setup['warmup']} warm-up requests per client; one "
        f"uvicorn worker per path on 127.0.0.1, client in another process on the same "
        f"{setup['cpus']}-CPU machine ({setup['platform']}). Both paths give the same prices "
        "and bounds (tested bit for bit)."
    )
    if setup.get("load_average") is not None:
        note += f" Load average {setup['load_average']} when measured."
    return f"{table}\n\n{note}"
