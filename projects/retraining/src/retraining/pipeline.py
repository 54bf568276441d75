"""The steps of the retraining and monitoring flows, as plain functions.

Nothing here knows about Prefect: :mod:`retraining.flows` wraps these steps in tasks
(retries, states, logs) and strings them together. Each step is either pure (deciding
what a batch is, which window to train on, what to alert) or one kind of I/O (the lake
through :mod:`retraining.data`, MLflow through ``tenfold.tracking`` and
``tenfold.promotion``), so each can be tested on its own.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from retraining.config import RetrainingConfig
from retraining.interface import Retrainable, Window
from retraining.validation import check_batch, period_of
from tenfold import promotion, tracking
from tenfold.alerts import Alert
from tenfold.storage import Outcome, Processed, Watermark, sha256_bytes

if TYPE_CHECKING:
    from tenfold.data import DataSource
    from tenfold.drift import DriftReport
    from tenfold.training import TrainResult

INPUTS_TAG = "tenfold.inputs_sha256"


# --------------------------------------------------------------------------- batches


@dataclass(frozen=True)
class BatchVerdict:
    """What one incoming object turned out to be."""

    key: str
    period: str | None
    sha256: str
    outcome: Outcome
    reasons: tuple[str, ...] = ()
    rows: int = 0

    def processed(self) -> Processed:
        return Processed(self.key, self.sha256, self.outcome, "; ".join(self.reasons))


def inspect_batch(
    target: Retrainable, key: str, raw: bytes, watermark: Watermark
) -> tuple[BatchVerdict, pd.DataFrame | None]:
    """Accept, quarantine or skip one object: a name that is not a day, any contract
    problem or project check failing quarantines it; the same bytes as an accepted
    object make it a duplicate (nothing new to learn). Returns the verdict and, for an
    accepted batch, its parsed rows."""
    sha = sha256_bytes(raw)
    period = period_of(key)
    if period is None:
        reason = "the object's name does not start with a day (YYYY-MM-DD)"
        return BatchVerdict(key, None, sha, "quarantined", (reason,)), None
    same = watermark.same_bytes(sha)
    if same is not None:
        return BatchVerdict(
            key, str(period), sha, "duplicate", (f"same bytes as {same.key}",)
        ), None
    frame, problems = check_batch(raw, target.contract, label=key)
    if frame is not None:
        problems = target.validate(frame, period)
    if problems:
        return BatchVerdict(key, str(period), sha, "quarantined", tuple(problems)), None
    assert frame is not None
    return BatchVerdict(key, str(period), sha, "accepted", (), len(frame)), frame


# --------------------------------------------------------------------------- registry


@dataclass(frozen=True)
class Registration:
    """A challenger in the registry: its training run, model name, version and the
    training's identity (config and data); ``reused`` when an identical training was
    found instead of trained again."""

    run_id: str
    model_name: str
    version: str
    inputs_sha256: str
    reused: bool = False


def training_identity(target: Retrainable, source: DataSource) -> str:
    return tracking.inputs_sha256(target.config(), source)


def find_registered(
    model_name: str, inputs_sha256: str
) -> tuple[Registration, dict[str, str]] | None:
    """A version of ``model_name`` trained on exactly these inputs, with its tags."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    tracking.configure()
    try:
        versions = MlflowClient().search_model_versions(f"name = '{model_name}'")
    except MlflowException:
        return None
    for version in sorted(versions, key=lambda v: int(v.version)):
        tags = dict(version.tags or {})
        if tags.get(INPUTS_TAG) == inputs_sha256:
            registration = Registration(
                tags.get("training_run", ""),
                model_name,
                str(version.version),
                inputs_sha256,
                reused=True,
            )
            return registration, tags
    return None


def register(
    target: Retrainable,
    result: TrainResult[Any, Any],
    context: Mapping[str, Any] | None = None,
) -> Registration:
    """Log the training to MLflow and register its challenger (``tenfold.promotion``);
    ``context`` (the flow run's window and batches) goes beside it as
    ``retraining/flow.json``."""
    from mlflow import MlflowClient

    cfg = target.config()
    run_id = tracking.log_training(result, config=cfg)
    if context is not None:
        MlflowClient().log_dict(run_id, dict(context), "retraining/flow.json")
    name = cfg.registered_model_name(result.source)
    # MLflow prints "Created version ..." to stderr on every registration: noise here
    with contextlib.redirect_stderr(io.StringIO()):
        version = promotion.register_challenger(result, name)
    identity = tracking.inputs_sha256(cfg, result.source)
    MlflowClient().set_model_version_tag(name, version, INPUTS_TAG, identity)
    return Registration(run_id, name, version, identity)


def registered_name(target: Retrainable, cfg: RetrainingConfig) -> str:
    """The registered model the project's trainings on this lake go to."""
    from tenfold.data import DataSource

    source = DataSource(dataset=f"{cfg.project} batches", kind=cfg.data_kind, origin="lake")
    return target.config().registered_model_name(source)


def champion_version(model_name: str) -> str | None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    tracking.configure()
    try:
        return str(
            MlflowClient().get_model_version_by_alias(model_name, promotion.CHAMPION).version
        )
    except MlflowException:
        return None


