"""The API: series scoring, streams with bounded state, client mistakes as 422s, the
shared ops routes, the API key."""

from __future__ import annotations

import dataclasses
import tracemalloc
import types
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from anomaly.config import COMBINED, CONSENSUS, DetectorConfig
from anomaly.serve import SERVICE, SPEC, AnomalyPredictor, AnomalyService, AnomalySettings
from anomaly.streaming import StreamStore
from anomaly.train import AnomalyModel
from tenfold.serving import ModelCard, create_app

NAMES = ("zscore", "iqr", "iforest", "lof")


def predictor(small_cfg: DetectorConfig) -> AnomalyPredictor:
    model = AnomalyModel(
        detectors=NAMES,
        detector_config=dataclasses.asdict(small_cfg),
        thresholds=dict.fromkeys((*NAMES, *COMBINED), 0.3),
        champion=CONSENSUS,
        seed=1,
    ).fit()
    return AnomalyPredictor(model, ModelCard(name="anomaly-test", version="7"))


def serving(small_cfg: DetectorConfig, **settings: Any) -> TestClient:
    """The service built by the factory (with a tiny model handed in): its lifespan
    opens the streams' store."""
    options = {"stream_probation": 150, **settings}
    return TestClient(create_app(SPEC, AnomalySettings(**options), predictor=predictor(small_cfg)))


def streams_of(client: TestClient) -> AnomalyService:
    service: AnomalyService = client.app.state.service.resources[SERVICE]  # type: ignore[attr-defined]
    return service


@pytest.fixture
def client(small_cfg: DetectorConfig) -> Iterator[TestClient]:
    with serving(small_cfg) as test_client:
        yield test_client


def test_a_series_is_scored_and_the_spike_flagged(client: TestClient, planted: np.ndarray) -> None:
    response = client.post("/v1/series/score", json={"values": planted.tolist(), "probation": 150})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["n_rows"] == 600
    assert body["probation"] == 150
    assert set(body["scores"]) == {*NAMES, *COMBINED}
    assert len(body["scores"]["lof"]) == 600
    assert 450 in body["anomalies"]
    assert body["families_flagged"][450] == 2
    # the factory's /v1/predict scores a series the same way
    same = client.post("/v1/predict", json={"values": planted.tolist(), "probation": 150})
    assert same.json()["scores"] == body["scores"]


def test_a_stream_answers_per_point_and_learns_first(
    client: TestClient, planted: np.ndarray
) -> None:
    first = client.post("/v1/streams/pump-7/points", json={"values": planted[:100].tolist()})
    assert first.status_code == 200, first.text
    assert first.json()["rows_seen"] == 100
    assert all(p["learning"] for p in first.json()["points"])
    rest = client.post("/v1/streams/pump-7/points", json={"values": planted[100:].tolist()})
    points = rest.json()["points"]
    assert points[0]["index"] == 100
    assert not points[-1]["learning"]
    spike = points[450 - 100]
    assert spike["anomaly"]
    assert spike["scores"]["lof"] > 0.3
    info = client.get("/v1/streams").json()
    assert info["active"] == 1
    # the same series as one batch request gives the same scores
    batch = client.post("/v1/series/score", json={"values": planted.tolist(), "probation": 150})
    assert spike["scores"]["lof"] == pytest.approx(batch.json()["scores"]["lof"][450], abs=1e-6)
    assert client.delete("/v1/streams/pump-7").status_code == 204
    assert client.delete("/v1/streams/pump-7").status_code == 404


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/series/score", {"values": [1.0, 2.0]}, "values"),
        ("/v1/series/score", {"values": [1.0] * 20, "probation": 50}, "body"),
        ("/v1/series/score", {"values": [[1.0, 2.0], [1.0]] * 10}, "body"),
        ("/v1/series/score", {"values": [1.0] * 20, "colour": "red"}, "colour"),
        ("/v1/streams/pump-7/points", {"values": []}, "values"),
        ("/v1/streams/pump-7/points", {"values": ["warm"]}, "values"),
        ("/v1/streams/bad id!/points", {"values": [1.0]}, "stream_id"),
        ("/v1/streams/pump-7/points", {"values": [True]}, "values"),
        ("/v1/series/score", {"values": [1.0] * 20, "probation": "15"}, "probation"),
        ("/v1/series/score", {"values": [1.0] * 20, "probation": 5}, "probation"),
        ("/v1/series/score", {"values": [1.0] * 12}, "values"),
        ("/v1/series/score", {"values": [[1.0], []] * 10}, "values"),
    ],
)
def test_client_mistakes_are_422s_naming_the_field(
    client: TestClient, path: str, body: dict[str, object], field: str
) -> None:
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["detail"]]
    assert any(f == field or f.startswith(f"{field}.") for f in fields), fields


def test_a_stream_keeps_its_number_of_variables(client: TestClient) -> None:
    client.post("/v1/streams/two/points", json={"values": [[1.0, 2.0]] * 3})
    response = client.post("/v1/streams/two/points", json={"values": [5.0]})
    assert response.status_code == 422
    assert "2 variable(s)" in response.json()["detail"][0]["message"]


