"""One frozen, typed configuration for the recsys project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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

    als: int = 24
    bpr: int = 10
    ease: int = 8
    svd: int = 6
    # grid steps per blend weight (20: multiples of 0.05)
    hybrid: int = 20


@dataclass(frozen=True)
class RecsysConfig:
    seed: int = 42
    # data: MovieLens 100K by default; `ratings` runs the same pipeline on any file
    dataset: str = "movielens-100k"
    ratings: RatingsFile | None = None
    synthetic_users: int = 943
    synthetic_items: int = 1682
    # protocol: the recommenders benchmark's python_stratified_split, seed 42
    train_ratio: float = 0.75
    # validation carved from the training part the same way (tuning never sees test)
    validation_ratio: float = 0.8
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
    # tracking and outputs
    experiment: str = "recsys"
    model_name: str = "recsys"
    reports_dir: Path = PROJECT_DIR / "reports"

    @property
    def uses_movielens(self) -> bool:
        return self.ratings is None

    def registered_model_name(self, *, synthetic: bool) -> str:
        """A synthetic or custom-file run never replaces the MovieLens champion."""
        if synthetic:
            return f"{self.model_name}-synthetic"
        if self.ratings is not None:
            return f"{self.model_name}-{self.ratings.path.stem}"
        if self.dataset != "movielens-100k":
            return f"{self.model_name}-{self.dataset}"
        return self.model_name
