"""The standard plots (scikit-learn's Display classes on our axes): what they show is
what the metrics say, and the same data gives the same PNG bytes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from sklearn import metrics as skm

from tenfold import evaluation as ev


def scores(n: int = 400) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, n)
    return y, np.clip(0.3 * y + rng.normal(0.35, 0.2, n), 0, 1), rng.random(n)


def legend(fig: object) -> list[str]:
    (ax, *_) = fig.axes  # type: ignore[attr-defined]
    return [text.get_text() for text in ax.get_legend().get_texts()]


def test_curve_labels_carry_the_metrics_at_three_decimals() -> None:
    y, good, noise = scores()
    curves = {"model": (y, good), "noise": (y, noise)}
    auc = skm.roc_auc_score(y, good)
    assert legend(ev.plot_roc(curves)) == [
        f"model (AUC {auc:.3f})",
        f"noise (AUC {skm.roc_auc_score(y, noise):.3f})",
        "chance",
    ]
    ap = skm.average_precision_score(y, good)
    assert legend(ev.plot_pr(curves))[0] == f"model (AP {ap:.3f})"
    assert legend(ev.plot_pr(curves))[-1] == f"prevalence {y.mean():.3f}"
    brier = skm.brier_score_loss(y, good)
    assert f"model (Brier {brier:.3f})" in legend(ev.plot_calibration(curves))


def test_confusion_matrix_shows_the_counts() -> None:
    y, good, _ = scores()
    pred = (good >= 0.5).astype(int)
    fig = ev.plot_confusion(y, pred, labels=["no", "yes"])
    shown = sorted(int(t.get_text()) for t in fig.axes[0].texts)
    assert shown == sorted(skm.confusion_matrix(y, pred).ravel().tolist())
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["no", "yes"]


def test_prediction_error_plots_draw_every_row(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    actual = rng.normal(12, 0.4, 1500)  # more than the display's default subsample (1000)
    predicted = actual + rng.normal(0, 0.1, 1500)
    fig = ev.plot_predicted_vs_actual(actual, predicted)
    (points,) = fig.axes[0].collections
    assert len(points.get_offsets()) == 1500
    first = ev.save_figure(ev.plot_residuals(actual, predicted), tmp_path / "a.png")
    second = ev.save_figure(ev.plot_residuals(actual, predicted), tmp_path / "b.png")
    assert first.read_bytes() == second.read_bytes()
