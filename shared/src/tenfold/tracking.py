"""MLflow tracking: a local sqlite store by default, runs that record their provenance,
models logged with signature and input example, and the registry alias ``champion``.

Nothing is configured at import: :func:`configure` sets the tracking URI when a command
starts. ``MLFLOW_TRACKING_URI`` points everything at a server instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.metadata
import logging
import os
import platform
import re
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.models import infer_signature

from tenfold import paths
from tenfold.data import DataError, DataSource, sha256_file

log = logging.getLogger("tenfold.tracking")

CHAMPION = "champion"
# Libraries whose versions are recorded on every run (the ones installed, at least).
TRACKED_LIBRARIES = (
    "numpy",
    "pandas",
    "scikit-learn",
    "scipy",
    "xgboost",
    "lightgbm",
    "optuna",
    "mlflow",
    "shap",
    "imbalanced-learn",
    "mapie",
    "sentence-transformers",
    "torch",
    "tenfold",
)


def tracking_uri() -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{(paths.state_dir() / 'mlflow.db').as_posix()}"


def configure() -> str:
    """Point MLflow at the store (creating the local folder if that is where it lives)."""
    uri = tracking_uri()
    if uri.startswith("sqlite:"):
        paths.state_dir().mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    # per-file download bars drown the command's own progress output
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # The registry uses the same store unless told otherwise.
    mlflow.set_registry_uri(os.environ.get("MLFLOW_REGISTRY_URI", uri))
    for noisy in ("mlflow", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # Expected on every model we log: cloudpickle is chosen on purpose (see
    # log_sklearn_model), and uv environments have no pip whose version could be pinned.
    for expected in ("mlflow.sklearn", "mlflow.utils.environment"):
        logging.getLogger(expected).setLevel(logging.ERROR)
    return uri


def ensure_experiment(name: str) -> str:
    """The experiment's id; a new local experiment stores artifacts beside the sqlite db."""
    client = MlflowClient()
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        return str(existing.experiment_id)
    location = None
    if tracking_uri().startswith("sqlite:"):
        location = (paths.state_dir() / "artifacts" / name).resolve().as_uri()
    return str(client.create_experiment(name, artifact_location=location))


# --------------------------------------------------------------------------- provenance


def git_sha(root: Path | None = None) -> tuple[str, bool]:
    """HEAD's sha and whether the work tree has uncommitted changes ("unknown" outside git)."""
    root = root or paths.repo_root()
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
            timeout=5,
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain"],
                cwd=root,
                capture_output=True,
                text=True,
                timeout=5,
            ).stdout.strip()
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return sha, dirty


def lock_hash(root: Path | None = None) -> str:
    lock = (root or paths.repo_root()) / "uv.lock"
    return sha256_file(lock) if lock.is_file() else "unknown"


def library_versions(names: Sequence[str] = TRACKED_LIBRARIES) -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in names:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[name] = importlib.metadata.version(name)
    return versions


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


def provenance_tags(data: DataSource | None, seed: int | None) -> dict[str, str]:
    sha, dirty = git_sha()
    tags = {
        "tenfold.git_sha": sha,
        "tenfold.git_dirty": str(dirty).lower(),
        "tenfold.uv_lock_sha256": lock_hash(),
    }
    if seed is not None:
        tags["tenfold.seed"] = str(seed)
    for lib, version in library_versions().items():
        tags[f"version.{lib}"] = version
    if data is not None:
        tags.update(data.as_tags())
    return tags


# --------------------------------------------------------------------------- runs


