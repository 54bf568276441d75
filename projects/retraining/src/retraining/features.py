"""Preprocessing between the lake and a training: which days a batch frame covers and
the rolling window they make, and the columns drift is measured on.

The rows themselves are the project's business (fraud computes its history features
inside its own ``prepare``); what is common to every retrained project is the calendar
of batches (:data:`retraining.interface.PERIOD_COLUMN`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from retraining.config import RetrainingConfig
from retraining.interface import PERIOD_COLUMN, Monitored, Retrainable, Window, window_for
from tenfold.data import DataError


def periods_in(frame: pd.DataFrame) -> list[dt.date]:
    """The days of the batches a frame's rows came from, oldest first."""
    if PERIOD_COLUMN not in frame.columns:
        raise DataError(
            f"the rows carry no {PERIOD_COLUMN!r} column: read them with retraining.data"
        )
    return sorted({d.date() for d in pd.to_datetime(frame[PERIOD_COLUMN]).unique()})


def window_of(frame: pd.DataFrame, cfg: RetrainingConfig, target: Retrainable) -> Window:
    """The window the frame's newest day closes (a DataError when it is too short)."""
    periods = periods_in(frame)
    window = window_for(periods, cfg, target.lookback_days)
    if window is None:
        raise DataError(
            f"{len(periods)} day(s) of batches ({periods[0] if periods else '-'}.."
            f"{periods[-1] if periods else '-'}) do not cover a window of "
            f"{target.lookback_days} look-back + {cfg.window.train_days} training + "
            f"{cfg.window.gap_days} gap + {cfg.window.validation_days} validation days"
        )
    return window


def monitored(target: Retrainable, inputs: pd.DataFrame) -> Monitored:
    """The project's monitored columns of inference inputs (or training rows)."""
    return target.monitored(inputs)
