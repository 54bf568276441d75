"""The prediction log on a real PostgreSQL: migrations, and zero lost logs when the
database is killed and restarted under load (exactly one row per 200 response)."""

from __future__ import annotations

import asyncio
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from mlops.predictions import (
    PredictionLog,
    count_rows,
    create_engine,
    database,
    migrate,
    prediction_row,
    predictions,
)
from mlops.serve import EXAMPLE, SPEC, MlopsSettings, ScorecardPredictor
from tenfold.serving import PredictionRecord, create_app
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


def _record(k: int) -> PredictionRecord:
    return PredictionRecord(
        request_id=f"req-{k}",
        endpoint="/v1/predict",
        model="mlops",
        model_version="3",
        inputs={**EXAMPLE, "application_id": f"app-{k}", "note": "café, \\ \t tab"},
        outputs={"probability_of_default": 0.125 + k / 100, "score": 612.5, "risk_band": "C"},
        timestamp=datetime(2026, 3, 4, 5, 6, 7, 890_000 + k, tzinfo=UTC),
        latency_ms=1.23456,
        index=k,
    )


def test_the_live_copy_path_writes_what_the_insert_path_writes(
    pg: PostgresServer, tmp_path: Path
) -> None:
    """Fresh rows go by COPY, re-sent spool rows by INSERT ... ON CONFLICT: the same
    records written both ways read back equal (JSON with escapes, dates, time zones),
    and re-sending rows that are already there adds none."""
    records = [_record(k) for k in range(3)]

    def read(url: str) -> list[dict[str, object]]:
        engine = create_engine(database(url))
        with engine.connect() as connection:
            rows = connection.execute(sa.select(predictions).order_by(predictions.c.request_id))
            out = [{k: v for k, v in row._mapping.items() if k != "record_id"} for row in rows]
        engine.dispose()
        return out

    async def write(url: str, spool: Path) -> PredictionLog:
        async with PredictionLog(database(url), spool) as log:
            await log.write(records)
        return log

    copied = asyncio.run(write(pg.url, tmp_path / "a"))
    assert copied.inserted == 3
    assert copied.spooled == 0
    by_copy = read(pg.url)
    # the same records through the INSERT path: spooled first, then flushed
    engine = sa.create_engine(pg.url)
    with engine.begin() as connection:
        connection.execute(sa.delete(predictions))
    engine.dispose()
    log = PredictionLog(database(pg.url), tmp_path / "b")
    log.spool_dir.mkdir(parents=True)
    log._spool(_rows(records))
    assert log.flush() == 3
    by_insert = read(pg.url)
    assert by_copy == by_insert
    assert by_copy[0]["inputs"]["note"] == "café, \\ \t tab"  # type: ignore[index]
    assert by_copy[0]["logged_at"] == records[0].timestamp
    # a spool file whose rows were committed already: re-sent, nothing added
    engine = create_engine(database(pg.url))
    with engine.connect() as connection:
        ids = [r[0] for r in connection.execute(sa.select(predictions.c.record_id))]
    log._spool([{**row, "record_id": rid} for row, rid in zip(_rows(records), ids, strict=True)])
    assert log.flush() == 3
    assert count_rows(engine) == 3
    engine.dispose()
    log.engine.dispose()


def _rows(records: list[PredictionRecord]) -> list[dict[str, object]]:
    return [prediction_row(r, f"{k:032x}") for k, r in enumerate(records)]


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
