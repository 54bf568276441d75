"""The fraud API through the shared factory, with a small model handed in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from fraud.serve import EXAMPLE, SPEC, FraudPredictor
from tenfold.serving import ModelCard, ServiceSettings, create_app
from tenfold.testing import check_reason_codes

THRESHOLD = 0.2


def client(small_model) -> TestClient:  # type: ignore[no-untyped-def]
    pipeline, _ = small_model
    predictor = FraudPredictor(
        pipeline,
        threshold=THRESHOLD,
        review_cost=5.0,
        card=ModelCard(name="fraud", version="3", run_id="r9", metrics={"cv_auprc": 0.7}),
    )
    return TestClient(create_app(SPEC, ServiceSettings(), predictor=predictor))


def test_valid_request(small_model) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        response = c.post("/v1/predict", json=EXAMPLE)
    assert response.status_code == 200
    body = response.json()
    p = body["fraud_probability"]
    assert 0 <= p <= 1
    assert body["flag_for_review"] == (p >= THRESHOLD)
    assert body["expected_loss_if_approved"] == pytest.approx(p * EXAMPLE["tx_amount"], abs=0.05)
    assert (body["transaction_id"], body["model_version"], body["review_cost"]) == (
        "tx-000123",
        "3",
        5.0,
    )
    check_reason_codes(body["reasons"], k=3, outcome="fraud risk")


def test_a_leaked_card_pattern_scores_higher(small_model) -> None:  # type: ignore[no-untyped-def]
    usual = {**EXAMPLE, "tx_amount": 75.0, "tx_datetime": "2018-08-07T13:00:00"}
    leaked = {**EXAMPLE, "tx_amount": 400.0, "terminal_risk_7day": 0.5, "terminal_risk_30day": 0.4}
    with client(small_model) as c:
        batch = c.post("/v1/predict/batch", json={"items": [usual, leaked]})
    assert batch.status_code == 200
    low, high = (p["fraud_probability"] for p in batch.json()["predictions"])
    assert high > low
    assert batch.json()["model_version"] == "3"


def test_time_zones_keep_the_local_clock(small_model) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        naive = c.post("/v1/predict", json=EXAMPLE).json()
        zoned = c.post("/v1/predict", json={**EXAMPLE, "tx_datetime": "2018-08-05T02:14:09+02:00"})
    assert zoned.status_code == 200
    assert zoned.json()["fraud_probability"] == naive["fraud_probability"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tx_amount": "lots"}, "tx_amount"),
        ({"tx_amount": -3.0}, "tx_amount"),
        ({"tx_datetime": "yesterday"}, "tx_datetime"),
        ({"terminal_risk_7day": 1.5}, "terminal_risk_7day"),
        ({"customer_nb_tx_7day": 2}, "customer_nb_tx_7day"),  # fewer than in the last day
        ({"terminal_nb_tx_1day": 0, "terminal_risk_1day": 0.3}, "terminal_risk_1day"),
        ({"tx_amout": 10.0}, "tx_amout"),  # a typo is not silently ignored
    ],
)
def test_client_mistakes_are_422_naming_the_field(small_model, change, field) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        response = c.post("/v1/predict", json={**EXAMPLE, **change})
    assert response.status_code == 422
    assert [d["field"] for d in response.json()["detail"]] == [field]


def test_missing_field_and_semantic_messages(small_model) -> None:  # type: ignore[no-untyped-def]
    missing = {k: v for k, v in EXAMPLE.items() if k != "customer_avg_amount_30day"}
    with client(small_model) as c:
        first = c.post("/v1/predict", json=missing).json()["detail"][0]
        nested = c.post("/v1/predict", json={**EXAMPLE, "customer_nb_tx_7day": 2}).json()
    assert first["field"] == "customer_avg_amount_30day"
    assert "windows nest" in nested["detail"][0]["message"]


def test_model_card(small_model) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        card = c.get("/v1/model").json()
        ready = c.get("/ready").json()
    assert (card["version"], card["run_id"]) == ("3", "r9")
    assert "terminal_risk_7day" in card["input_schema"]["properties"]
    assert ready["status"] == "ready"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"tx_datetime": "0001-01-01T00:00:00"}, "tx_datetime"),  # was scored
        ({"tx_datetime": "9999-12-31T23:59:59"}, "tx_datetime"),
        ({"tx_amount": True}, "tx_amount"),
        ({"tx_amount": "412.50"}, "tx_amount"),
        ({"tx_amount": 1e-300}, "tx_amount"),  # below a cent: the amount ratio overflowed
        ({"customer_nb_tx_1day": True}, "customer_nb_tx_1day"),
        ({"customer_avg_amount_30day": 1e-300}, "customer_avg_amount_30day"),
    ],
)
def test_real_bounds_and_json_numbers(small_model, change, field) -> None:  # type: ignore[no-untyped-def]
    with client(small_model) as c:
        response = c.post("/v1/predict", json={**EXAMPLE, **change})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["detail"]] == [field]


def test_the_schema_states_what_it_can_and_describes_the_rest(small_model) -> None:  # type: ignore[no-untyped-def]
    import jsonschema_rs

    with client(small_model) as c:
        doc = c.get("/openapi.json").json()
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    schema = body["schema"]
    validator = jsonschema_rs.validator_for(schema)
    assert validator.is_valid(EXAMPLE)
    # an average over a window without transactions is 0: in the schema itself
    assert not validator.is_valid({**EXAMPLE, "terminal_nb_tx_1day": 0, "terminal_risk_1day": 0.3})
    # what JSON Schema cannot say is in the description
    assert "2000-2099" in schema["description"]
    assert "customer_nb_tx_1day <= customer_nb_tx_7day" in schema["description"]
