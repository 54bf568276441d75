"""The monitor and the retraining response, as plain functions over the database (the
Prefect flows in :mod:`mlops.flows` call them as tasks).

- :func:`check_window`: the latest window of logged inputs (one business day) against
  the serving model's training reference with :func:`tenfold.drift.drift_report`; the
  verdict and every feature's score go to ``drift_metrics`` / ``feature_drift``, the
  Evidently page and JSON to files, the figures to Prometheus gauges;
- :func:`retrain_and_gate`: the labelled requests of the last days (predictions joined
  with the outcomes that have arrived), split by application into training and
  held-out rows; the champion's design refitted (:func:`mlops.train.retrain`), logged,
  registered as challenger and promoted by :func:`tenfold.promotion.promote_if_better`
  only when its held-out log-loss beats the champion's, which is re-scored on the same
  rows. Every decision is a row of ``model_events``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from prometheus_client import CollectorRegistry, Gauge

from mlops.config import MODEL_INPUTS, MlopsConfig
from mlops.predictions import (
    drift_metrics,
    feature_drift,
    insert_ignoring_duplicates,
    model_events,
    now,
    outcomes,
    predictions,
)
from tenfold import paths


@dataclass
class MonitorMetrics:
    """The monitor's Prometheus gauges (its own registry, served by the monitor process)."""

    registry: CollectorRegistry
    share: Gauge
    drifted: Gauge
    feature: Gauge
    rows: Gauge
    runs: Gauge

    @classmethod
    def create(cls) -> MonitorMetrics:
        registry = CollectorRegistry()
        return cls(
            registry,
            Gauge(
                "mlops_drift_share",
                "Share of drifted inputs in the latest window",
                registry=registry,
            ),
            Gauge("mlops_drift_detected", "1 when the latest window drifted", registry=registry),
            Gauge(
                "mlops_feature_drift_score",
                "Drift score per input (latest window)",
                ["feature"],
                registry=registry,
            ),
            Gauge("mlops_window_rows", "Requests in the latest window", registry=registry),
            Gauge(
                "mlops_monitor_last_run_timestamp_seconds",
                "When the monitor last ran",
                registry=registry,
            ),
        )


def reference_dir() -> Path:
    return paths.state_dir() / "mlops" / "references"


def save_reference(version: str, frame: pd.DataFrame, folder: Path | None = None) -> Path:
    """The rows model ``version`` was trained on, the drift reference while it serves."""
    folder = folder or reference_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"v{version}.csv"
    frame[list(MODEL_INPUTS)].to_csv(path, index=False)
    return path


def load_reference(
    version: str | None, cfg: MlopsConfig, folder: Path | None = None
) -> tuple[pd.DataFrame, str]:
    """The serving version's reference, else the original training split (the
    published model's training rows); with its name."""
    path = (folder or reference_dir()) / f"v{version}.csv"
    if version is not None and path.is_file():
        return pd.read_csv(path), f"v{version} training rows"
    from mlops import data, train

    frame, _ = data.load(cfg)
    return train.split(train.prepare(frame, cfg), cfg).X_train, "original training split"


