"""The Prefect flows: ``retrain`` (new batches → challenger → gate) and ``monitor``
(drift of each day's inference data → report → alert).

Each task wraps one step of :mod:`retraining.pipeline` or :mod:`retraining.data` and
adds what Prefect is for: tasks that touch the lake retry on transient storage errors
(:data:`tenfold.flows.STORAGE_RETRIES`), every step is a task run with its state and
logs, and both flows can be deployed on an interval schedule (:func:`deployments`).

``retrain`` is idempotent: it records every object it has seen in the lake's
watermark, so a batch is processed once; and before training it looks up the window's
training identity (config and the bytes of its batches) in the registry, so running it
again on the same data registers no new version (and a run that stopped after training
finishes the gate next time instead of training again).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from typing import Any

import pandas as pd
from prefect import flow, get_run_logger, task

from retraining import data, pipeline
from retraining.config import RetrainingConfig
from retraining.interface import Retrainable, Window, target_for, window_for
from retraining.pipeline import (
    BatchVerdict,
    GateResult,
    MonitorOutcome,
    Registration,
    RetrainOutcome,
)
from tenfold.alerts import Alert, LakeSentAlerts, send_once
from tenfold.data import DataError, DataSource
from tenfold.drift import DriftReport
from tenfold.flows import STORAGE_RETRIES, interval_deployment, no_cache
from tenfold.storage import (
    Lake,
    StoredObject,
    Watermark,
    load_watermark,
    quarantine,
    save_watermark,
)
from tenfold.training import TrainResult

LAKE_TASK: dict[str, Any] = {**STORAGE_RETRIES, "cache_policy": no_cache()}
STEP_TASK: dict[str, Any] = {"cache_policy": no_cache()}


def settings(
    config: RetrainingConfig | None, lake: str | None, project: str | None
) -> RetrainingConfig:
    """The config a flow run uses: ``config`` (or the defaults) with ``lake`` and
    ``project`` given as deployment parameters."""
    cfg = config or RetrainingConfig()
    changes: dict[str, Any] = {}
    if lake:
        changes["lake"] = lake
    if project:
        changes["project"] = project
    return dataclasses.replace(cfg, **changes) if changes else cfg


# --------------------------------------------------------------------------- lake tasks


@task(name="find new batches", **LAKE_TASK)
def find_new_batches(lake: Lake, layout: data.Layout) -> tuple[list[StoredObject], Watermark]:
    watermark = load_watermark(lake, layout.watermark)
    return watermark.pending(lake.list(layout.incoming)), watermark


@task(name="read batch", **LAKE_TASK)
def read_batch(lake: Lake, key: str) -> bytes:
    return lake.read_bytes(key)


@task(name="validate batch", **STEP_TASK)
def validate_batch(
    target: Retrainable, key: str, raw: bytes, watermark: Watermark
) -> tuple[BatchVerdict, pd.DataFrame | None]:
    return pipeline.inspect_batch(target, key, raw, watermark)


@task(name="keep batch", **LAKE_TASK)
def keep_batch(lake: Lake, layout: data.Layout, period: dt.date, frame: pd.DataFrame) -> str:
    return data.write_curated(lake, layout, period, frame)


@task(name="quarantine batch", **LAKE_TASK)
def quarantine_batch(lake: Lake, layout: data.Layout, verdict: BatchVerdict) -> str:
    moved = quarantine(
        lake, verdict.key, verdict.reasons, prefix=layout.quarantine, sha256=verdict.sha256
    )
    get_run_logger().warning(
        "quarantined %s → %s: %s", verdict.key, moved.moved_to, "; ".join(verdict.reasons)
    )
    return moved.moved_to


@task(name="save watermark", **LAKE_TASK)
def commit_watermark(lake: Lake, layout: data.Layout, watermark: Watermark) -> str:
    return save_watermark(lake, layout.watermark, watermark)


@task(name="preprocess window", **LAKE_TASK)
def preprocess(
    cfg: RetrainingConfig, lake: Lake, layout: data.Layout, watermark: Watermark, window: Window
) -> tuple[pd.DataFrame, DataSource]:
    history = data.read_history(lake, layout, watermark, window)
    return history, data.window_source(cfg, lake, watermark, window)


@task(name="save drift reference", **LAKE_TASK)
def save_reference(lake: Lake, layout: data.Layout, version: str, rows: pd.DataFrame) -> str:
    return data.write_reference(lake, layout, version, rows)


# --------------------------------------------------------------------------- model tasks


@task(name="train challenger", **STEP_TASK)
def train_challenger(
    target: Retrainable, history: pd.DataFrame, window: Window, source: DataSource
) -> TrainResult[Any, Any]:
    return target.build_challenger(history, window, source)


@task(name="rebuild logged challenger", **STEP_TASK)
def rebuild_challenger(
    target: Retrainable,
    history: pd.DataFrame,
    window: Window,
    source: DataSource,
    registration: Registration,
) -> TrainResult[Any, Any]:
    from tenfold.tracking import read_training

    training = read_training(target.config(), source, run_id=registration.run_id)
    return target.from_run(history, window, source, training)


@task(name="log and register challenger", retries=1, retry_delay_seconds=5, **STEP_TASK)
def register_challenger(
    target: Retrainable, result: TrainResult[Any, Any], context: dict[str, Any]
) -> Registration:
    return pipeline.register(target, result, context)


@task(name="promotion gate", **STEP_TASK)
def gate_challenger(
    target: Retrainable, result: TrainResult[Any, Any], registration: Registration
) -> GateResult:
    return pipeline.gate(target, result, registration)


# --------------------------------------------------------------------------- retrain


@flow(name="retrain", log_prints=False)
def retrain(
    lake: str | None = None,
    project: str | None = None,
    config: RetrainingConfig | None = None,
) -> RetrainOutcome:
    """New batches from the lake → validated (bad ones quarantined with their reasons)
    → the rolling window → a challenger → the library's gate against the champion on
    the window's validation period → the decision in MLflow and the audit history."""
    cfg = settings(config, lake, project)
    log = get_run_logger()
    target = target_for(cfg)
    store = data.open_lake(cfg)
    layout = data.Layout(cfg.project)

    pending, watermark = find_new_batches(store, layout)
    verdicts: list[BatchVerdict] = []
    for obj in pending:
        raw = read_batch(store, obj.key)
        verdict, frame = validate_batch(target, obj.key, raw, watermark)
        if verdict.outcome == "accepted" and frame is not None and verdict.period:
            keep_batch(store, layout, dt.date.fromisoformat(verdict.period), frame)
        elif verdict.outcome == "quarantined":
            quarantine_batch(store, layout, verdict)
        watermark = watermark.record(verdict.processed())
        verdicts.append(verdict)
    if pending:
        commit_watermark(store, layout, watermark)
    log.info(
        "%d new object(s): %d accepted, %d quarantined, %d duplicate(s)",
        len(verdicts),
        sum(v.outcome == "accepted" for v in verdicts),
        sum(v.outcome == "quarantined" for v in verdicts),
        sum(v.outcome == "duplicate" for v in verdicts),
    )
    model_name = pipeline.registered_name(target, cfg)
    outcome = RetrainOutcome(cfg.project, tuple(verdicts))
    window = window_for(data.accepted_periods(watermark), cfg, target.lookback_days)
    if window is None:
        note = pipeline.plan(verdicts, window, cfg) or "no window"
        log.info(note)
        return dataclasses.replace(
            outcome, champion=pipeline.champion_version(model_name), note=note
        )

    source = data.window_source(cfg, store, watermark, window)
    found = pipeline.find_registered(model_name, pipeline.training_identity(target, source))
    if found is not None:
        registration, tags = found
        earlier = pipeline.decided(tags)
        if earlier is not None:
            note = (
                f"v{registration.version} was trained on exactly this window already: nothing new"
            )
            log.info(note)
            return dataclasses.replace(
                outcome,
                window=window.describe(),
                version=registration.version,
                reused=True,
                gate=earlier,
                champion=pipeline.champion_version(model_name),
                note=note,
            )
    history, source = preprocess(cfg, store, layout, watermark, window)
    if found is not None:
        registration = found[0]
        result = rebuild_challenger(target, history, window, source, registration)
    else:
        try:
            result = train_challenger(target, history, window, source)
        except DataError as exc:  # e.g. no positive label in a validation block
            note = f"cannot train on {window.describe()}: {exc}"
            log.warning(note)
            return dataclasses.replace(
                outcome,
                window=window.describe(),
                champion=pipeline.champion_version(model_name),
                note=note,
            )
        context = {
            "window": window.describe(),
            "batches": [dataclasses.asdict(v) for v in verdicts],
            "sources": dict(source.paths),
        }
        registration = register_challenger(target, result, context)
        save_reference(
            store, layout, registration.version, pipeline.reference_sample(target, result, cfg)
        )
    decision = gate_challenger(target, result, registration)
    log.info(
        "v%s %s: %s",
        registration.version,
        "promoted" if decision.promoted else "kept as challenger",
        decision.reason,
    )
    return dataclasses.replace(
        outcome,
        window=window.describe(),
        version=registration.version,
        reused=registration.reused,
        gate=decision,
        champion=decision.champion,
    )