@dataclass(frozen=True)
class GateResult:
    """The gate's decision on a challenger (scores from the same validation rows)."""

    promoted: bool
    reason: str
    metric: str
    challenger_score: float | None
    champion_score: float | None
    champion: str | None
    previous_champion: str | None
    validation_set: str


def gate(
    target: Retrainable, result: TrainResult[Any, Any], registration: Registration
) -> GateResult:
    """The library's gate (``promote_if_better``): challenger and champion scored on
    the window's validation period; ``champion`` moves only past the margin; the
    decision is kept in the registry's audit history and on the training run."""
    from mlflow import MlflowClient

    rule, score = target.gate(result)
    decision, record = promotion.promote_if_better(
        registration.model_name, registration.version, rule, score
    )
    outcome = GateResult(
        promoted=decision.promote,
        reason=decision.reason,
        metric=rule.metric,
        challenger_score=decision.challenger_score,
        champion_score=decision.champion_score,
        champion=record.champion,
        previous_champion=record.previous_champion,
        validation_set=rule.validation_set.name,
    )
    if registration.run_id:
        client = MlflowClient()
        client.set_tag(
            registration.run_id, "retraining.decision", "promoted" if decision.promote else "kept"
        )
        client.set_tag(registration.run_id, "retraining.reason", decision.reason[:5000])
        scores = {"gate_challenger_score": decision.challenger_score}
        if decision.champion_score is not None:
            scores["gate_champion_score"] = decision.champion_score
        tracking.log_metrics_to(registration.run_id, scores)
    return outcome


def decided(tags: dict[str, str]) -> GateResult | None:
    """A version's earlier gate decision, from the ``promotion.*`` tags it carries."""
    if "promotion.decision" not in tags:
        return None

    def number(key: str) -> float | None:
        value = tags.get(key, "")
        return float(value) if value else None

    promoted = tags["promotion.decision"] == "promoted"
    return GateResult(
        promoted=promoted,
        reason=f"already decided: {tags.get('promotion.reason', '')}",
        metric=tags.get("promotion.metric", ""),
        challenger_score=number("promotion.challenger_score"),
        champion_score=number("promotion.champion_score"),
        champion=None,
        previous_champion=tags.get("promotion.champion_version") or None,
        validation_set=tags.get("promotion.validation_set", ""),
    )


def reference_sample(
    target: Retrainable, result: TrainResult[Any, Any], cfg: RetrainingConfig
) -> pd.DataFrame:
    """The training rows kept as the version's drift reference (a seeded sample)."""
    rows = target.reference_inputs(result)
    if len(rows) > cfg.monitoring.reference_rows:
        rows = rows.sample(cfg.monitoring.reference_rows, random_state=cfg.seed).sort_index()
    return rows.reset_index(drop=True)


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class RetrainOutcome:
    """What one run of the retrain flow did."""

    project: str
    batches: tuple[BatchVerdict, ...] = ()
    window: str | None = None
    version: str | None = None
    reused: bool = False
    gate: GateResult | None = None
    champion: str | None = None
    note: str = ""

    def count(self, outcome: Outcome) -> int:
        return sum(b.outcome == outcome for b in self.batches)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def plan(
    verdicts: Sequence[BatchVerdict], window: Window | None, cfg: RetrainingConfig
) -> str | None:
    """Why there is nothing to train, or None when a challenger should be trained."""
    if not any(v.outcome == "accepted" for v in verdicts):
        return "no new accepted batch: nothing to retrain on"
    if window is None:
        w = cfg.window
        return f"not enough history yet for {w.train_days}+{w.gap_days}+{w.validation_days} days"
    return None


# --------------------------------------------------------------------------- monitoring


@dataclass(frozen=True)
class MonitorOutcome:
    """One monitored period: its drift verdict, report, and what became of the alert."""

    project: str
    period: str
    champion: str | None
    drift_share: float
    threshold: float
    drifted: bool
    drifted_columns: tuple[str, ...]
    report_html: str
    report_json: str
    alert: str | None = None


def drift_of(
    target: Retrainable,
    cfg: RetrainingConfig,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    period: dt.date,
) -> DriftReport:
    """The period's inputs against the champion's training rows, on the project's
    monitored columns."""
    from tenfold.drift import drift_report

    ref, cur = target.monitored(reference), target.monitored(current)
    return drift_report(
        ref.frame,
        cur.frame,
        period=period.isoformat(),
        threshold=cfg.monitoring.drift_share,
        numerical=cur.numerical,
        categorical=cur.categorical,
        reference_sample=cfg.monitoring.reference_rows,
        seed=cfg.seed,
    )


def drift_alert(project: str, report: DriftReport, champion: str | None, link: str) -> Alert:
    """The Slack alert for a drifted period; its key makes it one per project and day."""
    columns = report.drifted_columns
    shown = ", ".join(columns[:6]) + (f" and {len(columns) - 6} more" if len(columns) > 6 else "")
    return Alert(
        key=f"drift:{project}:{report.period}",
        title=f"Data drift in {project} on {report.period}",
        text=(
            f"{report.share:.0%} of the monitored columns drifted from the training data of "
            f"the model in service (threshold {report.threshold:.0%}): {shown}."
        ),
        fields={
            "period": report.period,
            "drift share": f"{report.share:.2f}",
            "model in service": f"v{champion}" if champion else "none",
            "rows": f"{report.current_rows:,} vs {report.reference_rows:,} reference",
        },
        link=link,
    )