def window(engine: sa.Engine, day: dt.date) -> tuple[pd.DataFrame, str | None]:
    """The inputs logged for business day ``day`` and the version that scored most."""
    query = sa.select(predictions.c.inputs, predictions.c.model_version).where(
        predictions.c.application_date == day
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return pd.DataFrame(columns=list(MODEL_INPUTS)), None
    frame = pd.DataFrame([r[0] for r in rows])[list(MODEL_INPUTS)].astype(float)
    versions = pd.Series([r[1] for r in rows]).value_counts()
    return frame, str(versions.index[0])


@dataclass(frozen=True)
class WindowCheck:
    day: dt.date
    rows: int
    model_version: str | None
    reference: str
    drift_share: float | None
    drifted: bool
    drifted_columns: tuple[str, ...]
    report: str | None


def check_window(
    engine: sa.Engine,
    day: dt.date,
    cfg: MlopsConfig,
    reports: Path,
    metrics: MonitorMetrics | None = None,
    reference: tuple[pd.DataFrame, str] | None = None,
) -> WindowCheck:
    """Drift of day ``day``'s logged inputs against the serving model's reference."""
    from tenfold.drift import drift_report, write_report
    from tenfold.storage import Lake

    current, version = window(engine, day)
    mon = cfg.monitor
    if len(current) < mon.min_window_rows:
        return WindowCheck(day, len(current), version, "", None, False, (), None)
    ref, ref_name = reference or load_reference(version, cfg)
    report = drift_report(
        ref,
        current,
        period=day.isoformat(),
        threshold=mon.drift_threshold,
        numerical=list(MODEL_INPUTS),
        reference_sample=mon.reference_sample,
        seed=cfg.seed,
    )
    written = write_report(report, Lake(str(reports)), "drift")
    with engine.begin() as connection:
        drift_id = connection.execute(
            sa.insert(drift_metrics).returning(drift_metrics.c.id),
            {
                "window_start": day,
                "model_version": version,
                "reference": ref_name,
                "rows": len(current),
                "drift_share": report.share,
                "threshold": report.threshold,
                "drifted": report.drifted,
                "report_path": written.html,
                "created_at": now(),
            },
        ).scalar_one()
        connection.execute(
            sa.insert(feature_drift),
            [
                {
                    "drift_id": drift_id,
                    "feature": c.column,
                    "window_start": day,
                    "method": c.method,
                    "score": c.score,
                    "threshold": c.threshold,
                    "drifted": c.drifted,
                }
                for c in report.columns
            ],
        )
    if metrics is not None:
        metrics.share.set(report.share)
        metrics.drifted.set(1.0 if report.drifted else 0.0)
        metrics.rows.set(len(current))
        for column in report.columns:
            metrics.feature.labels(column.column).set(column.score)
        metrics.runs.set_to_current_time()
    return WindowCheck(
        day,
        len(current),
        version,
        ref_name,
        report.share,
        report.drifted,
        tuple(report.drifted_columns),
        written.html,
    )


def record_outcomes(engine: sa.Engine, frame: pd.DataFrame, observed_on: dt.date) -> int:
    """Outcomes that arrived (idempotent on the application id)."""
    rows = [
        {"application_id": a, "defaulted": int(d), "observed_on": observed_on}
        for a, d in zip(frame["application_id"], frame["defaulted"], strict=True)
    ]
    with engine.begin() as connection:
        connection.execute(insert_ignoring_duplicates(engine, outcomes), rows)
    return len(rows)


def labelled(engine: sa.Engine, first: dt.date, last: dt.date) -> pd.DataFrame:
    """Logged applications of days ``first``..``last`` whose outcome has arrived."""
    query = (
        sa.select(predictions.c.application_id, predictions.c.inputs, outcomes.c.defaulted)
        .join(outcomes, outcomes.c.application_id == predictions.c.application_id)
        .where(predictions.c.application_date.between(first, last))
        .order_by(predictions.c.application_id)
    )
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    if not rows:
        return pd.DataFrame(columns=["application_id", *MODEL_INPUTS, "defaulted"])
    frame = pd.DataFrame([r[1] for r in rows])[list(MODEL_INPUTS)].astype(float)
    frame.insert(0, "application_id", [r[0] for r in rows])
    frame["defaulted"] = [int(r[2]) for r in rows]
    return frame.drop_duplicates("application_id").reset_index(drop=True)


def held_out(application_ids: pd.Series, share: float) -> np.ndarray:
    """A stable split by application: the same application is always on the same side."""
    digest = [
        int(hashlib.sha256(str(a).encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
        for a in application_ids
    ]
    return np.asarray(digest) < share


@dataclass(frozen=True)
class RetrainOutcome:
    action: str  # promote | keep | skip
    reason: str
    version: str | None = None
    champion: str | None = None
    challenger_score: float | None = None
    champion_score: float | None = None
    rows: int = 0


def retrain_and_gate(engine: sa.Engine, day: dt.date, cfg: MlopsConfig) -> RetrainOutcome:
    """The automated response to drift (see the module's docstring)."""
    from mlops import data, evaluate, train
    from tenfold import promotion, tracking
    from tenfold.data import DataSource
    from tenfold.promotion import ValidationSet
    from tenfold.training import TrainResult

    mon = cfg.monitor
    first = day - dt.timedelta(days=mon.recent_days - 1)
    recent = labelled(engine, first, day)
    if len(recent) < 2 * mon.min_window_rows:
        outcome = RetrainOutcome(
            "skip",
            f"{len(recent)} labelled applications since {first}: "
            f"too few to retrain (labels arrive "
            f"{cfg.simulation.label_delay_days} days later)",
            rows=len(recent),
        )
        _event(engine, day, cfg, outcome)
        return outcome
    hold = held_out(recent["application_id"], mon.holdout_share)
    fit_rows, gate_rows = recent[~hold], recent[hold]
    frame, _ = data.load(cfg)
    original = train.split(train.prepare(frame, cfg), cfg)
    # the new world, and as many rows of the old one (seeded): what has not changed
    # stays learnt, what has changed dominates
    rng = np.random.default_rng(cfg.seed)
    keep = rng.choice(
        len(original.X_train), min(len(fit_rows), len(original.X_train)), replace=False
    )
    X = pd.concat([fit_rows[list(MODEL_INPUTS)], original.X_train.iloc[keep]], ignore_index=True)
    y = np.concatenate([fit_rows["defaulted"].to_numpy(), original.y_train[keep]])
    champion = tracking.load_sklearn_model(f"models:/{cfg.model_name}@champion")
    candidate = train.retrain(champion.model, X, y, cfg)
    source = DataSource(
        dataset="mlops-prediction-log",
        kind="real",
        origin="lake",
        steps=(f"labelled applications {first}..{day}",),
    )
    result = TrainResult({candidate.name: candidate}, candidate.name, None, source, X.head(5))
    retrain_cfg = dataclasses.replace(cfg, experiment=f"{cfg.experiment}-retraining")
    tracking.log_training(result, config=retrain_cfg, tags={"mlops.window": day.isoformat()})
    version = promotion.register_challenger(result, cfg.model_name)
    X_gate = gate_rows[list(MODEL_INPUTS)]
    y_gate = gate_rows["defaulted"].to_numpy()
    rows = ValidationSet.of(f"held-out labelled applications {first}..{day}", X_gate, y_gate)
    gate, score = evaluate.log_loss_gate(rows, X_gate, y_gate, cfg.promotion_margin)
    decision, record = promotion.promote_if_better(cfg.model_name, version, gate, score)
    if decision.promote:
        save_reference(version, fit_rows)
    outcome = RetrainOutcome(
        "promote" if decision.promote else "keep",
        decision.reason,
        version,
        record.champion,
        decision.challenger_score,
        decision.champion_score,
        len(recent),
    )
    _event(engine, day, cfg, outcome)
    return outcome


def _event(engine: sa.Engine, day: dt.date, cfg: MlopsConfig, outcome: RetrainOutcome) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.insert(model_events),
            {
                "at": now(),
                "window_start": day,
                "action": outcome.action,
                "model": cfg.model_name,
                "version": outcome.version,
                "champion": outcome.champion,
                "metric": "log-loss",
                "challenger_score": outcome.challenger_score,
                "champion_score": outcome.champion_score,
                "rows": outcome.rows,
                "reason": outcome.reason,
            },
        )


def summary_rows(engine: sa.Engine) -> list[dict[str, Any]]:
    """Per business day: requests, versions that answered, drift share, events."""
    with engine.connect() as connection:
        served = connection.execute(
            sa.select(
                predictions.c.application_date, predictions.c.model_version, sa.func.count()
            ).group_by(predictions.c.application_date, predictions.c.model_version)
        ).all()
        drift = connection.execute(
            sa.select(
                drift_metrics.c.window_start, drift_metrics.c.drift_share, drift_metrics.c.drifted
            )
        ).all()
        events = connection.execute(
            sa.select(
                model_events.c.window_start,
                model_events.c.action,
                model_events.c.version,
                model_events.c.challenger_score,
                model_events.c.champion_score,
            )
        ).all()
    days: dict[dt.date, dict[str, Any]] = {}
    for day, version, count in served:
        entry = days.setdefault(day, {"day": day, "requests": 0, "versions": {}})
        entry["requests"] += int(count)
        entry["versions"][str(version)] = int(count)
    for day, share, drifted in drift:
        days.setdefault(day, {"day": day, "requests": 0, "versions": {}}).update(
            drift_share=float(share), drifted=bool(drifted)
        )
    for day, action, version, challenger, champion in events:
        days.setdefault(day, {"day": day, "requests": 0, "versions": {}}).update(
            action=action, candidate=version, challenger_score=challenger, champion_score=champion
        )
    return [days[d] for d in sorted(days)]