# --------------------------------------------------------------------------- monitor


@task(name="find unmonitored periods", **LAKE_TASK)
def unmonitored_periods(lake: Lake, layout: data.Layout) -> list[dt.date]:
    from retraining.validation import period_of
    from tenfold.drift import read_summary

    days = sorted({d for o in lake.list(layout.inference) if (d := period_of(o.key)) is not None})
    return [d for d in days if read_summary(lake, layout.drift, d.isoformat()) is None]


@task(name="read inference data", **LAKE_TASK)
def read_inference(
    lake: Lake, layout: data.Layout, target: Retrainable, period: dt.date
) -> pd.DataFrame:
    return data.read_inference(lake, layout.inference_batch(period), target.inference_columns)


@task(name="read drift reference", **LAKE_TASK)
def read_reference(lake: Lake, layout: data.Layout, version: str) -> pd.DataFrame:
    return data.read_reference(lake, layout, version)


@task(name="drift report", **STEP_TASK)
def drift_report(
    target: Retrainable,
    cfg: RetrainingConfig,
    reference: pd.DataFrame,
    current: pd.DataFrame,
    period: dt.date,
) -> DriftReport:
    return pipeline.drift_of(target, cfg, reference, current, period)


@task(name="write drift report", **LAKE_TASK)
def write_drift_report(lake: Lake, layout: data.Layout, report: DriftReport) -> tuple[str, str]:
    from tenfold.drift import write_report

    written = write_report(report, lake, layout.drift)
    return written.html, written.json


