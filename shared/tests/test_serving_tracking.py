"""The app factory (status codes, request ids, metrics, API key) and MLflow tracking."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from pydantic import BaseModel, Field
from sklearn.linear_model import LogisticRegression

from tenfold import tracking
from tenfold.data import DataSource
from tenfold.serving import (
    InvalidInput,
    ModelCard,
    ServiceSettings,
    ServiceSpec,
    create_app,
)


class Req(BaseModel):
    x: float = Field(ge=0)
    label: str = "a"


class Resp(BaseModel):
    doubled: float


class Doubler:
    card = ModelCard(name="doubler", version="3", run_id="abc", metrics={"rmse": 0.1})

    def predict(self, items: Sequence[Req]) -> list[Resp]:
        if any(item.label == "boom" for item in items):
            raise RuntimeError("a bug, not the client's fault")
        if any(item.label == "unknown" for item in items):
            raise InvalidInput("label", "not a label this model knows")
        return [Resp(doubled=2 * item.x) for item in items]


def never_loaded(settings: ServiceSettings) -> Doubler:
    raise AssertionError("tests hand in the predictor")


SPEC = ServiceSpec(
    name="doubler",
    title="doubler",
    request=Req,
    response=Resp,
    load=never_loaded,
    default_model_uri="models:/doubler@champion",
)


def client(**settings: object) -> TestClient:
    return TestClient(
        create_app(SPEC, ServiceSettings(**settings), predictor=Doubler()),
        raise_server_exceptions=False,
    )


def test_predict_batch_and_card() -> None:
    with client() as c:
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/ready").json()["version"] == "3"
        assert c.post("/v1/predict", json={"x": 2.5}).json() == {"doubled": 5.0}
        batch = c.post("/v1/predict/batch", json={"items": [{"x": 1}, {"x": 2}]}).json()
        assert [p["doubled"] for p in batch["predictions"]] == [2.0, 4.0]
        card = c.get("/v1/model").json()
        assert card["run_id"] == "abc"
        assert card["input_schema"]["properties"]["x"]


def test_client_mistakes_are_422_naming_the_field() -> None:
    with client() as c:
        response = c.post("/v1/predict", json={"x": -1, "extra": 1})
        assert response.status_code == 422
        fields = [d["field"] for d in response.json()["detail"]]
        assert fields == ["x"]
        assert response.json()["request_id"] == response.headers["x-request-id"]
        assert (
            c.post(
                "/v1/predict", content=b"{not json", headers={"content-type": "application/json"}
            ).status_code
            == 422
        )
        semantic = c.post("/v1/predict", json={"x": 1, "label": "unknown"})
        assert semantic.status_code == 422
        assert semantic.json()["detail"][0]["field"] == "label"
        assert c.post("/v1/predict/batch", json={"items": []}).status_code == 422


def test_batch_size_is_capped() -> None:
    with client(max_batch=2) as c:
        response = c.post("/v1/predict/batch", json={"items": [{"x": 1}] * 3})
        assert response.status_code == 422
        assert response.json()["detail"][0]["field"] == "items"


def test_server_errors_are_500_with_a_request_id() -> None:
    with client() as c:
        response = c.post(
            "/v1/predict", json={"x": 1, "label": "boom"}, headers={"x-request-id": "trace-42"}
        )
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error", "request_id": "trace-42"}


def test_api_key_guards_the_v1_routes_only() -> None:
    with client(api_key="s3cret") as c:
        assert c.post("/v1/predict", json={"x": 1}).status_code == 401
        assert (
            c.post("/v1/predict", json={"x": 1}, headers={"X-API-Key": "wrong"}).status_code == 401
        )
        assert (
            c.post("/v1/predict", json={"x": 1}, headers={"X-API-Key": "s3cret"}).status_code == 200
        )
        assert c.get("/health").status_code == 200


def test_prometheus_metrics() -> None:
    with client() as c:
        c.post("/v1/predict", json={"x": 1})
        c.post("/v1/predict", json={"x": -1})
        text = c.get("/metrics").text
    assert (
        'tenfold_http_requests_total{endpoint="/v1/predict",method="POST",status="200"} 1.0' in text
    )
    assert (
        'tenfold_http_requests_total{endpoint="/v1/predict",method="POST",status="422"} 1.0' in text
    )
    assert 'tenfold_model_info{model="doubler",run_id="abc",version="3"} 1.0' in text
    assert "tenfold_http_request_duration_seconds_bucket" in text


def test_run_records_provenance_and_registers_a_champion(isolated_tracking: Path) -> None:
    X = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 3})
    y = (X["a"] > 9).astype(int).to_numpy()
    model = LogisticRegression().fit(X, y)
    source = DataSource(
        dataset="toy",
        kind="real",
        origin="cache",
        sha256={"toy.csv": "ab12"},
        steps=("data: toy found in cache",),
    )
    with tracking.start_run(
        "exp", "train", config={"seed": 3, "nested": {"c": 1.0}}, data=source, seed=3
    ) as run:
        logged = tracking.log_sklearn_model(
            model,
            input_example=X.head(3),
            requirements=["pandas"],
            metadata={"decision_threshold": 0.4},
        )
        tracking.log_metrics({"lift@10%": 2.0, "nested": {"ok": 1}, "text": "skip"})
    version = tracking.register(logged.model_uri, "toy-model")
    stored = MlflowClient().get_run(run.info.run_id)
    assert stored.data.params == {"seed": "3", "nested.c": "1.0"}
    assert stored.data.tags["data.sha256.toy.csv"] == "ab12"
    assert stored.data.tags["data.kind"] == "real"
    assert stored.data.tags["tenfold.seed"] == "3"
    assert len(stored.data.tags["tenfold.uv_lock_sha256"]) in (7, 64)  # "unknown" or a digest
    assert "version.scikit-learn" in stored.data.tags
    assert set(stored.data.metrics) == {"lift_at_10pct", "nested.ok"}
    record = tracking.load_sklearn_model("models:/toy-model@champion")
    assert record.version == version == "1"
    assert record.metadata["decision_threshold"] == 0.4
    np.testing.assert_allclose(record.model.predict_proba(X), model.predict_proba(X))
    assert mlflow.models.get_model_info("models:/toy-model@champion").signature is not None


def test_exported_model_keeps_its_registry_identity(
    isolated_tracking: Path, tmp_path: Path
) -> None:
    X = pd.DataFrame({"a": np.arange(10.0)})
    y = (X["a"] > 4).astype(int).to_numpy()
    with tracking.start_run("exp", "train"):
        logged = tracking.log_sklearn_model(
            LogisticRegression().fit(X, y), input_example=X, requirements=[]
        )
    tracking.register(logged.model_uri, "exported")
    folder = tracking.export_model("models:/exported@champion", tmp_path / "model").path
    record = tracking.load_sklearn_model(str(folder))
    assert (record.name, record.version) == ("exported", "1")


def test_reason_codes_read_as_sentences() -> None:
    from tenfold.explain import Scores
    from tenfold.serving import reason_codes

    scores = Scores(
        prediction=np.array([0.9, 0.1]),
        margin=np.array([2.2, -2.2]),
        contributions=np.array([[0.5, -1.5, 0.25], [0.1, 0.2, -0.3]]),
        base_value=-1.0,
        inputs={"amount": np.array([412.5, 3.0]), "night": np.array([1.0, 0.0]), "kind": "web"},
    )
    codes = reason_codes(
        scores, 0, ("amount", "night", "kind"), outcome="fraud risk", label=str.upper, k=2
    )
    assert [c.feature for c in codes] == ["night", "amount"]  # by magnitude
    assert codes[0].direction == "decreases"
    assert codes[0].readable == "NIGHT = 1.0 decreases fraud risk"
    assert codes[1].value == 412.5
    second = reason_codes(scores, 1, ("amount", "night", "kind"), outcome="risk", k=1)
    assert second[0].readable == "kind = web decreases risk"  # a scalar input serves every row


def test_spec_is_the_app_factory_and_picks_the_model_uri() -> None:
    assert SPEC.model_uri(ServiceSettings()) == "models:/doubler@champion"
    assert SPEC.model_uri(ServiceSettings(model_uri="/tmp/m")) == "/tmp/m"
    built = SPEC.app(ServiceSettings())
    assert built.title == "doubler"
    assert {"/health", "/v1/predict"} <= {getattr(r, "path", "") for r in built.routes}
