"""The API in-process: scoring, documented errors, and every 200 logged once to the
prediction log (the embedded SQLite here; PostgreSQL in test_postgres.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from mlops.predictions import create_engine, database, predictions
from mlops.serve import EXAMPLE, SPEC, MlopsSettings, ScorecardPredictor
from tenfold.serving import create_app


def wait_for_rows(engine: sa.Engine, n: int, timeout: float = 10.0) -> int:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            found = int(
                connection.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one()
            )
        if found >= n or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


@pytest.fixture
def client(tmp_path: Path, predictor: ScorecardPredictor) -> Iterator[TestClient]:
    settings = MlopsSettings(
        reload_seconds=0,
        MLOPS_DATABASE_URL=f"sqlite:///{tmp_path / 'log.db'}",
        MLOPS_SPOOL_DIR=tmp_path / "spool",
    )
    with TestClient(create_app(SPEC, settings, predictor=predictor)) as c:
        yield c


def test_score_one_and_a_batch_and_log_each(client: TestClient, tmp_path: Path) -> None:
    one = client.post("/v1/predict", json=EXAMPLE, headers={"x-request-id": "req-1"})
    assert one.status_code == 200, one.text
    body = one.json()
    assert body["risk_band"] in "ABCDE"
    assert 0 < body["probability_of_default"] < 1
    assert len(body["reason_codes"]) == 3
    batch = client.post("/v1/predict/batch", json={"items": [EXAMPLE, {**EXAMPLE, "AGE": 60}]})
    assert batch.status_code == 200
    engine = create_engine(database(f"sqlite:///{tmp_path / 'log.db'}"))
    assert wait_for_rows(engine, 3) == 3
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(predictions).order_by(predictions.c.item_index, predictions.c.request_id)
        )
        logged = [dict(r._mapping) for r in rows]
    first = next(r for r in logged if r["request_id"] == "req-1")
    assert first["application_id"] == "A-000001"
    assert str(first["application_date"]) == "2025-01-01"
    assert first["probability"] == body["probability_of_default"]
    assert first["inputs"]["PAY_0"] == 2
    assert first["outputs"]["score"] == body["score"]
    assert first["model_version"] == "1"
    assert first["latency_ms"] > 0
    assert sorted(r["item_index"] for r in logged if r["request_id"] != "req-1") == [0, 1]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"AGE": 12}, "AGE"),
        ({"PAY_0": 11}, "PAY_0"),
        ({"LIMIT_BAL": "a lot"}, "LIMIT_BAL"),
        ({"SEX": 1}, "SEX"),
        ({"application_date": "yesterday"}, "application_date"),
    ],
)
def test_bad_requests_are_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    answer = client.post("/v1/predict", json={**EXAMPLE, **change})
    assert answer.status_code == 422
    assert [e["field"] for e in answer.json()["detail"]] == [field]


def test_metrics_show_the_log_and_the_score_distribution(client: TestClient) -> None:
    for _ in range(3):
        assert client.post("/v1/predict", json=EXAMPLE).status_code == 200
    time.sleep(0.5)
    text = client.get("/metrics").text
    assert 'mlops_probability_of_default_count{model_version="1"} 3.0' in text
    assert "mlops_prediction_log_database_up 1.0" in text
    assert 'tenfold_model_info{model="mlops",run_id="test",version="1"} 1.0' in text


def test_logging_off_logs_nothing(tmp_path: Path, predictor: ScorecardPredictor) -> None:
    settings = MlopsSettings(
        reload_seconds=0,
        MLOPS_PREDICTION_LOGGING=False,
        MLOPS_DATABASE_URL=f"sqlite:///{tmp_path / 'off.db'}",
    )
    with TestClient(create_app(SPEC, settings, predictor=predictor)) as c:
        assert c.post("/v1/predict", json=EXAMPLE).status_code == 200
        assert "mlops_prediction_log_database_up" not in c.get("/metrics").text
    assert not (tmp_path / "off.db").exists()


def test_embedded_default_is_announced(
    tmp_path: Path,
    predictor: ScorecardPredictor,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("MLOPS_DATABASE_URL", raising=False)
    monkeypatch.setenv("TENFOLD_STATE_DIR", str(tmp_path / "state"))
    with TestClient(create_app(SPEC, MlopsSettings(reload_seconds=0), predictor=predictor)):
        pass
    assert "MLOPS_DATABASE_URL not set, using the embedded SQLite" in caplog.text
    assert (tmp_path / "state" / "mlops" / "predictions.db").is_file()
