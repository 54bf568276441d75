"""The prediction log on a real PostgreSQL: migrations, and zero lost logs when the
database is killed and restarted under load (exactly one row per 200 response)."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlops.predictions import count_rows, create_engine, database, migrate, predictions
from mlops.serve import EXAMPLE, SPEC, MlopsSettings, ScorecardPredictor
from tenfold.serving import create_app
from tenfold.testing import PostgresServer

from .conftest import load_for, running

pytestmark = pytest.mark.service


def test_migrations_create_the_schema_and_are_idempotent(pg: PostgresServer) -> None:
    assert migrate(pg.url) == "0001"
    assert migrate(pg.url) == "0001"
    engine = sa.create_engine(pg.url)
    inspector = sa.inspect(engine)
    assert {"predictions", "outcomes", "drift_metrics", "feature_drift", "model_events"} <= set(
        inspector.get_table_names()
    )
    types = {c["name"]: type(c["type"]).__name__ for c in inspector.get_columns("predictions")}
    assert types["inputs"] == "JSONB"
    engine.dispose()


def test_zero_lost_logs_when_postgres_is_killed_under_load(
    pg: PostgresServer, predictor: ScorecardPredictor, tmp_path: Path
) -> None:
    """SIGKILL to PostgreSQL one second into six seconds of load, restart two seconds
    later: the API keeps answering (spooling), and after recovery the table holds
    exactly one row per 200 response."""
    settings = MlopsSettings(
        reload_seconds=0, MLOPS_DATABASE_URL=pg.url, MLOPS_SPOOL_DIR=tmp_path / "spool"
    )
    app = create_app(SPEC, settings, predictor=predictor)
    timeline: list[str] = []

    def chaos() -> None:
        time.sleep(1.0)
        pg.crash()
        timeline.append("killed")
        time.sleep(2.0)
        pg.start()
        timeline.append("restarted")

    with running(app) as base:
        killer = threading.Thread(target=chaos)
        killer.start()
        seen = load_for(base, 6.0, EXAMPLE)
        killer.join()
        log = app.state.service.resources["prediction_log"]
        deadline = time.monotonic() + 30
        while log.pending_rows() and time.monotonic() < deadline:
            time.sleep(0.2)
        spooled = log.spooled
    assert timeline == ["killed", "restarted"]
    assert not seen.errors
    statuses = {status for status, _, _ in seen.answers}
    assert statuses == {200}, statuses
    assert spooled > 0, "the database was never seen down: the test proved nothing"
    engine = create_engine(database(pg.url))
    with engine.connect() as connection:
        logged = [r[0] for r in connection.execute(sa.select(predictions.c.request_id))]
    assert len(logged) == len(seen.ok_ids) > 100
    assert sorted(logged) == sorted(seen.ok_ids)
    assert count_rows(engine) == len(seen.ok_ids)
    assert not list((tmp_path / "spool").glob("*.jsonl"))
    engine.dispose()


def test_api_starts_with_the_database_down_and_flushes_later(
    pg: PostgresServer, predictor: ScorecardPredictor, tmp_path: Path
) -> None:
    pg.stop()
    settings = MlopsSettings(
        reload_seconds=0, MLOPS_DATABASE_URL=pg.url, MLOPS_SPOOL_DIR=tmp_path / "spool"
    )
    app = create_app(SPEC, settings, predictor=predictor)
    with running(app) as base:
        seen = load_for(base, 1.0, EXAMPLE, concurrency=2)
        time.sleep(0.5)
        log = app.state.service.resources["prediction_log"]
        assert log.pending_rows() == len(seen.ok_ids) > 0
        pg.start()
        deadline = time.monotonic() + 30
        while log.pending_rows() and time.monotonic() < deadline:
            time.sleep(0.2)
    engine = create_engine(database(pg.url))
    assert count_rows(engine) == len(seen.ok_ids)
    engine.dispose()
