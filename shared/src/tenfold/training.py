"""What every project's training has in common: the config fields they all carry, one
trained candidate model, the result of a training and of its evaluation.

A project's ``train()`` returns a :class:`TrainResult`: candidates, the best of them and
the data they were fitted on. Logging it to MLflow (:func:`tenfold.tracking.log_training`),
registering the best as the ``challenger`` and promoting it past the gate
(:mod:`tenfold.promotion`) are separate steps, so nothing reaches the registry before the
test split has been scored.

Imports nothing heavy: project configs build on :class:`ProjectConfig`, and a CLI's
``--help`` imports the configs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Self, TypeVar

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from tenfold.data import DataSource
    from tenfold.tuning import TuningResult


@dataclass(frozen=True, kw_only=True)
class ProjectConfig:
    """The fields every project's frozen config holds.

    ``promotion_margin`` is how much better than the champion, on the gate's validation
    set and metric, a challenger must score to be promoted (:class:`tenfold.promotion.Gate`).
    """

    seed: int = 42
    experiment: str
    model_name: str
    reports_dir: Path
    # folds fitted in parallel (threads); each model itself uses one thread
    n_jobs: int = 2
    promotion_margin: float = 0.0

    # Where results go and how fast they are computed, not what is trained: left out of a
    # training's identity (:meth:`training_inputs`), so `evaluate` finds a training run
    # whatever its --reports-dir.
    NOT_TRAINING_INPUTS: ClassVar[frozenset[str]] = frozenset(
        {"reports_dir", "n_jobs", "promotion_margin"}
    )

    def training_inputs(self) -> dict[str, str]:
        """The config as flat ``a.b`` keys and text values, without what does not change
        a training: the parameters recorded on its MLflow run, compared on read-back."""
        flat = flatten(self)
        return {
            key: param_text(value)
            for key, value in flat.items()
            if key.split(".")[0] not in self.NOT_TRAINING_INPUTS
        }

    def registered_model_name(self, source: DataSource) -> str:
        """The registry name a training on ``source`` registers under: the project's own
        name only for its own real data (see :func:`model_name_for`)."""
        data_path = getattr(self, "data_path", None)
        return model_name_for(self.model_name, data_path, synthetic=not source.is_real)

    def output_dir(self, result: TrainResult[Any, Any]) -> Path:
        """Where a run's reports go: the published ``reports/`` only for the project's own
        real data, ``custom/<stem>`` for a user's CSV, ``synthetic/`` for the twin."""
        if (data_path := getattr(self, "data_path", None)) is not None:
            return self.reports_dir / "custom" / Path(data_path).stem
        return self.reports_dir if result.source.is_real else self.reports_dir / "synthetic"


def model_name_for(model_name: str, data_path: Path | None, *, synthetic: bool = False) -> str:
    """A registered model name that never collides with the published model:
    ``<model_name>-<file stem>`` for a user's CSV, ``<model_name>-synthetic`` for a model
    trained on a synthetic twin (an offline run), ``model_name`` otherwise."""
    if data_path is not None:
        return f"{model_name}-{Path(data_path).stem}"
    return f"{model_name}-synthetic" if synthetic else model_name


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dataclasses / mappings as ``a.b.c`` keys (MLflow params are flat)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}{key}."))
        return out
    if isinstance(value, Path):
        value = value.as_posix()
    return {prefix.rstrip("."): value}


def param_text(value: Any) -> str:
    """A value as MLflow keeps a param: text, at most 6,000 characters."""
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


# --------------------------------------------------------------------------- candidates


@dataclass(kw_only=True)
class Candidate:
    """One model a training fitted and scored by cross-validation on its training rows.

    ``metric`` names the CV score (``roc_auc`` → ``cv_roc_auc`` on its MLflow run);
    ``oof`` holds the out-of-fold predictions the project needs again later (thresholds,
    blends), logged as ``oof_predictions.csv``. ``metadata`` is saved with the model (the
    serving layer reads it back), ``metrics`` are more numbers for its run, and a project
    keeps what is its own (churn's value curve) in a subclass's fields.
    ``run_id`` and ``model_uri`` are set once the candidate is logged.
    """

    name: str
    model: Any
    params: dict[str, Any]
    metric: str
    fold_scores: list[float]
    oof: pd.DataFrame
    requirements: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tuning: TuningResult | None = None
    run_id: str | None = None
    model_uri: str | None = None

    @property
    def cv_score(self) -> float:
        """The mean CV score over the folds."""
        import numpy as np

        return float(np.mean(self.fold_scores))

    @property
    def cv_std(self) -> float:
        import numpy as np

        return float(np.std(self.fold_scores))

    @classmethod
    def from_candidate(cls, base: Candidate, **fields: Any) -> Self:
        """``base`` (e.g. read back from MLflow) as this subclass, with its own fields."""
        shared = {f.name: getattr(base, f.name) for f in dataclasses.fields(Candidate)}
        return cls(**{**shared, **fields})


C = TypeVar("C", bound=Candidate)
D = TypeVar("D")


@dataclass
class TrainResult(Generic[C, D]):
    """What a training returns: its candidates, the name of the best one (by the project's
    rule, on training data only), the data they were fitted on (``data``: the project's
    prepared inputs and split) and its provenance. ``run_id`` is the MLflow "train" run
    once logged or read back."""

    candidates: dict[str, C]
    best_name: str
    data: D
    source: DataSource
    input_example: pd.DataFrame
    run_id: str | None = None

    @property
    def best(self) -> C:
        return self.candidates[self.best_name]


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """What an ``evaluate`` stage returns: the metrics document (``metrics.json``) with one
    entry per candidate under ``models``, its figures (PNG file name → figure) and more text
    files (name → content). ``split`` names the key of each model's entry holding the
    held-out scores (logged back onto the candidate's run); ``run_metrics`` are logged onto
    the training run."""

    metrics: dict[str, Any]
    figures: dict[str, Figure]
    files: dict[str, str] = field(default_factory=dict)
    split: str = "test"
    run_metrics: dict[str, Any] = field(default_factory=dict)
