"""MLflow tracking: a local sqlite store by default, runs that record their provenance,
models logged with signature and input example, and the registry alias ``champion``.

Nothing is configured at import: :func:`configure` sets the tracking URI when a command
starts. ``MLFLOW_TRACKING_URI`` points everything at a server instead.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
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
from urllib.parse import urlparse

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
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