def live_bytes_of_the_package() -> int:
    """Live memory allocated by this package's code and numpy: what the streams hold, not
    what the test harness keeps (pytest holds every log record of a test, and httpx logs a
    line per request once an earlier test has set INFO logging)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, "*/src/anomaly/*"), tracemalloc.Filter(True, "*/numpy/*")]
    )
    return sum(stat.size for stat in snapshot.statistics("filename"))


def test_many_streams_stay_within_the_bound(small_cfg: DetectorConfig) -> None:
    """500 streams through a store of 50: at most 50 are held, the oldest go first, and
    memory stops growing with the number of streams."""
    with serving(small_cfg, max_streams=50) as client:
        store = streams_of(client).store
        body = {"values": list(np.sin(np.arange(30) / 3.0))}
        tracemalloc.start()
        for k in range(100):
            client.post(f"/v1/streams/s{k}/points", json=body)
        after_100 = live_bytes_of_the_package()
        for k in range(100, 500):
            client.post(f"/v1/streams/s{k}/points", json=body)
        after_500 = live_bytes_of_the_package()
        tracemalloc.stop()
        info = client.get("/v1/streams").json()
        assert "s499" in store
        assert "s0" not in store
    assert info["active"] == 50
    assert info["evicted"] == 450
    assert len(store) == 0  # forgotten at shutdown
    # five times the streams, (nearly) the same memory: the state is bounded
    assert after_500 < 1.5 * after_100


def test_idle_streams_expire() -> None:
    now = [0.0]
    store: StreamStore[types.SimpleNamespace] = StreamStore(
        max_streams=10, ttl_seconds=60, clock=lambda: now[0]
    )
    new = lambda: types.SimpleNamespace(last_used=0.0)  # noqa: E731
    store.get("a", new)
    now[0] = 30.0
    store.get("b", new)
    now[0] = 75.0  # "a" idle 75 s, "b" 45 s
    store.get("c", new)
    assert "a" not in store
    assert "b" in store
    assert "c" in store


def test_ops_routes_and_the_api_key(small_cfg: DetectorConfig) -> None:
    from pydantic import SecretStr

    with serving(small_cfg, api_key=SecretStr("s3cret")) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/ready").status_code == 200
        assert client.get("/v1/model").status_code == 401
        assert client.post("/v1/streams/a/points", json={"values": [1.0]}).status_code == 401
        ok = client.post(
            "/v1/streams/a/points", json={"values": [1.0]}, headers={"X-API-Key": "s3cret"}
        )
        assert ok.status_code == 200
        card = client.get("/v1/model", headers={"X-API-Key": "s3cret"}).json()
        assert card["name"] == "anomaly-test"


def test_a_stream_keeps_the_model_it_began_with(small_cfg: DetectorConfig) -> None:
    """A hot reload swaps the served model: new streams score with it, a stream already
    running keeps its own (its detectors learnt under that configuration)."""
    with serving(small_cfg) as client:
        first = client.post("/v1/streams/old/points", json={"values": [1.0, 2.0]})
        assert first.json()["model_version"] == "7"
        newer = predictor(small_cfg)
        newer.card = ModelCard(name="anomaly-test", version="8")
        client.app.state.service.swap(newer)  # type: ignore[attr-defined]
        assert (
            client.post("/v1/streams/old/points", json={"values": [3.0]}).json()["model_version"]
            == "7"
        )
        assert (
            client.post("/v1/streams/new/points", json={"values": [3.0]}).json()["model_version"]
            == "8"
        )
        assert client.get("/v1/model").json()["version"] == "8"


@pytest.mark.usefixtures("isolated_tracking")
def test_without_a_registry_the_published_thresholds_are_served() -> None:
    from anomaly.serve import load_predictor, published_model
    from tenfold.tracking import ModelLoadError

    served = load_predictor(AnomalySettings())
    published = published_model()
    assert served.card.name == "anomaly (published thresholds)"
    assert served.model.thresholds == published.thresholds
    assert served.model.champion == published.champion
    # a model asked for by name is never replaced by the published thresholds
    with pytest.raises(ModelLoadError, match="models:/anomaly/3"):
        load_predictor(AnomalySettings(model_uri="models:/anomaly/3"))


def test_the_model_refuses_too_short_a_probation(small_cfg: DetectorConfig) -> None:
    """A series' detectors must learn from some rows and score some: otherwise a clear
    error on `probation` (the API's 422, the CLI's one line), never a fit that fails."""
    from tenfold.errors import InvalidInput

    model = predictor(small_cfg).model
    values = np.sin(np.arange(40) / 3.0)
    assert model.probation(len(values)) == model.min_probation == 10  # 15 % would be 6
    with pytest.raises(InvalidInput, match="at least 10 rows must be learnt, not 3"):
        model.score_series(values, probation=3)
    with pytest.raises(InvalidInput, match="leave none of the 40"):
        model.score_series(values, probation=40)
    assert set(model.score_series(values)) == {*NAMES, *COMBINED}
