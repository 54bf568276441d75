"""One frozen, typed configuration for the mlops project: the scorecard, the traffic
simulation, the monitor and the retraining response."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tenfold.training import ProjectConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]

# The repayment status of the six months before scoring (Sept 2005 back to April 2005):
# -2 no consumption, -1 paid in full, 0 revolving, 1..9 months of delay.
PAY_STATUS = ("PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6")
BILL_AMOUNTS = tuple(f"BILL_AMT{k}" for k in range(1, 7))
PAY_AMOUNTS = tuple(f"PAY_AMT{k}" for k in range(1, 7))
# What the model reads. SEX and MARRIAGE are in the file but not in the model: a credit
# decision may not depend on them (equal-credit rules), so the API does not ask for them.
MODEL_INPUTS = ("LIMIT_BAL", "EDUCATION", "AGE", *PAY_STATUS, *BILL_AMOUNTS, *PAY_AMOUNTS)
TARGET = "default.payment.next.month"


@dataclass(frozen=True)
class ScorecardScale:
    """Points from the calibrated log-odds, the usual scorecard scaling: ``base_score``
    points at good:bad odds of ``base_odds``, ``pdo`` more points for each doubling of
    the odds."""

    base_score: float = 600.0
    base_odds: float = 50.0
    pdo: float = 20.0


@dataclass(frozen=True)
class SimulationConfig:
    """The traffic simulator: applicants replayed over ``days`` simulated days, drift from
    ``drift_day`` on, each outcome known ``label_delay_days`` after the application.

    The drift is three things a lender sees when its market moves: a new young segment
    (``young_share`` of the applicants drawn from those aged 21-27), credit limits cut
    (``limit_scale``), and repayment delays reported one month longer (``delay_shift``)
    for a ``delay_share`` of applicants."""

    days: int = 12
    requests_per_day: int = 400
    drift_day: int = 6
    label_delay_days: int = 2
    young_share: float = 0.5
    limit_scale: float = 0.6
    delay_shift: int = 1
    delay_share: float = 0.5
    start_date: str = "2025-01-01"


@dataclass(frozen=True)
class MonitorConfig:
    """The drift monitor and the retraining it triggers.

    A window (one simulated day of logged requests) counts as drifted when the share of
    drifted input columns reaches ``drift_threshold``. Retraining uses the labelled
    requests of the last ``recent_days`` days (``holdout_share`` of them, by application
    id, held out for the gate) together with the original training rows."""

    drift_threshold: float = 0.3
    min_window_rows: int = 100
    reference_sample: int = 5000
    recent_days: int = 3
    holdout_share: float = 0.3
    every_minutes: int = 60


@dataclass(frozen=True)
class MlopsConfig(ProjectConfig):
    dataset: str = "credit-scoring"
    data_file: str = "UCI_Credit_Card.csv"
    target: str = TARGET
    id_column: str = "ID"
    synthetic_rows: int = 30_000
    # evaluation protocol
    test_size: float = 0.2
    cv_folds: int = 3
    # models
    n_trials: int = 12
    scale: ScorecardScale = field(default_factory=ScorecardScale)
    # tracking, promotion (test log-loss below the champion's by more than the margin)
    experiment: str = "mlops"
    model_name: str = "mlops"
    promotion_margin: float = 0.0
    reports_dir: Path = PROJECT_DIR / "reports"
    simulation: SimulationConfig = field(default_factory=SimulationConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
