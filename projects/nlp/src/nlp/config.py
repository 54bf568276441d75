"""One frozen, typed configuration for the nlp project."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from tenfold.training import ProjectConfig

if TYPE_CHECKING:
    from tenfold.training import TrainResult

PROJECT_DIR = Path(__file__).resolve().parents[2]

ModelName = Literal["tfidf", "embeddings"]
MODELS: tuple[ModelName, ...] = ("tfidf", "embeddings")


@dataclass(frozen=True)
class NlpConfig(ProjectConfig):
    # data: BBC News by default; `data_path` runs the same pipeline on any labelled text CSV
    dataset: str = "text-classification"
    data_file: str = "bbc-text.csv"
    data_path: Path | None = None
    text_column: str = "text"
    label_column: str = "category"
    # the offline stand-in: a small generated corpus, for smoke runs only (refused when
    # real data is required, e.g. building an image)
    synthetic_docs: int = 400
    require_real_data: bool = False
    # evaluation protocol: near-duplicate articles always fall on the same side of a split
    test_size: float = 0.2
    cv_folds: int = 5
    bootstrap_samples: int = 1000
    # models: TF-IDF + linear classifier, sentence embeddings + logistic regression
    models: tuple[ModelName, ...] = MODELS
    n_trials: int = 15
    # TF-IDF features (fixed; Optuna tunes the classifier on per-fold features)
    word_ngrams: tuple[int, int] = (1, 2)
    char_ngrams: tuple[int, int] = (2, 5)
    min_df: int = 2
    # sentence embeddings: all-MiniLM-L6-v2 was trained on 128 word pieces (it accepts
    # 256); articles are cut at 128, where headline and lead carry the topic, which also
    # halves the embedding time
    max_seq_length: int = 128
    embedding_batch_size: int = 32
    # error analysis
    worst_errors: int = 10
    top_tokens: int = 8
    # tracking, promotion (test macro-F1 above the champion's by more than this) and outputs
    experiment: str = "nlp"
    model_name: str = "nlp"
    promotion_margin: float = 0.002
    reports_dir: Path = PROJECT_DIR / "reports"

    NOT_TRAINING_INPUTS: ClassVar[frozenset[str]] = ProjectConfig.NOT_TRAINING_INPUTS | {
        "require_real_data"
    }

    @property
    def uses_bbc(self) -> bool:
        return self.data_path is None

    @property
    def test_folds(self) -> int:
        """The test split is one fold of a grouped, stratified k-fold (k = 1 / test_size)."""
        return max(2, round(1 / self.test_size))

    def output_dir(self, result: TrainResult[Any, Any]) -> Path:
        """Real BBC results with every model are the committed reports; anything else goes
        to a git-ignored sub-folder, so an offline run, another corpus or a run without
        the dense extra never overwrites the published numbers."""
        out = super().output_dir(result)
        trained = tuple(result.candidates)
        if out == self.reports_dir and trained != MODELS:
            return self.reports_dir / "custom" / "-".join(trained)
        return out
