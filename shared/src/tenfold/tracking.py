"""MLflow tracking: a local sqlite store by default, runs that record their provenance,
models logged with signature and input example, trainings logged and read back by run id.

Nothing is configured at import: :func:`configure` sets the tracking URI when a command
starts. ``MLFLOW_TRACKING_URI`` points everything at a server instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import io
import json
import logging
import os
import platform
import re
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlparse

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from tenfold import paths
from tenfold.data import DataError, DataSource, sha256_file
from tenfold.training import (
    Candidate,
    Evaluation,
    ProjectConfig,
    TrainResult,
    flatten,
)
from tenfold.training import param_text as _param

if TYPE_CHECKING:
    from tenfold.tuning import TuningResult

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
#
# A model folder is a pickle, and unpickling runs code: only models of the configured
# tracking store (``models:/`` and ``runs:/`` URIs) are loaded as they are; a folder on
# disk only when its sha256 is one the registry recorded when it was exported
# (:func:`export_model`) or the one ``TENFOLD_MODEL_SHA256`` pins (an image without a
# registry, the hash set at build time). Everything else is refused.

EXPORT_SHA256_TAG = "tenfold.export_sha256"
MODEL_SHA256_ENV = "TENFOLD_MODEL_SHA256"


class ModelLoadError(DataError):
    """A model that cannot be loaded; the message says which and what to do."""

    def __init__(self, uri: str, reason: str) -> None:
        super().__init__(f"cannot load {uri}: {reason}")
        self.uri = uri
        self.reason = reason


class UntrustedModel(ModelLoadError):
    """A model folder whose hash no one recorded: loading it could run planted code."""


class IncompatibleModel(ModelLoadError, RuntimeError):
    """A model that loads but is not one this service can serve (e.g. trained on a
    user's CSV). A RuntimeError too, as callers caught it before it had its own type."""


T = TypeVar("T")

# what a service with a fixed schema says of a model trained on a user's own CSV
CUSTOM_CSV = "it was trained on a custom CSV; the API serves the {schema} schema"


def refuse_if(predictor: T, uri: str, refused: bool, reason: str) -> T:
    """``predictor``, unless ``refused``: then :class:`IncompatibleModel` with ``reason``
    (a service's loader checks what the model was trained on, e.g. a user's CSV, before
    it serves requests in its own schema)."""
    if refused:
        raise IncompatibleModel(uri, reason)
    return predictor


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
    """Load a model by registry URI (``models:/churn@champion``), run URI or exported
    folder, refusing any folder whose hash was not recorded (see above).

    Every failure is one :class:`ModelLoadError` line: a model that is not registered
    yet, a folder that is not trusted, a truncated or empty pickle, a missing library.
    """
    configure()
    folder = _local_folder(uri)
    if folder is not None:
        verify_folder(folder)
    previous = os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION")
    # MLflow refuses pickles unless told: allowed for this call only, after the checks
    os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = "true"
    try:
        # an alias is resolved once, so the version reported is the version loaded
        name, version = _registry_coordinates(uri)
        source = f"models:/{name}/{version}" if uri.startswith("models:/") and version else uri
        info = mlflow.models.get_model_info(source)
        model = mlflow.sklearn.load_model(source)
    except MlflowException as exc:
        raise _not_found(uri, exc) from None
    except ImportError as exc:
        raise ModelLoadError(
            uri, f"it needs {exc.name or exc}, which is not installed in this environment"
        ) from None
    except Exception as exc:  # a pickle raises anything (EOFError, UnpicklingError, ...)
        raise ModelLoadError(
            uri,
            f"the model file is truncated or corrupt ({type(exc).__name__}: "
            f"{_first_line(exc) or 'no data'}); export or train it again",
        ) from None
    finally:
        if previous is None:
            os.environ.pop("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", None)
        else:
            os.environ["MLFLOW_ALLOW_PICKLE_DESERIALIZATION"] = previous
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


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "message", None) or exc).strip()
    return text.splitlines()[0] if text else ""


def _local_folder(uri: str) -> Path | None:
    """The folder a URI names, None for a URI of the tracking store; any other scheme
    (another registry, s3://, http://) is refused."""
    parsed = urlparse(uri)
    if parsed.scheme in ("models", "runs"):
        if parsed.netloc:
            raise UntrustedModel(
                uri, "it names another registry; serve models of the configured store only"
            )
        return None
    if parsed.scheme == "file":
        return Path(parsed.path)
    if parsed.scheme == "" or len(parsed.scheme) == 1:  # a path (or a Windows drive)
        return Path(uri)
    raise UntrustedModel(
        uri,
        f"only models:/ and runs:/ URIs of the tracking store ({tracking_uri()}) or an "
        "exported model folder are loaded",
    )


