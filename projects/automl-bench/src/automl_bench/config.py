"""One frozen, typed configuration: the benchmark's constraints (profiles) and run options.

The constraints live in ``constraints.toml`` beside the package (AMLB's constraints
file): each profile fixes the folds, the per-job time budget or iteration budget, the
cores and memory per job and how many jobs run side by side.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar, Literal

from tenfold.errors import DataError
from tenfold.training import ProjectConfig

PROJECT_DIR = Path(__file__).resolve().parents[2]
CONSTRAINTS_FILE = PROJECT_DIR / "constraints.toml"

TaskKind = Literal["binary", "multiclass", "regression"]
# One metric per task type, as AMLB: ROC-AUC (binary), log loss (multiclass), RMSE (regression).
METRICS: dict[TaskKind, str] = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
GREATER_IS_BETTER = {"roc_auc": True, "log_loss": False, "rmse": False}

FRAMEWORKS = ("constant", "lightgbm", "manual", "flaml", "autogluon")
# Synthetic by design (the fraud project's transaction simulator): its data is the
# benchmark's own. Any other synthetic dataset is a twin standing in for a missing file.
SIMULATED = frozenset({"fraud"})


def is_twin(kind: str, dataset: str) -> bool:
    """A synthetic stand-in for a missing file (not a simulator by design)."""
    return kind != "real" and dataset not in SIMULATED


DATASETS = (
    "telco",
    "credit",
    "ames",
    "cmapss",
    "bbc",
    "fraud",
    "breast-cancer",
    "digits",
)


@dataclass(frozen=True)
class Profile:
    """One constraint set. ``iterations`` set means an iteration-budgeted profile: no
    framework decision depends on the clock (``time_budget`` is then unused)."""

    name: str
    folds: int
    cores: int
    memory_gb: float
    workers: int
    time_budget: float | None = None
    iterations: int | None = None
    max_train_rows: int | None = None
    time_limit: float | None = None
    description: str = ""

    @property
    def iteration_budgeted(self) -> bool:
        return self.iterations is not None

    @property
    def hard_limit(self) -> float:
        """Seconds after which a job is killed as a time-out (AMLB's tolerance)."""
        if self.time_limit is not None:
            return self.time_limit
        assert self.time_budget is not None
        return self.time_budget * 1.5 + 30.0

    @property
    def budget_label(self) -> str:
        if self.iterations is not None:
            return f"{self.iterations} iterations"
        return f"{self.time_budget:g} s"


def load_profiles(path: Path = CONSTRAINTS_FILE) -> dict[str, Profile]:
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"constraints file not found: {path}") from None
    except tomllib.TOMLDecodeError as exc:
        raise DataError(f"{path}: invalid TOML: {exc}") from None
    profiles = {}
    for name, body in raw.get("profiles", {}).items():
        try:
            profile = Profile(name=name, **body)
        except TypeError as exc:
            raise DataError(f"{path}: profiles.{name}: {exc}") from None
        if (profile.time_budget is None) == (profile.iterations is None):
            raise DataError(f"{path}: profiles.{name} needs exactly one of time_budget, iterations")
        if profile.folds < 2 or profile.cores < 1 or profile.workers < 1:
            raise DataError(f"{path}: profiles.{name}: folds >= 2, cores >= 1, workers >= 1")
        profiles[name] = profile
    return profiles


def load_profile(name: str, path: Path = CONSTRAINTS_FILE) -> Profile:
    profiles = load_profiles(path)
    if name not in profiles:
        raise DataError(f"unknown profile {name!r}; {path} defines {sorted(profiles)}")
    return profiles[name]


@dataclass(frozen=True, kw_only=True)
class BenchConfig(ProjectConfig):
    """The benchmark's options. ``model_name`` names what it publishes in the registry:
    its results (``automl_bench@champion`` is the version the API serves)."""

    experiment: str = "automl-bench"
    model_name: str = "automl_bench"
    reports_dir: Path = PROJECT_DIR / "reports"
    # A publication replaces the served one unless it reports fewer cells: the gate's
    # metric is the number of grid cells a publication covers, and a negative margin lets
    # an equal count through (a re-run after a change publishes its new numbers).
    promotion_margin: float = -0.5
    profile: str = "quick"
    datasets: tuple[str, ...] = DATASETS
    frameworks: tuple[str, ...] = FRAMEWORKS
    # user datasets: one TOML entry each (see datasets.toml)
    datasets_file: Path = PROJECT_DIR / "datasets.toml"
    # `--data F --target C [--task T] [--id I]`: one CSV as the grid's only dataset
    data_path: Path | None = None
    target: str | None = None
    task: TaskKind | None = None
    id_column: str | None = None
    # Dask: None starts a LocalCluster with the profile's workers
    scheduler: str | None = None
    # Optuna storage of the manual pipeline's studies: None (in memory), or an RDB URL
    # (sqlite:///..., postgresql+psycopg://...) that several processes can share
    optuna_storage: str | None = None
    # the fraud simulator at the Fraud-Detection-Handbook's full size
    fraud_customers: int = 5000
    fraud_days: int = 183
    report_file: Path = PROJECT_DIR / "REPORT.md"
    extra_tags: dict[str, str] = field(default_factory=dict)

    # where the grid runs and where reports go change no cell (a cell's signature is its
    # key, profile and seed)
    NOT_TRAINING_INPUTS: ClassVar[frozenset[str]] = ProjectConfig.NOT_TRAINING_INPUTS | {
        "scheduler",
        "optuna_storage",
        "report_file",
        "extra_tags",
    }

    @property
    def user_dataset(self) -> str | None:
        """The grid's dataset name for ``--data F``: ``csv-<file stem>``."""
        return None if self.data_path is None else f"csv-{self.data_path.stem}"