@task(name="alert", retries=2, retry_delay_seconds=10, **STEP_TASK)
def alert(lake: Lake, layout: data.Layout, message: Alert) -> str:
    delivery = send_once(message, LakeSentAlerts(lake, layout.alerts))
    log = get_run_logger()
    if delivery.status == "failed":
        log.warning("alert %s not delivered: %s", delivery.key, delivery.detail)
    else:
        log.info("alert %s: %s %s", delivery.key, delivery.status, delivery.detail)
    return delivery.status


@flow(name="monitor", log_prints=False)
def monitor(
    lake: str | None = None,
    project: str | None = None,
    periods: Sequence[str] | None = None,
    config: RetrainingConfig | None = None,
) -> list[MonitorOutcome]:
    """Drift of each day of inference data not yet reported (or of ``periods``) against
    the champion's training rows: an Evidently report (HTML and JSON) per day in the
    lake, and a Slack alert when the drift share reaches the threshold (once per day)."""
    cfg = settings(config, lake, project)
    log = get_run_logger()
    target = target_for(cfg)
    store = data.open_lake(cfg)
    layout = data.Layout(cfg.project)
    days = (
        [dt.date.fromisoformat(p) for p in periods]
        if periods
        else unmonitored_periods(store, layout)
    )
    champion = pipeline.champion_version(pipeline.registered_name(target, cfg))
    if not days or champion is None:
        log.info("nothing to monitor" if champion else "no champion yet: nothing to compare with")
        return []
    reference = read_reference(store, layout, champion)
    outcomes = []
    for day in days:
        current = read_inference(store, layout, target, day)
        report = drift_report(target, cfg, reference, current, day)
        html, document = write_drift_report(store, layout, report)
        status = None
        if report.drifted:
            status = alert(store, layout, pipeline.drift_alert(cfg.project, report, champion, html))
        log.info("%s: drift share %.2f (%s)", day, report.share, ", ".join(report.drifted_columns))
        outcomes.append(
            MonitorOutcome(
                cfg.project,
                day.isoformat(),
                champion,
                report.share,
                report.threshold,
                report.drifted,
                tuple(report.drifted_columns),
                html,
                document,
                status,
            )
        )
    return outcomes


# --------------------------------------------------------------------------- deployments


def deployments(
    lake: str, project: str, *, retrain_every: dt.timedelta, monitor_every: dt.timedelta
) -> list[Any]:
    """The two deployments a worker serves: ``retrain/<project>`` polls the lake for new
    batches, ``monitor/<project>`` reports drift of new inference days."""
    parameters = {"lake": lake, "project": project}
    return [
        interval_deployment(
            retrain,
            project,
            every=retrain_every,
            parameters=parameters,
            description=f"Poll {lake} for new {project} batches; retrain and gate.",
            tags=("retraining", project),
        ),
        interval_deployment(
            monitor,
            project,
            every=monitor_every,
            parameters=parameters,
            description=f"Drift of {project}'s inference data in {lake}; alert on Slack.",
            tags=("monitoring", project),
        ),
    ]
