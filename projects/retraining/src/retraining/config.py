"""One frozen, typed configuration for the retraining project.

What it retrains (``project``: a :class:`retraining.interface.Retrainable`, fraud by
default), where the data lands (``lake``: a folder or ``s3://bucket/prefix``), the
rolling time-ordered protocol every retraining uses (:class:`Window`), monitoring
(:class:`Monitoring`) and the 30-day scenario of ``make retraining``
(:class:`Scenario`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tenfold.training import ProjectConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Window:
    """The days one retraining uses, counted back from the newest accepted batch.

    The last ``validation_days`` are the validation period on which the challenger and
    the champion are both scored (the gate's rows); before them a ``gap_days`` gap, and
    before that ``train_days`` of training. Features that look back in time (fraud's
    30-day windows with a 7-day label delay) also get the project's own look-back days
    before the training days. Every model the gate compares was trained on days before
    the validation period: the champion was trained on an earlier window still.
    """

    train_days: int = 21
    gap_days: int = 0
    validation_days: int = 7


@dataclass(frozen=True)
class Checks:
    """Bounds that override the project's own batch contract (None keeps its own): a
    smaller population than the project expects has fewer rows and, some days, no
    positive label at all."""

    min_rows: int | None = None
    label_rate: tuple[float, float] | None = None


@dataclass(frozen=True)
class Monitoring:
    """Drift of each day of inference data against the champion's training rows:
    a period is drifted when at least ``drift_share`` of the monitored columns drifted
    (Evidently's per-column tests); ``reference_rows`` caps the reference sample."""

    drift_share: float = 0.1
    reference_rows: int = 5000


@dataclass(frozen=True)
class Scenario:
    """``make retraining``: the fraud simulator's transactions land in the lake one day
    at a time.

    ``history_days`` of backfill first (the first model is trained on them), then
    ``days`` daily batches. The batch of day ``broken_day`` (counted from 1) arrives
    broken and must be quarantined (its producer re-delivers it, fixed, the next day);
    from day ``pattern_day`` on, accounts are taken over at night (the simulator's
    scenario 4, ``takeovers_per_day`` for 2,000 customers), a pattern the first model
    never saw.
    """

    days: int = 30
    history_days: int = 65
    customers: int = 1000
    broken_day: int = 4
    pattern_day: int = 8
    takeovers_per_day: float = 6.0
    takeover_days: int = 4
    takeover_tx_per_night: float = 6.0


@dataclass(frozen=True)
class RetrainingConfig(ProjectConfig):
    # what is retrained, on which data
    project: str = "fraud"
    lake: str = "data/lake"
    # what producers land: their real data; the scenario's simulated days are "synthetic"
    data_kind: Literal["real", "synthetic"] = "real"
    window: Window = field(default_factory=Window)
    checks: Checks = field(default_factory=Checks)
    monitoring: Monitoring = field(default_factory=Monitoring)
    scenario: Scenario = field(default_factory=Scenario)
    # a lean model (LightGBM with few trees) so 30 retrainings fit in minutes
    trees: int = 60
    cv_folds: int = 2
    # tracking and promotion: the challenger must beat the champion by more than this,
    # in the gate metric's units (fraud: dollars of cost over the validation period)
    experiment: str = "retraining"
    model_name: str = "retraining"
    promotion_margin: float = 50.0
    n_jobs: int = 1
    reports_dir: Path = PROJECT_DIR / "reports"

    def lake_url(self) -> str:
        """The lake as a URL: a relative folder is taken from the repository root."""
        if "://" in self.lake or Path(self.lake).is_absolute():
            return self.lake
        from tenfold import paths

        return str(paths.repo_root() / self.lake)
