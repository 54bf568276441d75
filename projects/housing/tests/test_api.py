"""The HTTP API through the shared factory: price + interval, 422 for client mistakes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from housing.features import known_categories
from housing.serve import EXAMPLE, SPEC, HousePredictor
from housing.train import Candidate, Prepared
from tenfold.serving import ModelCard, ServiceSettings, create_app


@pytest.fixture
def client(small_stack: Candidate, prepared: Prepared) -> Iterator[TestClient]:
    metadata = {
        "confidence_level": 0.9,
        "max_living_area": 4000.0,
        "categories": known_categories(prepared.X),
    }
    predictor = HousePredictor(
        small_stack.model, card=ModelCard(name="housing", version="test"), metadata=metadata
    )
    with TestClient(create_app(SPEC, predictor=predictor)) as test_client:
        yield test_client


def test_price_and_interval(client: TestClient) -> None:
    response = client.post("/v1/predict", json=EXAMPLE)
    assert response.status_code == 200, response.text
    body = response.json()
    interval = body["interval"]
    assert interval["lower"] < body["predicted_price"] < interval["upper"]
    assert interval["confidence_level"] == 0.9
    given = len(EXAMPLE)
    assert body["notes"] == [
        f"{79 - given} of 79 characteristics not given: imputed from the training sales "
        "(typical values); a fuller description gives a better price"
    ]
    assert body["model_version"] == "test"


def test_a_complete_house_has_no_notes(client: TestClient, prepared: Prepared) -> None:
    house = prepared.X_heldout.iloc[0].to_dict()
    response = client.post("/v1/predict", json={k: _json(v) for k, v in house.items()})
    assert response.status_code == 200, response.text
    notes = response.json()["notes"]
    missing = sum(v is None or v != v for v in house.values())  # NaN != NaN
    assert len(notes) == (1 if missing else 0)


def _json(value: Any) -> Any:
    if isinstance(value, float) and value != value:
        return None
    return value.item() if hasattr(value, "item") else value


def test_only_the_four_required_fields(client: TestClient) -> None:
    house = {"Neighborhood": "NAmes", "GrLivArea": 1200, "OverallQual": 5, "YearBuilt": 1960}
    response = client.post("/v1/predict", json=house)
    assert response.status_code == 200, response.text
    assert response.json()["predicted_price"] > 0


def test_an_unseen_category_is_priced_with_a_note(client: TestClient) -> None:
    response = client.post("/v1/predict", json={**EXAMPLE, "Neighborhood": "Atlantis"})
    assert response.status_code == 200, response.text
    assert any("Neighborhood='Atlantis'" in note for note in response.json()["notes"])


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"OverallQual": 11}, "OverallQual"),
        ({"GrLivArea": -5}, "GrLivArea"),
        ({"KitchenQual": "Great"}, "KitchenQual"),
        ({"1stFlrSF": -1}, "1stFlrSF"),
        ({"GarageCars": "two"}, "GarageCars"),
        ({"SwimmingPool": True}, "SwimmingPool"),
        ({"GrLivArea": 4500}, "GrLivArea"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    client: TestClient, change: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/predict", json={**EXAMPLE, **change})
    assert response.status_code == 422, response.text
    fields = [d["field"] for d in response.json()["detail"]]
    assert field in fields


def test_a_missing_required_field_is_a_422(client: TestClient) -> None:
    house = {k: v for k, v in EXAMPLE.items() if k != "Neighborhood"}
    response = client.post("/v1/predict", json=house)
    assert response.status_code == 422
    assert response.json()["detail"][0]["field"] == "Neighborhood"


def test_beyond_the_scope_is_explained(client: TestClient) -> None:
    response = client.post("/v1/predict", json={**EXAMPLE, "GrLivArea": 4500})
    assert "4000 sq ft" in response.json()["detail"][0]["message"]


def test_batch(client: TestClient) -> None:
    bigger = {**EXAMPLE, "GrLivArea": 2500, "OverallQual": 9}
    response = client.post("/v1/predict/batch", json={"items": [EXAMPLE, bigger]})
    assert response.status_code == 200, response.text
    prices = [p["predicted_price"] for p in response.json()["predictions"]]
    assert prices[1] > prices[0]
    out_of_scope = client.post(
        "/v1/predict/batch", json={"items": [EXAMPLE, {**EXAMPLE, "GrLivArea": 5000}]}
    )
    assert out_of_scope.status_code == 422
    assert out_of_scope.json()["detail"][0]["field"] == "items.1.GrLivArea"


def test_the_registered_champion_serves_with_its_own_metadata(champion: str) -> None:
    """Loaded from the registry as in production: scope, level and known levels come
    from the model's metadata."""
    with TestClient(create_app(SPEC, ServiceSettings(model_uri=champion))) as served:
        response = served.post("/v1/predict", json={**EXAMPLE, "Neighborhood": "Atlantis"})
        assert response.status_code == 200, response.text
        assert any("Neighborhood='Atlantis'" in n for n in response.json()["notes"])
        card = served.get("/v1/model").json()
        assert card["details"]["confidence_level"] == 0.9
        assert card["details"]["max_living_area"] == 4000.0
        too_big = served.post("/v1/predict", json={**EXAMPLE, "GrLivArea": 4100})
        assert too_big.status_code == 422


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"GrLivArea": True}, "GrLivArea"),  # was priced as a 1 sq ft house
        ({"GrLivArea": "1710"}, "GrLivArea"),
        ({"OverallQual": True}, "OverallQual"),
        ({"GarageCars": 2.5}, "GarageCars"),
        ({"LotArea": False}, "LotArea"),
    ],
)
def test_numbers_are_json_numbers(client: TestClient, change: dict[str, Any], field: str) -> None:
    response = client.post("/v1/predict", json={**EXAMPLE, **change})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["detail"]] == [field]


def test_the_schema_states_the_scope_the_api_enforces(client: TestClient) -> None:
    """schemathesis found GrLivArea 4,000-10,000 allowed by the schema and refused by the
    API: the schema's maximum is the model's scope now."""
    doc = client.get("/openapi.json").json()
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    area = body["schema"]["properties"]["GrLivArea"]
    assert area["maximum"] == 4000
    assert client.post("/v1/predict", json={**EXAMPLE, "GrLivArea": 4000}).status_code == 200
    beyond = client.post("/v1/predict", json={**EXAMPLE, "GrLivArea": 4000.5})
    assert beyond.status_code == 422
    assert "4000 sq ft" in beyond.json()["detail"][0]["message"]
    # an optional bounded field keeps its bounds in the schema (not pydantic's `le`)
    cars = body["schema"]["properties"]["GarageCars"]["anyOf"][0]
    assert (cars["type"], cars["minimum"], cars["maximum"]) == ("integer", 0, 10)
