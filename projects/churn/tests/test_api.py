"""The churn API through the shared factory, with a small model handed in."""

from __future__ import annotations

import json

import jsonschema_rs
import pytest
from fastapi.testclient import TestClient

from churn.serve import EXAMPLE, SPEC, ChurnPredictor
from tenfold.explain import encoded_mean
from tenfold.serving import ModelCard, ServiceSettings, create_app


def client(small_model) -> TestClient:  # type: ignore[no-untyped-def]
    pipeline, data = small_model
    predictor = ChurnPredictor(
        pipeline,
        threshold=0.35,
        card=ModelCard(name="churn", version="7", run_id="r1", metrics={"cv_roc_auc": 0.8}),
        background_mean=encoded_mean(pipeline, data.X_train),
    )
    return TestClient(create_app(SPEC, ServiceSettings(), predictor=predictor))


def test_valid_request(small_model) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        response = c.post("/v1/predict", json=EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    assert 0 <= body["churn_probability"] <= 1
    assert body["will_churn"] == (body["churn_probability"] >= 0.35)
    assert body["customerID"] == "7590-VHVEG"
    assert body["model_version"] == "7"
    factors = body["top_factors"]
    assert len(factors) == 3
    magnitudes = [abs(f["contribution"]) for f in factors]
    assert magnitudes == sorted(magnitudes, reverse=True)
    for factor in factors:
        assert factor["direction"] == ("increases" if factor["contribution"] > 0 else "decreases")
        assert factor["readable"].endswith("churn risk")


def test_invalid_requests_name_the_field(small_model) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        wrong = c.post("/v1/predict", json={**EXAMPLE, "Contract": "Weekly"})
        assert wrong.status_code == 422
        assert [d["field"] for d in wrong.json()["detail"]] == ["Contract"]
        missing = {k: v for k, v in EXAMPLE.items() if k != "tenure"}
        assert c.post("/v1/predict", json=missing).json()["detail"][0]["field"] == "tenure"
        typo = c.post("/v1/predict", json={**EXAMPLE, "tenur": 3})
        assert typo.json()["detail"][0]["field"] == "tenur"
        contradiction = c.post("/v1/predict", json={**EXAMPLE, "InternetService": "No"})
        assert contradiction.status_code == 422
        assert "No internet service" in contradiction.json()["detail"][0]["message"]


def test_blank_total_charges_for_a_new_customer(small_model) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        response = c.post("/v1/predict", json={**EXAMPLE, "tenure": 0, "TotalCharges": None})
    assert response.status_code == 200


def test_batch_and_model_metadata(small_model) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        loyal = {
            **EXAMPLE,
            "tenure": 70,
            "Contract": "Two year",
            "TotalCharges": 2100.0,
            "PaymentMethod": "Bank transfer (automatic)",
        }
        batch = c.post("/v1/predict/batch", json={"items": [EXAMPLE, loyal]})
        card = c.get("/v1/model").json()
    assert batch.status_code == 200
    first, second = (p["churn_probability"] for p in batch.json()["predictions"])
    assert first > second  # new month-to-month vs 6-year two-year contract
    assert card["version"] == "7"
    assert card["run_id"] == "r1"
    assert "tenure" in card["input_schema"]["properties"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tenure": True}, "tenure"),  # was scored as 1 month
        ({"tenure": "12"}, "tenure"),
        ({"SeniorCitizen": True}, "SeniorCitizen"),
        ({"MonthlyCharges": "29.85"}, "MonthlyCharges"),
        ({"TotalCharges": 1e308}, "TotalCharges"),  # finite, but no customer's bill
    ],
)
def test_numbers_are_json_numbers_with_real_bounds(small_model, change, field) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        response = c.post("/v1/predict", json={**EXAMPLE, **change})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["detail"]] == [field]


def test_infinite_charges_are_refused(small_model) -> None:  # type: ignore[no-untyped-def]
    body = json.dumps({**EXAMPLE, "TotalCharges": 0}).replace(
        '"TotalCharges": 0', '"TotalCharges": Infinity'
    )
    with client(small_model) as c:
        response = c.post("/v1/predict", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] in ("TotalCharges", "body")


def test_the_schema_states_the_consistency_the_api_enforces(small_model) -> None:  # type: ignore[no-untyped-def]
    """schemathesis found PhoneService "No" with MultipleLines "No" allowed by the schema
    and refused by the API: the schema now says so (allOf), and the refusal names the
    field that contradicts."""
    with client(small_model) as c:
        contradiction = c.post(
            "/v1/predict", json={**EXAMPLE, "PhoneService": "No", "MultipleLines": "No"}
        )
        doc = c.get("/openapi.json").json()
    assert contradiction.status_code == 422
    assert [d["field"] for d in contradiction.json()["detail"]] == ["MultipleLines"]
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    validator = jsonschema_rs.validator_for(schema)
    assert not validator.is_valid({**EXAMPLE, "PhoneService": "No", "MultipleLines": "No"})
    assert not validator.is_valid({**EXAMPLE, "InternetService": "No"})
    assert validator.is_valid(EXAMPLE)
    assert schema["properties"]["TotalCharges"]["anyOf"][0]["maximum"] == 2_400_000
