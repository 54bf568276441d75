"""The published results: what ``evaluate`` writes to ``reports/`` and registers in
MLflow as a version of ``automl_bench``, what the API serves and ``predict`` looks up.

A publication is a folder: ``metrics.json`` (every profile's document under
``profiles``: per-dataset scores and ranks, the leaderboard, the statistics, the dataset
traits, the failures) and ``<profile>/cells.json`` (every cell reported), beside the
figures. The committed ``reports/`` folder is one; each registered version holds the
same files, so the API can serve either (``models:/automl_bench@champion``, or a folder
such as an image's baked ``reports/``). A publication is JSON: loading one runs no code,
unlike a pickled model, so a folder needs no recorded hash.

A benchmark's product is its comparison, and the registry gives the comparison what it
gives a model: versions, an alias the API follows (a new publication is served without a
restart), the promotion gate (a publication covering fewer cells than the served one,
such as a run on a subset of the datasets, is kept back), the audit history and rollback.

Imports nothing heavy: the serving install has neither pandas' plotting nor MLflow's
server, and the CLI's ``--help`` imports none of it.
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from automl_bench.config import FRAMEWORKS, GREATER_IS_BETTER
from tenfold.errors import DataError

if TYPE_CHECKING:
    from tenfold.serving import ModelCard
    from tenfold.tracking import ModelRecord

METRICS_FILE = "metrics.json"
CELLS_FILE = "cells.json"
ARTIFACT_PATH = "results"
# what a profile's folder publishes: its documents and figures
PUBLISHED_SUFFIXES = (".json", ".png")
CONTENT_TAG = "automl.content_sha256"
# the order profiles are listed in (and the default: the first one published)
PROFILE_ORDER = ("quick", "full", "repro")


class NotPublished(DataError, LookupError):
    """A profile, dataset or framework the publication does not hold; the message lists
    what it does hold (the API answers 404 with it, the CLI one line)."""


def finite(value: Any) -> float | None:
    """A number as JSON can carry it: NaN and infinities (a degenerate statistic) are None."""
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass
class Publication:
    """Published results: each profile's metrics document and cells, and the card the
    service reports on ``/v1/model`` (which version of the results it serves)."""

    documents: dict[str, dict[str, Any]]
    cells: dict[str, list[dict[str, Any]]]
    card: ModelCard

    @property
    def profiles(self) -> list[str]:
        known = [p for p in PROFILE_ORDER if p in self.documents]
        return known + sorted(set(self.documents) - set(known))

    @property
    def default_profile(self) -> str:
        return self.profiles[0]

    @property
    def cells_reported(self) -> int:
        """Grid cells over every profile (the promotion gate's metric)."""
        return sum(int(d["cells"]) for d in self.documents.values())

    @property
    def data_kind(self) -> str:
        kinds = {d["data"]["kind"] for d in self.documents.values()}
        return "real" if kinds == {"real"} else "synthetic"

    # ------------------------------------------------------------------ lookups

    def document(self, profile: str) -> dict[str, Any]:
        if profile not in self.documents:
            raise NotPublished(
                f"profile {profile!r} is not published; published: {', '.join(self.profiles)}"
            )
        return self.documents[profile]

    def datasets(self, profile: str) -> list[str]:
        return sorted({r["dataset"] for r in self.document(profile)["results"]})

    def frameworks(self, profile: str) -> list[str]:
        found = {r["framework"] for r in self.document(profile)["results"]}
        return [f for f in FRAMEWORKS if f in found] + sorted(found - set(FRAMEWORKS))

    def _check_dataset(self, profile: str, dataset: str) -> None:
        names = self.datasets(profile)
        if dataset not in names:
            raise NotPublished(
                f"dataset {dataset!r} is not in the {profile} results; published: "
                f"{', '.join(names)}"
            )

    def _check_framework(self, profile: str, framework: str) -> None:
        names = self.frameworks(profile)
        if framework not in names:
            raise NotPublished(
                f"framework {framework!r} is not in the {profile} results; published: "
                f"{', '.join(names)}"
            )

    def summary(self, profile: str) -> dict[str, Any]:
        """A profile's constraints and outcome in a few numbers."""
        document = self.document(profile)
        spec = document["profile"]
        stats = document["statistics"]
        return {
            "profile": profile,
            "description": spec.get("description", ""),
            "budget": (
                f"{spec['iterations']} iterations"
                if spec.get("iterations")
                else f"{spec['time_budget']:g} s"
            ),
            "folds": int(spec["folds"]),
            "cores_per_job": int(spec["cores"]),
            "memory_gb_per_job": float(spec["memory_gb"]),
            "max_train_rows": spec.get("max_train_rows"),
            "datasets": self.datasets(profile),
            "frameworks": self.frameworks(profile),
            "cells": int(document["cells"]),
            "failed_cells": len(document["failures"]),
            "data": document["data"]["kind"],
            "complete": "incomplete" not in document,
            "friedman_p_value": finite(stats.get("p_value")),
            "critical_difference": finite(stats.get("critical_difference")),
        }

    def leaderboard(self, profile: str) -> list[dict[str, Any]]:
        """Frameworks by mean rank over the datasets (1 = best)."""
        return [
            {
                "framework": row["framework"],
                "mean_rank": finite(row["mean_rank"]),
                "mean_normalised": finite(row["mean_normalised"]),
                "wins": int(row["wins"]),
                "fit_seconds": finite(row["fit_seconds"]),
                "failed_cells": int(row["failed_cells"]),
            }
            for row in self.document(profile)["leaderboard"]
        ]

    def scores(
        self, profile: str, dataset: str, framework: str | None = None
    ) -> list[dict[str, Any]]:
        """Each framework's result on one dataset (mean and sd over the outer folds, its
        rank among the frameworks, its normalised score), best rank first."""
        self._check_dataset(profile, dataset)
        if framework is not None:
            self._check_framework(profile, framework)
        rows = [
            r
            for r in self.document(profile)["results"]
            if r["dataset"] == dataset and framework in (None, r["framework"])
        ]
        if not rows:
            raise NotPublished(f"{framework} has no {profile} result on {dataset}")
        return [
            {
                "profile": profile,
                "dataset": dataset,
                "framework": r["framework"],
                "metric": r["metric"],
                "greater_is_better": GREATER_IS_BETTER[r["metric"]],
                "mean": finite(r["mean"]),
                "std": finite(r["std"]),
                "folds": int(r["folds"]),
                "failed_folds": int(r["failures"]),
                "rank": finite(r["rank"]),
                "normalised": finite(r["normalised"]),
                "fit_seconds": finite(r["fit_seconds"]),
            }
            for r in sorted(rows, key=lambda r: (r["rank"], r["framework"]))
        ]

    def traits(self, profile: str) -> list[dict[str, Any]]:
        """The datasets' traits (rows, features, categorical share, ...)."""
        return [
            {**row, "features": str(row["features"])} for row in self.document(profile)["datasets"]
        ]

    def fold_cells(
        self, profile: str, dataset: str, framework: str | None = None
    ) -> list[dict[str, Any]]:
        """The outer-fold cells behind a dataset's scores (the published holdout too)."""
        self._check_dataset(profile, dataset)
        if framework is not None:
            self._check_framework(profile, framework)
        return [
            {
                "dataset": c["dataset"],
                "framework": c["framework"],
                "fold": "holdout" if c["fold"] < 0 else int(c["fold"]),
                "metric": c["metric"],
                "status": c["status"],
                "score": finite(c["score"]),
                "constant_score": finite(c["constant_score"]),
                "fit_seconds": finite(c["fit_seconds"]),
                "n_train": int(c["n_train"]),
                "n_test": int(c["n_test"]),
                "failure": c.get("failure"),
            }
            for c in self.cells.get(profile, [])
            if c["dataset"] == dataset and framework in (None, c["framework"])
        ]

    def failures(self, profile: str) -> list[dict[str, str]]:
        return [
            {"cell": f["cell"], "failure": str(f["failure"])}
            for f in self.document(profile)["failures"]
        ]

    def telco_holdout(self, profile: str) -> dict[str, Any]:
        held = self.document(profile).get("telco_holdout") or {}
        if not held:
            raise NotPublished(f"the {profile} results have no Telco holdout comparison")
        return {
            "chosen_by_cv": held["chosen_by_cv"],
            "churn_published_roc_auc": float(held["churn_published_roc_auc"]),
            "roc_auc": {f: finite(v) for f, v in held["roc_auc"].items()},
            "status": dict(held["status"]),
        }


# --------------------------------------------------------------------------- reading


def read(folder: Path, card: ModelCard) -> Publication:
    """The publication in ``folder`` (``reports/`` or a downloaded version)."""
    path = folder / METRICS_FILE
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        profiles = document["profiles"]
    except FileNotFoundError:
        raise DataError(f"{folder} holds no {METRICS_FILE}: not a results folder") from None
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"{path}: not a results document ({type(exc).__name__}: {exc})") from None
    if not profiles:
        raise DataError(f"{path} publishes no profile")
    cells = {}
    for name in profiles:
        cells_path = folder / name / CELLS_FILE
        if cells_path.is_file():
            cells[name] = json.loads(cells_path.read_text(encoding="utf-8"))["cells"]
    return Publication(dict(profiles), cells, card)