def folder_sha256(folder: Path) -> str:
    """One sha256 over every file of a folder: its relative path and its content's hash,
    in sorted order (what :func:`export_model` records and ``TENFOLD_MODEL_SHA256`` pins)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        relative = path.relative_to(folder).as_posix()
        digest.update(f"{relative}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def verify_folder(folder: Path) -> str:
    """Why ``folder`` may be unpickled (its hash is pinned or recorded), else raise
    :class:`UntrustedModel` naming the folder and what to do."""
    uri = str(folder)
    if not folder.is_dir():
        raise ModelLoadError(uri, "no such model folder")
    digest = folder_sha256(folder)
    pinned = os.environ.get(MODEL_SHA256_ENV, "").strip().lower()
    if pinned:
        if pinned == digest:
            return f"{MODEL_SHA256_ENV} pins it"
        raise UntrustedModel(
            uri,
            f"its sha256 is {digest}, not the {MODEL_SHA256_ENV} it is pinned to ({pinned}): "
            "it changed since it was exported; export it again and pin the new hash",
        )
    name, version = _registry_coordinates(uri)
    if name and version:
        recorded = None
        with contextlib.suppress(MlflowException):
            recorded = MlflowClient().get_model_version(name, version).tags.get(EXPORT_SHA256_TAG)
        if recorded == digest:
            return f"the registry recorded it for {name} version {version}"
    raise UntrustedModel(
        uri,
        "refused: a model folder is a pickle (loading it runs its code) and no registry "
        "recorded this one's hash. Serve models:/<name>@champion, or export it with "
        f"`python -m tenfold export-model models:/<name>@champion {folder}` (records the "
        f"hash); without a registry, set {MODEL_SHA256_ENV} to the hash export-model printed",
    )


def _not_found(uri: str, exc: MlflowException) -> ModelLoadError:
    """The one line for a model the store does not have (yet)."""
    parsed = urlparse(uri)
    ref = parsed.path.lstrip("/")
    name, _, alias = ref.partition("@")
    if parsed.scheme != "models" or not alias:
        return ModelLoadError(uri, _first_line(exc))
    hint = f"train and register {name} first"
    if (paths.repo_root() / "projects" / name / "pyproject.toml").is_file():
        hint = f"run `make {name}`"
    others: list[str] = []
    with contextlib.suppress(MlflowException):
        others = [
            m.name
            for m in MlflowClient().search_registered_models()
            if m.name.startswith(f"{name}-") and alias in (m.aliases or {})
        ]
    also = ""
    if others:
        choices = ", ".join(f"models:/{o}@{alias}" for o in sorted(others))
        also = f" (the registry has {choices}: serve one with --model-uri)"
    return ModelLoadError(uri, f"no {name}@{alias} yet: {hint}{also}")


def registered_version(uri: str) -> str | None:
    """The version a ``models:/<name>@<alias>`` URI points at now (None for any other
    URI): what a running service polls to pick up a new champion."""
    parsed = urlparse(uri)
    if parsed.scheme != "models" or "@" not in parsed.path:
        return None
    name, alias = parsed.path.lstrip("/").split("@", 1)
    return str(MlflowClient().get_model_version_by_alias(name, alias).version)


def _registry_coordinates(uri: str) -> tuple[str | None, str | None]:
    """(name, version) for ``models:/name@alias``, ``models:/name/3``, or a folder exported
    from the registry (MLflow writes ``registered_model_meta`` beside the model)."""
    if not uri.startswith("models:/"):
        meta = Path(uri) / "registered_model_meta"
        if meta.is_file():
            import yaml

            found = yaml.safe_load(meta.read_text(encoding="utf-8")) or {}
            if not isinstance(found, dict):
                return None, None
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


@dataclass(frozen=True)
class ExportedModel:
    """A registered model version copied out of the store, and the hash recorded for it."""

    path: Path
    name: str
    version: str
    sha256: str


def export_model(uri: str, output: Path) -> ExportedModel:
    """Copy ``models:/<name>@<alias>`` (or ``/<version>``) into an empty folder and record
    the folder's sha256 on that model version (tag ``tenfold.export_sha256``), so that
    :func:`load_sklearn_model` accepts the folder and nothing planted in it."""
    configure()
    parsed = urlparse(uri)
    ref = parsed.path.lstrip("/")
    if parsed.scheme != "models" or parsed.netloc or not ("@" in ref or "/" in ref):
        raise ModelLoadError(
            uri, "export takes a registered model: models:/<name>@<alias> or models:/<name>/<n>"
        )
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise ModelLoadError(
            uri, f"{output} exists and is not an empty folder: export into a new one"
        )
    try:
        name, version = _registry_coordinates(uri)
        if name is None or version is None:
            raise ModelLoadError(uri, "not a registered model version")
        output.mkdir(parents=True, exist_ok=True)
        path = Path(
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{name}/{version}", dst_path=str(output)
            )
        )
    except MlflowException as exc:
        raise _not_found(uri, exc) from None
    digest = folder_sha256(path)
    MlflowClient().set_model_version_tag(name, version, EXPORT_SHA256_TAG, digest)
    return ExportedModel(path=path, name=name, version=version, sha256=digest)


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
    flat = numeric_leaves(metrics, prefix)
    if flat:
        timestamp = int(time.time() * 1000)
        MlflowClient().log_batch(
            run_id, metrics=[Metric(key, value, timestamp, 0) for key, value in flat.items()]
        )


def log_artifacts_to(run_id: str, files: Sequence[Path], artifact_path: str | None = None) -> None:
    """Attach files to a run (e.g. the reports a later stage wrote for a training run)."""
    client = MlflowClient()
    for file in files:
        client.log_artifact(run_id, str(file), artifact_path)


# --------------------------------------------------------------------------- trainings
#
# A training is one parent run (tag ``tenfold.stage=train``) with a nested run per
# candidate (``candidate``) and per Optuna study (``tuning``). What `log_training` writes,
# `read_training` reads back, by run id: never "the newest run", which is whichever
# training finished last once flows run on a schedule.

PARAMS_ARTIFACT = "params.json"
OOF_ARTIFACT = "oof_predictions.csv"


def inputs_sha256(config: ProjectConfig, source: DataSource) -> str:
    """A training's identity: what it was trained with (config, without output folders)
    and on (the data's bytes). Two trainings with the same identity are interchangeable."""
    payload = json.dumps(
        {
            "config": config.training_inputs(),
            "dataset": source.dataset,
            "sha256": dict(sorted(source.sha256.items())),
        },
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def log_training(
    result: TrainResult[Any, Any],
    *,
    config: ProjectConfig,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Log a training to MLflow and return its run id (also set on ``result``).

    The parent run records the config, data provenance, seed and the training's identity
    (``tenfold.inputs_sha256``), the best candidate (``tenfold.best``) and every
    candidate's CV score; a nested run per Optuna study holds its trials, and one per
    candidate (:func:`log_candidate`) its model. Each candidate gets its run id and URI.
    """
    experiment = config.experiment
    all_tags = {
        "tenfold.stage": "train",
        "tenfold.inputs_sha256": inputs_sha256(config, result.source),
        "tenfold.best": result.best_name,
        "tenfold.candidates": ",".join(result.candidates),
        **(tags or {}),
    }
    with start_run(
        experiment, "train", config=config, data=result.source, seed=config.seed, tags=all_tags
    ) as parent:
        for candidate in result.candidates.values():
            if candidate.tuning is not None:
                _log_tuning(experiment, candidate.name, candidate.tuning)
            log_candidate(experiment, candidate, input_example=result.input_example)
        log_metrics({f"cv_{c.metric}.{n}": c.cv_score for n, c in result.candidates.items()})
        run_id = str(parent.info.run_id)
    result.run_id = run_id
    return run_id


def _log_tuning(experiment: str, name: str, tuning: TuningResult) -> None:
    """A nested run for a candidate's Optuna study: trial scores as the steps of one
    metric, the summary, the trial table and the optimisation history."""
    from tenfold.tuning import log_study

    with start_run(
        experiment,
        f"optuna_{name}",
        nested=True,
        tags={"tenfold.stage": "tuning", "tenfold.candidate": name},
    ) as run:
        trials = tuning.trials
        done = trials[(trials["state"] == "COMPLETE") & trials["value"].notna()]
        timestamp = int(time.time() * 1000)
        scores = [
            Metric("trial_score", float(value), timestamp, int(number))
            for number, value in zip(done["number"], done["value"], strict=True)
        ]
        if scores:
            MlflowClient().log_batch(run.info.run_id, metrics=scores)
        log_study(tuning, name)


def log_candidate(
    experiment: str, candidate: Candidate, *, input_example: pd.DataFrame
) -> LoggedModel:
    """A nested run for one candidate, in the shape :func:`read_training` reads back.

    Call it inside a parent run. Tags ``tenfold.stage=candidate``, ``tenfold.candidate``,
    ``tenfold.metric`` and ``tenfold.model_uri``; the params (as params, and typed in
    ``params.json``); the CV score, its spread and the per-fold scores (the steps of
    ``cv_<metric>_fold``); the candidate's own metrics; its out-of-fold predictions; the
    model with its signature, input example and metadata.
    """
    metric = candidate.metric
    with start_run(
        experiment,
        candidate.name,
        nested=True,
        tags={
            "tenfold.stage": "candidate",
            "tenfold.candidate": candidate.name,
            "tenfold.metric": metric,
        },
    ):
        if candidate.params:
            mlflow.log_params({k: _param(v) for k, v in candidate.params.items()})
        mlflow.log_text(
            json.dumps(candidate.params, sort_keys=True, default=_plain), PARAMS_ARTIFACT
        )
        for step, score in enumerate(candidate.fold_scores):
            mlflow.log_metric(metric_name(f"cv_{metric}_fold"), float(score), step=step)
        log_metrics(
            {f"cv_{metric}": candidate.cv_score, f"cv_{metric}_std": candidate.cv_std}
            | candidate.metrics
        )
        mlflow.log_text(candidate.oof.to_csv(index=False), OOF_ARTIFACT)
        logged = log_sklearn_model(
            candidate.model,
            input_example=input_example,
            requirements=candidate.requirements,
            metadata=candidate.metadata,
        )
        mlflow.set_tag("tenfold.model_uri", logged.model_uri)
    candidate.run_id, candidate.model_uri = logged.run_id, logged.model_uri
    return logged


def _plain(value: Any) -> Any:
    """numpy scalars as Python numbers (for ``json.dumps``)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


@dataclass(frozen=True)
class LoggedTraining:
    """A training read back from MLflow: its run id and tags, the name of its best
    candidate and every candidate (model loaded, params typed, out-of-fold predictions,
    per-fold scores, tuning summary)."""

    run_id: str
    best_name: str
    candidates: dict[str, Candidate]
    tags: dict[str, str]


def read_training(
    config: ProjectConfig, source: DataSource, *, run_id: str | None = None
) -> LoggedTraining:
    """The training run ``run_id`` of ``config.experiment`` with its candidates, for a
    separate ``evaluate`` stage.

    It must have finished, and have been trained with the same config and the same data
    bytes as the caller's, or rows the caller treats as test could have been training
    rows: anything else is a :class:`DataError` naming the difference. Without
    ``run_id``: the newest *finished* training with exactly these inputs
    (:func:`inputs_sha256`), so a training still running, or one of other options or
    data, is never picked up.
    """
    configure()
    client = MlflowClient()
    parent = (
        _newest_training(client, config, source)
        if run_id is None
        else _training_run(client, run_id, config, source)
    )
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    tunings = {
        run.data.tags["tenfold.candidate"]: _tuning_summary(run)
        for run in children
        if run.data.tags.get("tenfold.stage") == "tuning"
    }
    candidates = {
        run.data.tags["tenfold.candidate"]: _read_candidate(
            client, run, tunings.get(run.data.tags["tenfold.candidate"])
        )
        for run in children
        if run.data.tags.get("tenfold.stage") == "candidate"
    }
    tags = dict(parent.data.tags)
    expected = [n for n in tags.get("tenfold.candidates", "").split(",") if n]
    missing = [n for n in expected if n not in candidates]
    if missing or not candidates:
        raise DataError(f"training run {parent.info.run_id} lacks candidate(s) {missing}")
    return LoggedTraining(str(parent.info.run_id), tags["tenfold.best"], candidates, tags)


def _newest_training(client: MlflowClient, config: ProjectConfig, source: DataSource) -> Any:
    experiment = client.get_experiment_by_name(config.experiment)
    runs = (
        []
        if experiment is None
        else client.search_runs(
            [experiment.experiment_id],
            filter_string=(
                f"tags.`tenfold.inputs_sha256` = '{inputs_sha256(config, source)}' "
                "and attributes.status = 'FINISHED'"
            ),
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
    )
    if not runs:
        raise DataError(
            f"no finished training with these options and data in experiment "
            f"{config.experiment!r}: run `train` with the same options first, or pass --run-id"
        )
    log.info(
        "evaluating training run %s (the newest finished one of these inputs)", runs[0].info.run_id
    )
    return runs[0]


def _training_run(
    client: MlflowClient, run_id: str, config: ProjectConfig, source: DataSource
) -> Any:
    """Run ``run_id``, checked to be a finished training of ``config`` on ``source``."""
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise DataError(f"no MLflow run {run_id!r} in {tracking_uri()}") from None
    if run.data.tags.get("tenfold.stage") != "train":
        raise DataError(f"run {run_id} is not a training run (no tag tenfold.stage=train)")
    experiment = client.get_experiment(run.info.experiment_id).name
    if experiment != config.experiment:
        raise DataError(
            f"run {run_id} is a training of experiment {experiment!r}, not "
            f"{config.experiment!r}: pass the options it was trained with"
        )
    if run.info.status != "FINISHED":
        raise DataError(f"training run {run_id} has not finished (status {run.info.status})")
    trained_on = {
        k.removeprefix("data.sha256."): v
        for k, v in run.data.tags.items()
        if k.startswith("data.sha256.")
    }
    if trained_on != dict(source.sha256):
        raise DataError(
            f"training run {run_id} was trained on other data (sha256 {trained_on}, these "
            f"rows: {dict(source.sha256)}): its test rows could be training rows here"
        )
    differs = {
        key: (run.data.params.get(key), value)
        for key, value in config.training_inputs().items()
        if run.data.params.get(key) != value
    }
    if differs:
        shown = ", ".join(f"{k}={was} (now {now})" for k, (was, now) in sorted(differs.items()))
        raise DataError(
            f"training run {run_id} was trained with {shown}: pass the options it was trained with"
        )
    return run


def _tuning_summary(run: Any) -> TuningResult:
    """What evaluation reports of a study (its trial table stays an artifact)."""
    from tenfold.tuning import TuningResult

    metrics = run.data.metrics
    return TuningResult(
        {},
        metrics["tuning_best_cv_score"],
        int(metrics["tuning_trials"]),
        int(metrics["tuning_pruned"]),
        pd.DataFrame(),
    )


def _read_candidate(client: MlflowClient, run: Any, tuning: TuningResult | None) -> Candidate:
    tags = run.data.tags
    run_id = run.info.run_id
    metric = tags["tenfold.metric"]
    record = load_sklearn_model(tags["tenfold.model_uri"])
    history = client.get_metric_history(run_id, metric_name(f"cv_{metric}_fold"))
    oof = mlflow.artifacts.load_text(f"runs:/{run_id}/{OOF_ARTIFACT}")
    return Candidate(
        name=tags["tenfold.candidate"],
        model=record.model,
        params=json.loads(mlflow.artifacts.load_text(f"runs:/{run_id}/{PARAMS_ARTIFACT}")),
        metric=metric,
        fold_scores=[m.value for m in sorted(history, key=lambda m: m.step)],
        # round_trip: the exact floats that were logged, so thresholds chosen on them match
        oof=pd.read_csv(io.StringIO(oof), float_precision="round_trip"),
        metadata=dict(record.metadata),
        metrics=dict(run.data.metrics),
        tuning=tuning,
        run_id=run_id,
        model_uri=tags["tenfold.model_uri"],
    )


def log_evaluation(
    result: TrainResult[Any, Any], evaluation: Evaluation, written: Sequence[Path]
) -> None:
    """What an evaluation adds to its training run: each candidate's held-out scores on
    its own run (``<split>_<metric>``), ``run_metrics`` and the report files on the parent."""
    if result.run_id is None:
        raise ValueError("log the training (tracking.log_training) before its evaluation")
    models = evaluation.metrics["models"]
    split = evaluation.split
    for name, candidate in result.candidates.items():
        if candidate.run_id is not None:
            log_metrics_to(candidate.run_id, models[name][split], prefix=f"{split}_")
    for key, value in evaluation.run_metrics.items():
        log_metrics_to(result.run_id, value, prefix=f"{key}_")
    log_artifacts_to(result.run_id, written, artifact_path="reports")