@contextlib.contextmanager
def start_run(
    experiment: str,
    run_name: str,
    *,
    config: Any = None,
    data: DataSource | None = None,
    seed: int | None = None,
    tags: Mapping[str, str] | None = None,
    nested: bool = False,
) -> Iterator[mlflow.ActiveRun]:
    """A run that records config, git SHA, lock hash, data provenance, seed and versions.

    Nested runs (one per candidate model) inherit provenance from their parent's tags
    and only log what differs.
    """
    if not nested:
        configure()
        mlflow.set_experiment(experiment_id=ensure_experiment(experiment))
    all_tags = dict(tags or {})
    if not nested:
        all_tags.update(provenance_tags(data, seed))
    with mlflow.start_run(run_name=run_name, nested=nested, tags=all_tags) as run:
        if config is not None:
            params = {k: _param(v) for k, v in flatten(config).items()}
            mlflow.log_params(params)
        if data is not None and not nested:
            mlflow.log_text(data.describe() + "\n", "data_source.txt")
        yield run


def _param(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


_INVALID_NAME = re.compile(r"[^A-Za-z0-9_\-. :/]")


def metric_name(key: str) -> str:
    """MLflow allows letters, digits and ``_-. :/``: ``lift@10%`` becomes ``lift_at_10pct``."""
    return _INVALID_NAME.sub("_", key.replace("@", "_at_").replace("%", "pct"))


def numeric_leaves(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float]:
    """The numeric leaves of a (nested) mapping, under MLflow-safe names."""
    return {
        metric_name(f"{prefix}{key}"): float(value)
        for key, value in flatten(metrics).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    }


def log_metrics(metrics: Mapping[str, Any], prefix: str = "") -> None:
    """Log the numeric leaves of a (nested) mapping; non-numbers are skipped."""
    flat = numeric_leaves(metrics, prefix)
    if flat:
        mlflow.log_metrics(flat)


def pinned_requirements(packages: Sequence[str]) -> list[str]:
    """Exact pins for the model's environment, read from what is installed.

    Passing them explicitly skips MLflow's requirement inference, which loads the model
    in a subprocess and costs seconds per logged model.
    """
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return pins


@dataclass(frozen=True)
class LoggedModel:
    model_uri: str
    run_id: str
    registered_version: str | None


def log_sklearn_model(
    model: Any,
    *,
    input_example: pd.DataFrame,
    requirements: Sequence[str],
    name: str = "model",
    output_example: Any = None,
    registered_model_name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> LoggedModel:
    """Log a fitted estimator with its signature and an input example.

    ``output_example`` defaults to ``predict_proba`` (classifiers) or ``predict`` on the
    example. Serialised with cloudpickle: skops cannot rebuild the projects' own
    transformers without listing each as trusted.
    """
    if output_example is None:
        output_example = (
            model.predict_proba(input_example)
            if hasattr(model, "predict_proba")
            else model.predict(input_example)
        )
    # Integer columns become doubles in the signature: an int column cannot hold a missing
    # value, and a client sending one would otherwise fail schema enforcement.
    ints = input_example.select_dtypes("integer").columns
    input_example = input_example.astype(dict.fromkeys(ints, "float64"))
    signature = infer_signature(input_example, output_example)
    info = mlflow.sklearn.log_model(
        model,
        name=name,
        signature=signature,
        input_example=input_example,
        pip_requirements=pinned_requirements(["mlflow", "scikit-learn", *requirements]),
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        registered_model_name=registered_model_name,
        metadata=dict(metadata or {}),
    )
    version = info.registered_model_version
    return LoggedModel(
        info.model_uri, str(info.run_id), str(version) if version is not None else None
    )


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True)
class ModelRecord:
    """A loaded model and what the serving layer reports about it."""

    model: Any
    uri: str
    name: str
    version: str | None
    run_id: str | None
    trained_at: str | None
    metrics: dict[str, float]
    metadata: dict[str, Any]


def load_sklearn_model(uri: str) -> ModelRecord:
    """Load a model by registry URI (``models:/churn@champion``) or local path.

    Deserialising runs code from the artifact; MLflow therefore refuses it unless
    ``MLFLOW_ALLOW_PICKLE_DESERIALIZATION`` is set. We set it for this call only: the
    models we load are ones our own training wrote to our own store.
    """
    configure()
    previous = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    try:
        model = mlflow.sklearn.load_model(uri)
        info = mlflow.models.get_model_info(uri)
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)
        else:
            os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = previous
    name, version = _registry_coordinates(uri)
    run_id = info.run_id
    metrics: dict[str, float] = {}
    if run_id:
        with contextlib.suppress(Exception):
            metrics = dict(MlflowClient().get_run(run_id).data.metrics)
    return ModelRecord(
        model=model,
        uri=uri,
        name=name or Path(uri).name,
        version=version,
        run_id=run_id,
        trained_at=str(info.utc_time_created) if info.utc_time_created else None,
        metrics=metrics,
        metadata=dict(info.metadata or {}),
    )


