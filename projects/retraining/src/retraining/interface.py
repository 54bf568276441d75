"""What the retraining flow needs to know about the project it retrains.

The flow itself is generic: it finds new batches in the lake, checks them against the
project's :class:`BatchContract`, keeps the good ones, cuts the rolling time-ordered
:class:`Window` and hands it to the project. A project plugs in by implementing
:class:`Retrainable` (fraud in :mod:`retraining.fraud_target`, churn in
:mod:`retraining.churn_target`) and naming it in :data:`TARGETS`:

- ``contract`` and ``validate``: how to read a batch's rows and what makes one bad;
- ``lookback_days``: how many days before the training days its features read;
- ``config``: its own project config for these trainings (experiment, registered
  model name, seed, promotion margin);
- ``build_challenger``: train one challenger on the window's training days (a
  :class:`tenfold.training.TrainResult`, never touching the validation days);
- ``gate``: the library's :class:`tenfold.promotion.Gate` and scorer on the window's
  validation period (the project's own metric, e.g. fraud's dollar cost at the model's
  threshold), which scores the challenger and the champion on the same rows;
- ``from_run``: the same result rebuilt from a training logged in MLflow;
- ``reference_inputs`` / ``inference_columns`` / ``monitored``: what the model receives
  at inference time, and the columns drift is measured on.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

    from retraining.config import RetrainingConfig
    from tenfold.data import ColumnSpec, DataSource
    from tenfold.promotion import Gate, Scorer
    from tenfold.tracking import LoggedTraining
    from tenfold.training import Candidate, ProjectConfig, TrainResult

# The column the flow adds to every batch's rows: the day its object's key names.
PERIOD_COLUMN = "batch_period"


@dataclass(frozen=True)
class BatchContract:
    """What a good batch is.

    Its ``columns`` (each with a type; a ``nullable`` column may miss at most
    ``max_null_share`` of its values, any other none), between ``min_rows`` and
    ``max_rows`` rows, and a share of positive labels (``label`` equal to ``positive``)
    within ``label_rate``.
    """

    columns: tuple[ColumnSpec, ...]
    label: str
    positive: str | int = 1
    min_rows: int = 1
    max_rows: int | None = None
    max_null_share: float = 0.0
    label_rate: tuple[float, float] = (0.0, 1.0)


@dataclass(frozen=True)
class Window:
    """The days of one retraining (inclusive dates): ``start`` is the first day read
    (look-back included), then training days, an optional gap, validation days."""

    start: dt.date
    train_start: dt.date
    train_end: dt.date
    validation_start: dt.date
    validation_end: dt.date

    @property
    def train_days(self) -> int:
        return (self.train_end - self.train_start).days + 1

    @property
    def validation_days(self) -> int:
        return (self.validation_end - self.validation_start).days + 1

    @property
    def gap_days(self) -> int:
        return (self.validation_start - self.train_end).days - 1

    def describe(self) -> str:
        return (
            f"train {self.train_start}..{self.train_end}, "
            f"validation {self.validation_start}..{self.validation_end}"
        )


@dataclass(frozen=True)
class Monitored:
    """The columns drift is measured on, split by kind (Evidently picks tests by it)."""

    frame: pd.DataFrame
    numerical: tuple[str, ...]
    categorical: tuple[str, ...] = ()


class Retrainable(Protocol):
    """A project the retraining flow can retrain (see the module docstring)."""

    name: str
    contract: BatchContract
    lookback_days: int
    inference_columns: tuple[ColumnSpec, ...]

    def config(self) -> ProjectConfig: ...

    def validate(self, batch: pd.DataFrame, period: dt.date) -> list[str]: ...

    def build_challenger(
        self, history: pd.DataFrame, window: Window, source: DataSource
    ) -> TrainResult[Any, Any]: ...

    def gate(self, result: TrainResult[Any, Any]) -> tuple[Gate, Scorer]: ...

    def from_run(
        self,
        history: pd.DataFrame,
        window: Window,
        source: DataSource,
        training: LoggedTraining,
    ) -> TrainResult[Any, Any]: ...

    def reference_inputs(self, result: TrainResult[Any, Any]) -> pd.DataFrame: ...

    def monitored(self, inputs: pd.DataFrame) -> Monitored: ...


def one_candidate(
    candidate: Candidate,
    data: Any,
    source: DataSource,
    example: pd.DataFrame,
    *,
    run_id: str | None = None,
) -> TrainResult[Any, Any]:
    """A retraining's result: the one challenger a project's recipe trains (no model
    selection inside a scheduled retraining: the gate is the selection)."""
    from tenfold.training import TrainResult

    return TrainResult(
        {candidate.name: candidate}, candidate.name, data, source, example.head(5), run_id=run_id
    )


def logged_candidate(training: LoggedTraining, name: str) -> Candidate:
    """The candidate ``name`` of a training read back from MLflow."""
    from tenfold.errors import DataError

    if name not in training.candidates:
        raise DataError(f"training run {training.run_id} has no {name} candidate")
    return training.candidates[name]


# name → "module:factory"; a factory takes the RetrainingConfig
TARGETS = {
    "fraud": "retraining.fraud_target:FraudTarget",
    "churn": "retraining.churn_target:ChurnTarget",
}


def target_for(cfg: RetrainingConfig) -> Retrainable:
    """The project ``cfg.project`` names, set up with ``cfg``."""
    from tenfold.cli import load_object
    from tenfold.errors import DataError

    if cfg.project not in TARGETS:
        raise DataError(f"unknown project {cfg.project!r}; choose from {sorted(TARGETS)}")
    factory = load_object(TARGETS[cfg.project])
    target: Retrainable = factory(cfg)
    return target


def window_for(
    periods: Sequence[dt.date], cfg: RetrainingConfig, lookback_days: int
) -> Window | None:
    """The window ending on the newest of ``periods`` (the days with accepted data), or
    None when they do not reach back far enough for it."""
    if not periods:
        return None
    w = cfg.window
    end = max(periods)
    validation_start = end - dt.timedelta(days=w.validation_days - 1)
    train_end = validation_start - dt.timedelta(days=w.gap_days + 1)
    train_start = train_end - dt.timedelta(days=w.train_days - 1)
    start = train_start - dt.timedelta(days=lookback_days)
    if min(periods) > start:
        return None
    return Window(start, train_start, train_end, validation_start, end)
