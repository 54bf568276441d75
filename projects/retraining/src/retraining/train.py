"""Training: one challenger on the rolling window, by the project's own recipe.

``train(cfg, frame, source)`` takes the window's rows as :mod:`retraining.data` reads
them from the lake and hands them to the project (:meth:`Retrainable.build_challenger`):
for fraud, its LightGBM with the cost-optimal threshold, fitted on the training days
only. Training is pure: logging, registration and the gate are later steps
(:mod:`retraining.pipeline`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from retraining.config import RetrainingConfig
from retraining.features import window_of
from retraining.interface import target_for
from tenfold.data import DataSource
from tenfold.tracking import LoggedTraining
from tenfold.training import TrainResult
from tenfold.tuning import Progress


def train(
    cfg: RetrainingConfig,
    frame: pd.DataFrame,
    source: DataSource,
    *,
    progress: Progress | None = None,
) -> TrainResult[Any, Any]:
    """A challenger for the window the frame's newest batch closes."""
    report = progress or (lambda stage, done, total: None)
    target = target_for(cfg)
    window = window_of(frame, cfg, target)
    report(f"{cfg.project} challenger", 0, 1)
    result = target.build_challenger(frame, window, source)
    report(f"{cfg.project} challenger", 1, 1)
    return result


def from_run(
    cfg: RetrainingConfig, frame: pd.DataFrame, source: DataSource, training: LoggedTraining
) -> TrainResult[Any, Any]:
    """A challenger logged to MLflow, rebuilt on the same window (for ``evaluate``)."""
    target = target_for(cfg)
    return target.from_run(frame, window_of(frame, cfg, target), source, training)
