"""One frozen, typed configuration for the churn project."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from tenfold.training import ProjectConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class RetentionEconomics:
    """What acting on a churn score is worth, per customer (US dollars).

    A contacted customer costs ``offer_cost`` (discount plus agent time). A would-be
    churner who is contacted stays with probability ``offer_success_rate`` and is then
    worth ``saved_customer_value`` (about a year of margin on a $65/month plan).
    """

    offer_cost: float = 50.0
    saved_customer_value: float = 500.0
    offer_success_rate: float = 0.35

    @property
    def value_true_positive(self) -> float:
        return self.offer_success_rate * self.saved_customer_value - self.offer_cost

    @property
    def value_false_positive(self) -> float:
        return -self.offer_cost


@dataclass(frozen=True)
class ChurnConfig(ProjectConfig):
    # data: the Telco file by default; `data_path` runs the same pipeline on any churn CSV
    dataset: str = "telco-churn"
    data_file: str = "WA_Fn-UseC_-Telco-Customer-Churn.csv"
    data_path: Path | None = None
    target: str = "Churn"
    id_column: str | None = "customerID"
    positive_label: str | None = None
    synthetic_rows: int = 7043
    # evaluation protocol
    test_size: float = 0.2
    cv_folds: int = 5
    lift_fraction: float = 0.1
    # models
    n_trials: int = 50
    economics: RetentionEconomics = field(default_factory=RetentionEconomics)
    # tracking, promotion (test ROC-AUC above the champion's by more than this) and outputs
    experiment: str = "churn"
    model_name: str = "churn"
    promotion_margin: float = 0.002
    reports_dir: Path = PROJECT_DIR / "reports"

    @property
    def uses_telco_schema(self) -> bool:
        return self.data_path is None