def _card(**fields: Any) -> ModelCard:
    from tenfold.serving import ModelCard

    return ModelCard(**fields)


def _describe(publication: Publication) -> Publication:
    """The card with what the publication holds (``/v1/model``)."""
    publication.card = publication.card.model_copy(
        update={
            "metrics": {
                f"{p}.{row['framework']}.mean_rank": float(row["mean_rank"])
                for p in publication.profiles
                for row in publication.document(p)["leaderboard"]
                if finite(row["mean_rank"]) is not None
            },
            "details": {
                "profiles": publication.profiles,
                "cells": publication.cells_reported,
                "data": publication.data_kind,
            },
        }
    )
    return publication


def load(uri: str) -> Publication:
    """A publication by registry URI (``models:/automl_bench@champion``,
    ``models:/automl_bench/3``) or folder (``projects/automl-bench/reports``)."""
    if uri.startswith("models:/"):
        return _describe(_from_registry(uri))
    if "://" in uri:
        from tenfold.tracking import ModelLoadError

        raise ModelLoadError(
            uri, "serve models:/<name>@<alias> of the configured store, or a results folder"
        )
    folder = Path(uri).expanduser()
    if not folder.is_dir():
        from tenfold.tracking import ModelLoadError

        raise ModelLoadError(uri, "no such folder (a published results folder, e.g. reports/)")
    # a folder of this project's results (its registry name is not recorded in it)
    return _describe(read(folder, _card(name="automl_bench", uri=uri)))


