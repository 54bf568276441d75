"""The promotion gate: a new model serves only once it has beaten the one serving.

A training registers its best candidate as a new version with the alias ``challenger``
(:func:`register_challenger`). After evaluation, :func:`promote_if_better` loads the
challenger and the current ``champion`` from the registry, scores both on the same
validation set with the same metric (the champion is re-scored, never trusted from old
tags) and moves ``champion`` only when the challenger is better by more than the
configured margin; the first model of a name is promoted ("no champion yet"). Every
decision and every :func:`rollback` is kept in the registry as an :class:`AuditRecord`
(both versions, both scores, the validation set's name and data hash, when, why): as
tags on the registered model, readable back with :func:`history`, and the latest
decision as ``promotion.*`` tags on the challenger's version.

:func:`decide` is the pure rule; the rest is registry I/O. Used by every project's CLI
and, as they are, by scheduled retraining flows.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tenfold.errors import RegistryError

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from tenfold.tracking import ModelRecord
    from tenfold.training import Candidate, TrainResult

CHAMPION = "champion"
CHALLENGER = "challenger"
AUDIT_PREFIX = "tenfold.audit."

# A loaded model (its estimator and the metadata saved with it) → its score on the
# gate's validation set.
Scorer = Callable[["ModelRecord"], float]


@dataclass(frozen=True)
class ValidationSet:
    """The rows a gate scores both models on: a name a reader understands ("telco-churn
    test split, seed 42"), the sha256 of the values scored (features and labels) and how
    many rows there are."""

    name: str
    sha256: str
    rows: int

    @classmethod
    def of(cls, name: str, *parts: pd.DataFrame | pd.Series | np.ndarray) -> ValidationSet:
        """A validation set named ``name`` made of ``parts`` (e.g. ``X_test, y_test``)."""
        digest = hashlib.sha256()
        rows = 0
        for part in parts:
            if isinstance(part, np.ndarray):
                part = pd.DataFrame(part) if part.ndim > 1 else pd.Series(part)
            digest.update(pd.util.hash_pandas_object(part, index=False).to_numpy().tobytes())
            rows = max(rows, len(part))
        return cls(name, digest.hexdigest(), rows)


@dataclass(frozen=True)
class Gate:
    """When a challenger replaces the champion: its ``metric`` on ``validation_set`` must
    beat the champion's by more than ``margin`` (higher or lower being better)."""

    metric: str
    higher_is_better: bool
    margin: float
    validation_set: ValidationSet


@dataclass(frozen=True)
class Decision:
    """The gate's answer: whether to promote, why, and the two scores."""

    promote: bool
    reason: str
    challenger_score: float
    champion_score: float | None

    @property
    def improvement(self) -> float | None:
        """How much better the challenger scored (positive = better), or None."""
        if self.champion_score is None:
            return None
        return self.challenger_score - self.champion_score


def decide(gate: Gate, challenger: float, champion: float | None) -> Decision:
    """The rule, pure: promote when there is no champion, or when the challenger is better
    than the champion by *more* than the margin (equal is not better). A challenger whose
    score is not a finite number is never promoted."""
    if not math.isfinite(challenger):
        return Decision(False, f"challenger {gate.metric} is {challenger}", challenger, champion)
    if champion is None:
        return Decision(True, "no champion yet", challenger, None)
    if not math.isfinite(champion):
        return Decision(True, f"champion {gate.metric} is {champion}", challenger, champion)
    gain = challenger - champion if gate.higher_is_better else champion - challenger
    better = gain > gate.margin
    comparison = ">" if better else "≤"
    reason = (
        f"{gate.metric} {challenger:.4f} vs champion {champion:.4f} on "
        f"{gate.validation_set.name}: {'better' if gain > 0 else 'not better'} by "
        f"{gain:+.4f} {comparison} margin {gate.margin:g}"
    )
    return Decision(better, reason, challenger, champion)


@dataclass(frozen=True)
class AuditRecord:
    """One entry of a model's promotion history.

    ``action`` is ``"promote"`` (the gate moved ``champion`` to ``version``), ``"keep"``
    (the gate kept ``previous_champion``) or ``"rollback"`` (``champion`` moved back to
    ``version``). ``champion`` is the version holding the alias afterwards.
    """

    model: str
    action: str
    version: str
    previous_champion: str | None
    champion: str | None
    reason: str
    at: str
    metric: str | None = None
    challenger_score: float | None = None
    champion_score: float | None = None
    margin: float | None = None
    validation_set: str | None = None
    validation_sha256: str | None = None
    validation_rows: int | None = None

    @property
    def promoted(self) -> bool:
        return self.action == "promote"

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> AuditRecord:
        return cls(**json.loads(text))


# --------------------------------------------------------------------------- registry


def register_challenger(
    result: TrainResult[Any, Any],
    model_name: str,
    *,
    every_candidate: bool = False,
) -> str:
    """Register the best candidate of a logged training as a new version of
    ``model_name`` with the alias ``challenger``; return the version.

    With ``every_candidate`` each candidate becomes a version with its own name as alias
    (``nlp@tfidf``), and the best one's is the challenger. The version records the
    candidate, its CV score, its own metrics and the data; the training run records the
    registered model and version (what ``evaluate`` gates later).
    """
    from mlflow import MlflowClient

    from tenfold import tracking

    if result.run_id is None:
        raise ValueError("log the training (tracking.log_training) before registering it")
    tracking.configure()
    client = MlflowClient()
    chosen = result.candidates.values() if every_candidate else [result.best]
    versions = {c.name: _register(c, model_name, result, own_alias=every_candidate) for c in chosen}
    version = versions[result.best_name]
    client.set_registered_model_alias(model_name, CHALLENGER, version)
    client.set_tag(result.run_id, "tenfold.registered_model", model_name)
    client.set_tag(result.run_id, "tenfold.registered_version", version)
    return version


def _register(
    candidate: Candidate, model_name: str, result: TrainResult[Any, Any], *, own_alias: bool
) -> str:
    import mlflow
    from mlflow import MlflowClient

    if candidate.model_uri is None:
        raise ValueError(f"candidate {candidate.name!r} has not been logged")
    tags = {
        "candidate": candidate.name,
        "training_run": str(result.run_id),
        "data_dataset": result.source.dataset,
        "data_kind": result.source.kind,
        f"cv_{candidate.metric}": f"{candidate.cv_score:.4f}",
        **{k: f"{v:.4g}" for k, v in candidate.metrics.items()},
    }
    version = str(mlflow.register_model(candidate.model_uri, model_name, tags=tags).version)
    if own_alias:
        MlflowClient().set_registered_model_alias(model_name, candidate.name, version)
    return version


def _client() -> MlflowClient:
    from mlflow import MlflowClient

    from tenfold import tracking

    tracking.configure()
    return MlflowClient()


def _alias(client: MlflowClient, model: str, alias: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(model, alias).version)
    except MlflowException:
        return None


def _load(uri: str) -> ModelRecord:
    from tenfold.tracking import load_sklearn_model

    return load_sklearn_model(uri)


def promote_if_better(
    model_name: str,
    challenger_version: str,
    gate: Gate,
    score: Scorer,
    *,
    load: Callable[[str], ModelRecord] = _load,
) -> tuple[Decision, AuditRecord]:
    """Score ``challenger_version`` and the current champion of ``model_name`` on the
    gate's validation set, move ``champion`` when :func:`decide` says so, and keep the
    decision in the audit history. The champion is loaded and re-scored, so both numbers
    come from the same rows, metric and code. A champion that cannot be loaded or scored
    (its artifact gone, another schema) is kept and the challenger not promoted: the
    reason says why, and promoting by hand stays a deliberate act.
    """
    client = _client()
    _check_version(client, model_name, challenger_version)
    champion = _alias(client, model_name, CHAMPION)
    challenger_score = float(score(load(f"models:/{model_name}/{challenger_version}")))
    if champion == challenger_version:
        decision = Decision(
            False, f"v{champion} is already the champion", challenger_score, challenger_score
        )
    elif champion is None:
        decision = decide(gate, challenger_score, None)
    else:
        try:
            champion_score: float | None = float(score(load(f"models:/{model_name}/{champion}")))
        except Exception as exc:  # any failure to score it: keep it, say why
            champion_score = None
            decision = Decision(
                False,
                f"the champion v{champion} could not be scored on {gate.validation_set.name} "
                f"({type(exc).__name__}: {exc}); not replacing it automatically",
                challenger_score,
                None,
            )
        else:
            decision = decide(gate, challenger_score, champion_score)
    if decision.promote:
        client.set_registered_model_alias(model_name, CHAMPION, challenger_version)
    record = AuditRecord(
        model=model_name,
        action="promote" if decision.promote else "keep",
        version=challenger_version,
        previous_champion=champion,
        champion=challenger_version if decision.promote else champion,
        reason=decision.reason,
        at=_now(),
        metric=gate.metric,
        challenger_score=decision.challenger_score,
        champion_score=decision.champion_score,
        margin=gate.margin,
        validation_set=gate.validation_set.name,
        validation_sha256=gate.validation_set.sha256,
        validation_rows=gate.validation_set.rows,
    )
    _write(client, record)
    return decision, record


def rollback(model_name: str) -> AuditRecord:
    """Move ``champion`` back to the version that held it before the current one (as the
    audit history tells it: each rollback steps one promotion further back) and record
    that. A :class:`RegistryError` when there is nothing to roll back to, or when the
    alias was moved outside the gate (the history would not describe it)."""
    client = _client()
    current = _alias(client, model_name, CHAMPION)
    lineage = champion_lineage(history(model_name))
    if current is None:
        raise RegistryError(f"{model_name} has no champion to roll back")
    if not lineage or lineage[-1] != current:
        raise RegistryError(
            f"{model_name}@champion is v{current}, but its promotion history ends at "
            f"{'v' + lineage[-1] if lineage else 'no champion'}: the alias was moved outside "
            "the gate; set it by hand (MlflowClient().set_registered_model_alias)"
        )
    if len(lineage) < 2:
        raise RegistryError(
            f"{model_name} v{current} is its first champion: nothing to roll back to"
        )
    target = lineage[-2]
    client.set_registered_model_alias(model_name, CHAMPION, target)
    record = AuditRecord(
        model=model_name,
        action="rollback",
        version=target,
        previous_champion=current,
        champion=target,
        reason=f"rolled back from v{current} to the previous champion v{target}",
        at=_now(),
    )
    _write(client, record)
    return record


def champion_lineage(records: Sequence[AuditRecord]) -> list[str]:
    """The champions a history has put in place, oldest first, with rolled-back ones
    removed: its last entry is the current champion, the one before it the rollback
    target."""
    lineage: list[str] = []
    for record in records:
        if record.action == "promote":
            if not lineage and record.previous_champion is not None:
                lineage.append(record.previous_champion)  # a champion from before the gate
            lineage.append(record.version)
        elif record.action == "rollback" and lineage:
            lineage.pop()
    return lineage


def history(model_name: str) -> list[AuditRecord]:
    """Every gate decision and rollback of ``model_name``, oldest first."""
    from mlflow.exceptions import MlflowException

    client = _client()
    try:
        tags = client.get_registered_model(model_name).tags
    except MlflowException:
        raise RegistryError(f"no registered model {model_name!r}") from None
    return [
        AuditRecord.from_json(value)
        for key, value in sorted(tags.items())
        if key.startswith(AUDIT_PREFIX)
    ]


def _check_version(client: MlflowClient, model_name: str, version: str) -> None:
    from mlflow.exceptions import MlflowException

    try:
        client.get_model_version(model_name, version)
    except MlflowException:
        raise RegistryError(f"no version {version} of registered model {model_name!r}") from None


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")


def _write(client: MlflowClient, record: AuditRecord) -> None:
    """The record as a tag of the registered model (the history), keyed by time so keys
    sort in order; a gate decision also as ``promotion.*`` tags on the challenger."""
    stamp = record.at.replace("-", "").replace(":", "").replace("+0000", "Z")
    key = f"{AUDIT_PREFIX}{stamp}.v{record.version}.{record.action}"
    client.set_registered_model_tag(record.model, key, record.to_json())
    if record.action == "rollback":
        return
    for name, value in _version_tags(record).items():
        client.set_model_version_tag(record.model, record.version, name, value)


def _version_tags(record: AuditRecord) -> Mapping[str, str]:
    return {
        f"promotion.{k}": "" if v is None else str(v)
        for k, v in {
            "decision": "promoted" if record.promoted else "kept the champion",
            "reason": record.reason,
            "at": record.at,
            "metric": record.metric,
            "challenger_score": record.challenger_score,
            "champion_version": record.previous_champion,
            "champion_score": record.champion_score,
            "margin": record.margin,
            "validation_set": record.validation_set,
            "validation_sha256": record.validation_sha256,
        }.items()
    }
