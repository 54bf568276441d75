"""One frozen, typed configuration for the fraud project.

Two datasets share the stages: the transaction simulator (the default, built after the
Fraud-Detection-Handbook) and the ULB/Kaggle ``creditcard.csv`` file. Each has its own
time-ordered protocol (how many days to train on, the delay gap, the test period).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from tenfold.training import ProjectConfig

if TYPE_CHECKING:
    from tenfold.data import DataSource
    from tenfold.training import TrainResult

PROJECT_DIR = Path(__file__).resolve().parents[2]

Dataset = Literal["simulated", "ulb"]


@dataclass(frozen=True)
class AccountTakeover:
    """A fraud pattern the handbook does not have (scenario 4), off by default.

    From ``start_day`` on, fraudsters take over accounts (a Poisson number ``per_day``,
    which :meth:`Simulation.scaled` scales with the customers) and, for ``days`` days,
    make a burst of purchases with each at night (Poisson(``tx_per_day``) between
    midnight and ``last_hour``), at terminals anywhere on the grid, of amounts like the
    customer's own. Nothing the first three scenarios taught a model (large amounts, a
    risky terminal, five times the usual amount) gives these away; the count of recent
    transactions and the hour do.
    """

    start_day: int
    per_day: float = 6.0
    days: int = 4
    tx_per_day: float = 6.0
    last_hour: int = 5


@dataclass(frozen=True)
class Simulation:
    """The simulator's population and fraud scenarios (Le Borgne et al., ch. 3).

    The handbook's example uses 5,000 customers, 10,000 terminals and 183 days (1.75 M
    transactions). This default keeps its densities (about one transaction per terminal
    per day, ~31 terminals within reach of a customer) at 2,000 customers so that a
    full run with every variant stays well under three minutes on two cores.
    """

    n_customers: int = 2000
    n_terminals: int = 4000
    n_days: int = 128
    radius: float = 5.0
    start_date: str = "2018-04-01"
    # scenario 1: any amount above this is fraud
    amount_threshold: float = 220.0
    # scenario 2: terminals compromised per day (Poisson mean), fraud on them for N days
    compromised_terminals_per_day: float = 0.3
    terminal_compromise_days: int = 28
    # scenario 3: customers whose card leaks per day (Poisson mean); for N days about a
    # third of their transactions are fraudulent, with the amount multiplied by 5
    compromised_customers_per_day: float = 0.8
    customer_compromise_days: int = 14
    compromised_share: float = 1 / 3
    amount_multiplier: float = 5.0
    # scenario 4 (not in the handbook): off unless set
    account_takeover: AccountTakeover | None = None

    def scaled(self, n_customers: int) -> Simulation:
        """The same world with another number of customers: terminals and compromises
        per day scale with it, so densities and the fraud rate stay the same."""
        factor = n_customers / self.n_customers
        takeover = self.account_takeover
        return replace(
            self,
            n_customers=n_customers,
            n_terminals=max(1, round(self.n_terminals * factor)),
            compromised_terminals_per_day=self.compromised_terminals_per_day * factor,
            compromised_customers_per_day=self.compromised_customers_per_day * factor,
            account_takeover=None
            if takeover is None
            else replace(takeover, per_day=takeover.per_day * factor),
        )


@dataclass(frozen=True)
class Protocol:
    """Time-ordered evaluation, in days from the first transaction.

    ``burn_in`` days only feed the history features (30-day windows and a 7-day label
    delay need 37 days of past); then ``train`` days, a ``delay`` gap (fraud labels of
    the last days of training would not be known yet when the model goes live), and
    ``test`` days. Cross-validation uses the training days only: ``cv_folds`` validation
    blocks of ``cv_valid_days`` at the end of them, each preceded by the same delay gap
    and trained on everything before that gap (an expanding window).
    """

    burn_in: float = 37.0
    train: float = 56.0
    delay: float = 7.0
    test: float = 28.0
    cv_folds: int = 3
    cv_valid_days: float = 7.0


# The ULB file covers two days: train on the first 30 hours, a 2-hour gap, test on the
# last 14 hours; validation blocks of 6 hours.
ULB_PROTOCOL = Protocol(
    burn_in=0.0, train=1.25, delay=2 / 24, test=0.58, cv_folds=3, cv_valid_days=0.25
)


@dataclass(frozen=True)
class Economics:
    """What a decision costs (in the transaction's currency).

    Every alert is reviewed by an analyst (``review_cost``: about five minutes at
    $60/hour); a fraud that is let through is lost in full (its amount). A caught fraud
    therefore costs one review, a false alarm one review, a missed fraud its amount.
    """

    review_cost: float = 5.0


@dataclass(frozen=True)
class Boosting:
    """LightGBM settings shared by every LightGBM variant, so that the comparison
    isolates the imbalance strategy (resampling, weights or threshold)."""

    n_estimators: int = 200
    learning_rate: float = 0.06
    num_leaves: int = 31
    min_child_samples: int = 50
    subsample: float = 0.8
    colsample_bytree: float = 0.8
    reg_lambda: float = 1.0


@dataclass(frozen=True)
class FraudConfig(ProjectConfig):
    dataset: Dataset = "simulated"
    simulation: Simulation = field(default_factory=Simulation)
    protocol: Protocol = field(default_factory=Protocol)
    # the ULB file in the manifest, and the size of its offline twin
    ulb_dataset: str = "creditcard-ulb"
    ulb_file: str = "creditcard.csv"
    ulb_twin_rows: int = 60_000
    # history features
    windows: tuple[int, ...] = (1, 7, 30)
    label_delay_days: int = 7
    # models
    boosting: Boosting = field(default_factory=Boosting)
    smote_ratio: float = 0.1
    smote_neighbors: int = 5
    # evaluation
    economics: Economics = field(default_factory=Economics)
    top_k_cards: int = 100
    alerts_per_day: int = 100
    n_boot: int = 300
    # tracking, promotion (test-period cost at each model's own threshold below the
    # champion's by more than this many dollars) and outputs; `--dataset ulb` runs go to
    # the experiment fraud-ulb
    experiment: str = "fraud"
    model_name: str = "fraud"
    promotion_margin: float = 100.0
    reports_dir: Path = PROJECT_DIR / "reports"

    def registered_model_name(self, source: DataSource) -> str:
        """The simulator is this project's own data (synthetic by design): its models are
        ``fraud``. A model of the ULB file never replaces it (the API serves the
        simulator's schema): ``fraud-ulb``, and ``fraud-ulb-synthetic`` for its twin."""
        if self.dataset == "simulated":
            return self.model_name
        name = f"{self.model_name}-ulb"
        return name if source.is_real else f"{name}-synthetic"

    def output_dir(self, result: TrainResult[Any, Any]) -> Path:
        """The default simulation is this project's published result; the ULB file's real
        results go to ``ulb/``; anything else (the ULB twin, another seed, population or
        review cost) to git-ignored folders, so they never overwrite the published numbers."""
        if self.dataset == "ulb":
            real = result.source.is_real
            return self.reports_dir / "ulb" if real else self.reports_dir / "synthetic" / "ulb"
        default = FraudConfig()
        if (self.seed, self.simulation, self.economics) == (
            default.seed,
            default.simulation,
            default.economics,
        ):
            return self.reports_dir
        tag = (
            f"simulated-seed{self.seed}-c{self.simulation.n_customers}"
            f"-review{self.economics.review_cost:g}"
        )
        return self.reports_dir / "custom" / tag