def _from_registry(uri: str) -> Publication:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from tenfold import tracking

    tracking.configure()
    ref = uri.removeprefix("models:/")
    client = MlflowClient()
    try:
        if "@" in ref:
            name, alias = ref.split("@", 1)
            version = client.get_model_version_by_alias(name, alias)
        else:
            name, _, number = ref.partition("/")
            version = client.get_model_version(name, number)
    except MlflowException as exc:
        hint = "run `make automl-bench` (or `python -m automl_bench evaluate`) to publish one"
        why = f"no {ref} yet: {hint}" if "@" in ref else str(exc).splitlines()[0]
        raise tracking.ModelLoadError(uri, why) from None
    folder = Path(mlflow.artifacts.download_artifacts(f"models:/{name}/{version.version}"))
    created = datetime.fromtimestamp(version.creation_timestamp / 1000, UTC).isoformat()
    card = _card(
        name=name,
        version=str(version.version),
        run_id=version.run_id,
        trained_at=created,
        uri=uri,
    )
    return read(folder, card)


def record(uri: str) -> ModelRecord:
    """A registered publication as the promotion gate loads models (its ``model`` is
    the :class:`Publication`)."""
    from tenfold.tracking import ModelRecord

    publication = load(uri)
    card = publication.card
    return ModelRecord(
        model=publication,
        uri=uri,
        name=card.name,
        version=card.version,
        run_id=card.run_id,
        trained_at=card.trained_at,
        metrics=dict(card.metrics),
        metadata=dict(card.details),
    )


