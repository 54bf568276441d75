"""The Prefect flows: ``monitor`` (drift of the latest window → PostgreSQL, report files,
Prometheus; drift above the threshold triggers ``retrain``) and ``retrain`` (recent
labelled data → challenger → the gate against production on held-out rows).

Tasks are thin: each calls one function of :mod:`mlops.monitor` and adds what Prefect
is for (state, retries, logs, the schedule). :func:`deployments` gives the interval
deployment that runs the monitor (``python -m mlops monitor --serve``).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task

from mlops import monitor
from mlops.config import MlopsConfig
from mlops.predictions import create_engine, database
from tenfold.flows import interval_deployment, no_cache

TASK: dict[str, Any] = {"cache_policy": no_cache()}
# the monitor process's gauges (set by whoever serves them: ``monitor --serve``, the demo)
METRICS: dict[str, monitor.MonitorMetrics] = {}
# the database may be restarting: a few tries before the run fails
DB_TASK: dict[str, Any] = {**TASK, "retries": 3, "retry_delay_seconds": [2, 5, 10]}


def default_reports() -> Path:
    from tenfold import paths

    return paths.state_dir() / "mlops" / "monitoring"


@task(name="drift of the latest window", **DB_TASK)
def check_window_task(database_url: str | None, day: dt.date, reports: Path) -> monitor.WindowCheck:
    engine = create_engine(database(database_url))
    try:
        return monitor.check_window(engine, day, MlopsConfig(), reports, METRICS.get("monitor"))
    finally:
        engine.dispose()


@task(name="retrain and gate", **TASK)
def retrain_task(database_url: str | None, day: dt.date) -> monitor.RetrainOutcome:
    engine = create_engine(database(database_url))
    try:
        return monitor.retrain_and_gate(engine, day, MlopsConfig())
    finally:
        engine.dispose()


@flow(name="mlops-retrain", log_prints=False)
def retrain(day: str, database_url: str | None = None) -> monitor.RetrainOutcome:
    """Recent labelled data → retrain the champion's design → promote only if better."""
    outcome = retrain_task(database_url, dt.date.fromisoformat(day))
    get_run_logger().info("retrain %s: %s (%s)", day, outcome.action, outcome.reason)
    return outcome


@flow(name="mlops-monitor", log_prints=False)
def monitor_flow(
    day: str | None = None,
    database_url: str | None = None,
    reports: str | None = None,
) -> tuple[monitor.WindowCheck, monitor.RetrainOutcome | None]:
    """Drift of business day ``day`` (default: yesterday, UTC) and, above the
    threshold, the retraining flow."""
    when = dt.date.fromisoformat(day) if day else dt.datetime.now(dt.UTC).date() - dt.timedelta(1)
    folder = Path(reports) if reports else default_reports()
    check = check_window_task(database_url, when, folder)
    logger = get_run_logger()
    if check.drift_share is None:
        logger.info("%s: %d requests, too few to compare", when, check.rows)
        return check, None
    logger.info(
        "%s: drift share %.2f (%s)",
        when,
        check.drift_share,
        ", ".join(check.drifted_columns) or "no drifted input",
    )
    if not check.drifted:
        return check, None
    return check, retrain(when.isoformat(), database_url)


def deployments(every_minutes: int, database_url: str | None) -> list[Any]:
    """The monitor on an interval (it checks yesterday's window each time)."""
    return [
        interval_deployment(
            monitor_flow,
            "hourly",
            every=dt.timedelta(minutes=every_minutes),
            parameters={"database_url": database_url},
            description="Evidently drift of the latest day of logged requests; retrain on drift",
            tags=["mlops"],
        )
    ]
