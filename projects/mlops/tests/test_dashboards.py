"""Grafana cannot run here, so its provisioning is tested as far as possible without it:
after a small scenario (simulated days through the API into PostgreSQL, the monitor on
each day), every SQL panel query runs on the real PostgreSQL schema and every PromQL
query on Debian's Prometheus scraping the API and the monitor, and each returns data."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import shutil
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from prometheus_client import start_http_server

from mlops import monitor, simulator
from mlops.config import PROJECT_DIR, MlopsConfig
from mlops.demo import prometheus, query
from mlops.predictions import create_engine, database, migrate
from mlops.serve import SPEC, MlopsSettings, ScorecardPredictor
from tenfold.benchmark import free_port
from tenfold.serving import create_app
from tenfold.testing import PostgresServer

from .conftest import running

pytestmark = pytest.mark.service
DEPLOY = PROJECT_DIR / "deploy"


def targets() -> tuple[list[str], list[str]]:
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "mlops.json").read_text())
    sql, promql = [], []
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            kind = target["datasource"]["type"]
            (sql if "postgres" in kind else promql).append(
                target["rawSql"] if "postgres" in kind else target["expr"]
            )
    return sql, promql


def test_dashboard_covers_what_the_issue_asks_and_datasources_match() -> None:
    sql, promql = targets()
    text = " ".join(sql + promql)
    for needed in (
        "tenfold_http_requests_total",
        "tenfold_http_request_duration_seconds",
        "mlops_probability_of_default",
        "tenfold_model_info",
        "drift_metrics",
        "feature_drift",
        "model_version",
    ):
        assert needed in text, needed
    sources = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/datasources.yml").read_text()
    )["datasources"]
    uids = {s["uid"] for s in sources}
    dashboard = json.loads((DEPLOY / "grafana" / "dashboards" / "mlops.json").read_text())
    assert {p["datasource"]["uid"] for p in dashboard["panels"]} <= uids


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="Debian's prometheus missing")
@pytest.mark.usefixtures("isolated_tracking")
def test_every_panel_query_returns_data_after_a_scenario(
    pg: PostgresServer,
    predictor: ScorecardPredictor,
    small_model: tuple[Any, Any],
    tmp_path: Path,
) -> None:
    _, data = small_model
    cfg = MlopsConfig()
    cfg = dataclasses.replace(
        cfg,
        simulation=dataclasses.replace(cfg.simulation, requests_per_day=120, drift_day=1),
        monitor=dataclasses.replace(cfg.monitor, min_window_rows=50, reference_sample=1000),
    )
    migrate(pg.url)
    settings = MlopsSettings(
        reload_seconds=0, MLOPS_DATABASE_URL=pg.url, MLOPS_SPOOL_DIR=tmp_path / "spool"
    )
    app = create_app(SPEC, settings, predictor=predictor)
    metrics = monitor.MonitorMetrics.create()
    monitor_port = free_port()
    server, _ = start_http_server(monitor_port, addr="127.0.0.1", registry=metrics.registry)
    engine = create_engine(database(pg.url))
    try:
        with running(app) as base:
            api = base.removeprefix("http://")
            with prometheus(
                {"api": api, "monitor": f"127.0.0.1:{monitor_port}"}, tmp_path / "prometheus"
            ) as prom:
                assert prom is not None
                for index in range(3):
                    day = simulator.simulate_day(data.X_test, data.y_test, cfg.simulation, index, 7)
                    sent = simulator.send(base, day.requests, concurrency=4)
                    assert sent.failed == 0
                    time.sleep(1.0)  # the log's writer batches off the request path
                    monitor.record_outcomes(engine, day.outcomes, day.date)
                    monitor.check_window(
                        engine,
                        day.date,
                        cfg,
                        tmp_path / "reports",
                        metrics,
                        reference=(data.X_train, "test reference"),
                    )
                strict = dataclasses.replace(
                    cfg, monitor=dataclasses.replace(cfg.monitor, min_window_rows=1000)
                )
                outcome = monitor.retrain_and_gate(engine, dt.date(2025, 1, 3), strict)
                assert outcome.action == "skip"  # 240 labelled rows: too few
                time.sleep(6)  # several scrapes at 1 s
                sql, promql = targets()
                empty = [q for q in promql if not query(prom, q)]
                assert not empty, f"PromQL panels without data: {empty}"
                up = query(prom, "up")
                assert {r["metric"]["job"]: r["value"][1] for r in up} == {
                    "api": "1",
                    "monitor": "1",
                }
        with engine.connect() as connection:
            for statement in sql:
                rows = connection.execute(sa.text(statement)).all()
                assert rows, f"SQL panel without data: {statement}"
        assert (tmp_path / "reports" / "drift" / "2025-01-02" / "drift.html").is_file()
    finally:
        server.shutdown()
        engine.dispose()