# --------------------------------------------------------------------------- publishing


def published_files(folder: Path) -> Iterator[Path]:
    """The files of the publication in ``folder``, relative to it, in a stable order:
    ``metrics.json`` and the folder of each profile it publishes (its JSON and figures)."""
    yield Path(METRICS_FILE)
    for profile in sorted(read(folder, _card(name=folder.name)).documents):
        for path in sorted((folder / profile).glob("*")):
            if path.is_file() and path.suffix in PUBLISHED_SUFFIXES:
                yield path.relative_to(folder)


def content_sha256(folder: Path) -> str:
    """What a publication says: its JSON files (figures are drawn from them; their bytes
    vary with the plotting library's version)."""
    digest = hashlib.sha256()
    for relative in published_files(folder):
        if relative.suffix == ".json":
            digest.update(relative.as_posix().encode() + b"\0")
            digest.update((folder / relative).read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass(frozen=True)
class Registered:
    """A publication's version in the registry; ``new`` is False when the results were
    the same as the champion's (no version is added for unchanged results)."""

    model_name: str
    version: str
    run_id: str | None
    new: bool


def register(
    folder: Path,
    model_name: str,
    *,
    experiment: str,
    seed: int,
    tags: Mapping[str, str] | None = None,
    grid_run: str | None = None,
) -> Registered:
    """Log the publication in ``folder`` to a ``publish`` run and register it as a new
    version of ``model_name`` with the alias ``challenger`` (``champion`` moves only
    through the gate). Unchanged results (the champion's content hash) add nothing."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from tenfold import tracking
    from tenfold.promotion import CHALLENGER, CHAMPION

    tracking.configure()
    client = MlflowClient()
    content = content_sha256(folder)
    try:
        champion = client.get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        champion = None
    if champion is not None and champion.tags.get(CONTENT_TAG) == content:
        return Registered(model_name, str(champion.version), champion.run_id, new=False)
    publication = read(folder, _card(name=model_name))
    all_tags = {
        "tenfold.stage": "publish",
        CONTENT_TAG: content,
        **({"automl.grid_run": grid_run} if grid_run else {}),
        **(tags or {}),
    }
    with (
        tracking.start_run(experiment, "publish", seed=seed, tags=all_tags) as run,
        tempfile.TemporaryDirectory(prefix="automl-bench-publish-") as staging,
    ):
        for relative in published_files(folder):
            target = Path(staging) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / relative, target)
        mlflow.log_artifacts(staging, ARTIFACT_PATH)
        mlflow.log_metrics({"published_cells": publication.cells_reported})
        source = f"{run.info.artifact_uri}/{ARTIFACT_PATH}"
        run_id = str(run.info.run_id)
    try:
        client.get_registered_model(model_name)
    except MlflowException:
        client.create_registered_model(
            model_name, description="automl-bench's published results (what the API serves)"
        )
    version = client.create_model_version(
        model_name,
        source=source,
        run_id=run_id,
        tags={
            CONTENT_TAG: content,
            "profiles": ",".join(publication.profiles),
            "published_cells": str(publication.cells_reported),
            "data_kind": publication.data_kind,
        },
    )
    client.set_registered_model_alias(model_name, CHALLENGER, str(version.version))
    return Registered(model_name, str(version.version), run_id, new=True)


def lookup(publication: Publication, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``predict``'s batch lookup: for each row (``dataset``, optional ``framework`` and
    ``profile``), the published scores; a row without a framework gets every framework.
    An unknown name is a :class:`NotPublished` naming the row."""
    out = []
    for number, row in enumerate(rows, start=1):
        profile = str(row.get("profile") or publication.default_profile)
        framework = row.get("framework") or None
        try:
            found = publication.scores(profile, str(row["dataset"]), framework)
        except NotPublished as exc:
            raise NotPublished(f"row {number}: {exc}") from None
        out += found
    return out