def _registry_coordinates(uri: str) -> tuple[str | None, str | None]:
    """(name, version) for ``models:/name@alias``, ``models:/name/3``, or a folder exported
    from the registry (MLflow writes ``registered_model_meta`` beside the model)."""
    if not uri.startswith("models:/"):
        meta = Path(uri) / "registered_model_meta"
        if meta.is_file():
            import yaml

            found = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
            version = found.get("model_version")
            return found.get("model_name"), None if version is None else str(version)
        return None, None
    ref = uri.removeprefix("models:/")
    client = MlflowClient()
    if "@" in ref:
        name, alias = ref.split("@", 1)
        return name, str(client.get_model_version_by_alias(name, alias).version)
    if "/" in ref:
        name, version = ref.split("/", 1)
        return name, version
    return None, None


def latest_run(experiment: str, *, filter_string: str = "") -> Any:
    """The newest run of an experiment matching ``filter_string``, or None."""
    configure()
    found = MlflowClient().get_experiment_by_name(experiment)
    if found is None:
        return None
    runs = MlflowClient().search_runs(
        [found.experiment_id],
        filter_string=filter_string,
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def register(
    model_uri: str,
    model_name: str,
    *,
    alias: str = CHAMPION,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Register ``model_uri`` as a new version of ``model_name`` and point ``alias`` at it."""
    version = mlflow.register_model(model_uri, model_name, tags=dict(tags or {}))
    MlflowClient().set_registered_model_alias(model_name, alias, str(version.version))
    return str(version.version)


def log_metrics_to(run_id: str, metrics: Mapping[str, Any], prefix: str = "") -> None:
    """Add metrics to a finished run (e.g. test scores computed by a later stage)."""
    client = MlflowClient()
    for key, value in numeric_leaves(metrics, prefix).items():
        client.log_metric(run_id, key, value)


# --------------------------------------------------------------------------- read-back


@dataclass(frozen=True)
class TrainingRun:
    """A parent "train" run and its nested runs, for a later ``evaluate`` stage."""

    parent: Any
    children: list[Any]

    def stage(self, name: str) -> list[Any]:
        return [c for c in self.children if c.data.tags.get("tenfold.stage") == name]


def latest_training(experiment: str, *, data: DataSource, seed: int) -> TrainingRun:
    """The newest run tagged ``tenfold.stage=train`` with its nested runs.

    It must have been trained on the same data bytes and seed as the caller's, or rows the
    caller treats as test could have been training rows: that is a :class:`DataError`.
    """
    parent = latest_run(experiment, filter_string="tags.`tenfold.stage` = 'train'")
    if parent is None:
        raise DataError(f"no training run in experiment {experiment!r}; run `train` first")
    trained_on = {
        k.removeprefix("data.sha256."): v
        for k, v in parent.data.tags.items()
        if k.startswith("data.sha256.")
    }
    if trained_on != dict(data.sha256) or parent.data.params.get("seed") != str(seed):
        raise DataError(
            "the latest training used other data or another seed; run `train` "
            "again before `evaluate`"
        )
    children = MlflowClient().search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    return TrainingRun(parent, list(children))


@dataclass(frozen=True)
class LoggedCandidate:
    """A candidate model read back from its nested run."""

    name: str
    run_id: str
    model_uri: str
    record: ModelRecord
    params: dict[str, Any]
    artifacts: dict[str, str]
    metric_history: dict[str, list[float]]


def load_candidate(
    run: Any, *, text_artifacts: Sequence[str] = (), histories: Sequence[str] = ()
) -> LoggedCandidate:
    """Load the model a candidate run logged (tag ``tenfold.model_uri``), its params typed
    from the model itself (MLflow keeps params as strings), some text artifacts and the
    steps of some metrics (e.g. per-fold scores)."""
    tags = run.data.tags
    record = load_sklearn_model(tags["tenfold.model_uri"])
    model = record.model
    estimator = model.named_steps.get("model", model) if hasattr(model, "named_steps") else model
    typed = estimator.get_params() if hasattr(estimator, "get_params") else {}
    params = {k: typed.get(k, v) for k, v in run.data.params.items()}
    run_id = run.info.run_id
    client = MlflowClient()
    return LoggedCandidate(
        name=tags["tenfold.candidate"],
        run_id=run_id,
        model_uri=tags["tenfold.model_uri"],
        record=record,
        params=params,
        artifacts={a: mlflow.artifacts.load_text(f"runs:/{run_id}/{a}") for a in text_artifacts},
        metric_history={
            m: [p.value for p in client.get_metric_history(run_id, m)] for m in histories
        },
    )


def log_candidate(
    experiment: str,
    name: str,
    model: Any,
    *,
    input_example: pd.DataFrame,
    requirements: Sequence[str],
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, Any] | None = None,
    fold_metrics: Mapping[str, Sequence[float]] | None = None,
    text_artifacts: Mapping[str, str] | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> LoggedModel:
    """A nested run for one candidate model, in the shape :func:`load_candidate` reads back.

    Call it inside a parent run. Tags ``tenfold.stage=candidate``, ``tenfold.candidate``
    and ``tenfold.model_uri``; params; metrics (numeric leaves); per-fold scores as the
    steps of one metric each (``fold_metrics``); text artifacts; the model with its
    signature, input example and ``metadata``.
    """
    with start_run(
        experiment,
        name,
        nested=True,
        tags={"tenfold.stage": "candidate", "tenfold.candidate": name},
    ):
        if params:
            mlflow.log_params({k: _param(v) for k, v in params.items()})
        for key, scores in (fold_metrics or {}).items():
            for step, score in enumerate(scores):
                mlflow.log_metric(metric_name(key), float(score), step=step)
        if metrics:
            log_metrics(metrics)
        for artifact, text in (text_artifacts or {}).items():
            mlflow.log_text(text, artifact)
        logged = log_sklearn_model(
            model, input_example=input_example, requirements=requirements, metadata=metadata
        )
        mlflow.set_tag("tenfold.model_uri", logged.model_uri)
        return logged


@contextlib.contextmanager
def training_run(
    experiment: str, *, config: Any, data: DataSource, seed: int
) -> Iterator[mlflow.ActiveRun]:
    """The parent run of a training (tag ``tenfold.stage=train``): what
    :func:`latest_training` finds again for a later ``evaluate`` stage."""
    with start_run(
        experiment,
        "train",
        config=config,
        data=data,
        seed=seed,
        tags={"tenfold.stage": "train"},
    ) as run:
        yield run


def model_name_for(model_name: str, data_path: Path | None) -> str:
    """The registered name of a model: ``model_name`` for the project's own dataset,
    ``<model_name>-<file stem>`` for a user's CSV, which so never replaces the champion."""
    return model_name if data_path is None else f"{model_name}-{data_path.stem}"


def register_champion(
    candidate: str, model_uri: str, model_name: str, *, tags: Mapping[str, str] | None = None
) -> str:
    """Record ``candidate`` as the active training run's champion (tag
    ``tenfold.champion``) and register its model with the alias ``champion``."""
    mlflow.set_tag("tenfold.champion", candidate)
    return register(model_uri, model_name, tags={"candidate": candidate, **(tags or {})})


def log_artifacts_to(run_id: str, files: Sequence[Path], artifact_path: str | None = None) -> None:
    """Attach files to a run (e.g. the reports a later stage wrote for a training run)."""
    client = MlflowClient()
    for file in files:
        client.log_artifact(run_id, str(file), artifact_path)
