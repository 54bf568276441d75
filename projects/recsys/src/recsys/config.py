"""One frozen, typed configuration for the recsys project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tenfold.training import ProjectConfig

if TYPE_CHECKING:
    from tenfold.data import DataSource
    from tenfold.training import TrainResult

PROJECT_DIR = Path(__file__).resolve().parents[2]

MOVIELENS = (
    "movielens-100k",
    "movielens-1m",
    "movielens-latest-small",
    "movielens-32m",
)


@dataclass(frozen=True)
class RatingsFile:
    """A user's own interactions file (``run --ratings F --user-col C --item-col C``)."""

    path: Path
    user_col: str
    item_col: str
    rating_col: str | None = None
    time_col: str | None = None
    items_path: Path | None = None
    # the items file's id column (default: the same name as in the ratings) and title
    items_id_col: str | None = None
    title_col: str = "title"
    genres_col: str | None = "genres"


@dataclass(frozen=True)
class TrialBudget:
    """Optuna trials per tuned system (each trial fits on the fit part, scores validation)."""

    # ALS fits in about a second: 60 trials let TPE reach the ridge that balances alpha
    als: int = 60
    bpr: int = 10
    ease: int = 8
    svd: int = 6
    # grid steps per blend weight (20: multiples of 0.05)
    hybrid: int = 20


@dataclass(frozen=True)
class RecsysConfig(ProjectConfig):
    # data: MovieLens 100K by default; `ratings` runs the same pipeline on any file
    dataset: str = "movielens-100k"
    ratings: RatingsFile | None = None
    synthetic_users: int = 943
    synthetic_items: int = 1682
    # protocol: the recommenders benchmark's python_stratified_split, seed 42
    train_ratio: float = 0.75
    # validation carved from the training part the same way (tuning never sees test)
    validation_ratio: float = 0.8
    # tuning and picking average P@k over this many validation splits (``validation_seeds``)
    validation_splits: int = 3
    # the time-ordered split: each user's last 20 % of interactions
    time_test_fraction: float = 0.2
    k: int = 10
    # what is precomputed for serving
    top_n: int = 100
    similar_n: int = 50
    # content weight in the similar-items blend (items without interactions: content only)
    similar_content_weight: float = 0.3
    trials: TrialBudget = TrialBudget()
    # sentence embeddings of the movie metadata when the opt-in extra is installed
    use_minilm: bool = True
    # tracking, promotion (test P@k above the champion's by more than this) and outputs
    experiment: str = "recsys"
    model_name: str = "recsys"
    promotion_margin: float = 0.002
    reports_dir: Path = PROJECT_DIR / "reports"

    def __post_init__(self) -> None:
        # a misconfigured protocol would otherwise surface as an empty split or a mean of
        # no scores deep inside tuning
        if self.validation_splits < 1:
            raise ValueError(f"validation_splits must be >= 1, got {self.validation_splits}")
        for name in ("train_ratio", "validation_ratio", "time_test_fraction"):
            value = getattr(self, name)
            if not 0.0 < value < 1.0:
                raise ValueError(f"{name} must be strictly between 0 and 1, got {value}")
        if self.k < 1 or self.top_n < self.k:
            raise ValueError(f"need 1 <= k <= top_n, got k={self.k}, top_n={self.top_n}")

    @property
    def uses_movielens(self) -> bool:
        return self.ratings is None

    @property
    def is_default_dataset(self) -> bool:
        """MovieLens 100K, the dataset the published reports and the champion are of."""
        return self.ratings is None and self.dataset == "movielens-100k"

    def registered_model_name(self, source: DataSource) -> str:
        """Only MovieLens 100K registers as ``recsys``: the synthetic twin as
        ``recsys-synthetic``, a user's file as ``recsys-<file stem>``, another MovieLens
        release as ``recsys-<dataset>``, so none replaces the published champion."""
        if not source.is_real:
            return f"{self.model_name}-synthetic"
        if self.ratings is not None:
            return f"{self.model_name}-{self.ratings.path.stem}"
        if self.dataset != "movielens-100k":
            return f"{self.model_name}-{self.dataset}"
        return self.model_name

    @property
    def validation_seeds(self) -> list[int]:
        """The seeds of the validation splits (the first is the recorded one)."""
        return [self.seed + i for i in range(self.validation_splits)]

    def output_dir(self, result: TrainResult[Any, Any]) -> Path:
        """The published ``reports/`` only for MovieLens 100K itself; ``custom/<name>``
        for a user's file or another release, ``synthetic/`` for the twin."""
        if self.ratings is not None:
            return self.reports_dir / "custom" / self.ratings.path.stem
        if not result.source.is_real:
            return self.reports_dir / "synthetic"
        if self.dataset != "movielens-100k":
            return self.reports_dir / "custom" / self.dataset
        return self.reports_dir
