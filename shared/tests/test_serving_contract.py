"""What the probe of the four APIs found, held in the library once: the API key, error
bodies in the documented shapes, JSON's own numbers, the body limit, and an OpenAPI
document that says what the server does."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Annotated, Any, Literal

import pytest
import schemathesis
from fastapi import APIRouter, Path
from fastapi.testclient import TestClient
from pydantic import BaseModel, BeforeValidator, Field, ValidationError

from tenfold.serving import (
    Integer,
    ModelCard,
    Number,
    ServiceSettings,
    ServiceSpec,
    create_app,
    not_boolean,
)
from tenfold.serving.fuzzing import Tally, contract_schema
from tenfold.serving.fuzzing import schemathesis_node_id as schemathesis_node_id  # autouse
from tenfold.serving.fuzzing import schemathesis_report as schemathesis_report  # autouse


class Order(BaseModel):
    quantity: Integer = Field(ge=1, le=100)
    price: Number = Field(ge=0, le=10_000)
    express: Annotated[Literal[0, 1], BeforeValidator(not_boolean)] = 0
    note: str | None = Field(default=None, max_length=20)


class Quote(BaseModel):
    total: float


class Pricer:
    card = ModelCard(name="pricer", version="1")

    def __init__(self) -> None:
        self.calls = 0

    def predict(self, items: Sequence[Order]) -> list[Quote]:
        self.calls += 1
        return [Quote(total=item.quantity * item.price) for item in items]


class Points(BaseModel):
    values: list[Number] = Field(min_length=1, max_length=1000)


class Accepted(BaseModel):
    stream_id: str
    received: int


# a project's router with a body FastAPI parses itself (what anomaly's will look like)
streams = APIRouter(prefix="/v1", tags=["streams"])


@streams.post("/streams/{stream_id}/points")
async def add_points(stream_id: Annotated[str, Path(max_length=32)], points: Points) -> Accepted:
    return Accepted(stream_id=stream_id, received=len(points.values))


SPEC = ServiceSpec(
    name="pricer",
    title="pricer",
    settings=ServiceSettings,
    request=Order,
    response=Quote,
    load=lambda settings: Pricer(),
    default_model_uri="models:/pricer@champion",
    routers=[streams],
)
ORDER = {"quantity": 2, "price": 3.5}


@pytest.fixture
def pricer() -> Pricer:
    return Pricer()


def client_for(pricer: Pricer, **settings: Any) -> TestClient:
    return TestClient(create_app(SPEC, ServiceSettings(**settings), predictor=pricer))


@pytest.fixture
def client(pricer: Pricer) -> Iterator[TestClient]:
    with client_for(pricer) as c:
        yield c


# --------------------------------------------------------------------------- API key


def test_a_non_ascii_key_is_a_401_not_a_500(pricer: Pricer) -> None:
    with client_for(pricer, api_key="s3cret") as c:
        # httpx sends str headers as ASCII only: the bytes a client would send
        cafe = c.post("/v1/predict", json=ORDER, headers={"X-API-Key": "café".encode()})
        assert cafe.status_code == 401, cafe.text
        assert cafe.json()["request_id"] == cafe.headers["x-request-id"]
        assert c.post("/v1/predict", json=ORDER, headers={"X-API-Key": "s3cret"}).status_code == 200


def test_a_non_ascii_key_can_be_the_key(pricer: Pricer) -> None:
    with client_for(pricer, api_key="café") as c:
        ok = c.post("/v1/predict", json=ORDER, headers={"X-API-Key": "café".encode()})
        assert ok.status_code == 200, ok.text
        assert c.post("/v1/predict", json=ORDER, headers={"X-API-Key": "cafe"}).status_code == 401


def test_an_empty_key_leaves_the_api_open_and_says_so(
    pricer: Pricer, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("TENFOLD_API_KEY", "")
    with caplog.at_level(logging.WARNING, logger="tenfold.serving"):
        settings = ServiceSettings()
    assert settings.api_key is None
    assert [r.getMessage() for r in caplog.records] == [
        "TENFOLD_API_KEY is empty: the API is open (unset it or give a key)"
    ]
    with TestClient(create_app(SPEC, settings, predictor=pricer)) as c:
        assert c.post("/v1/predict", json=ORDER).status_code == 200
        assert c.get("/v1/model").status_code == 200


def test_openapi_shows_the_key_only_when_one_is_set(pricer: Pricer) -> None:
    with client_for(pricer) as c:
        open_doc = c.get("/openapi.json").json()
    with client_for(pricer, api_key="s3cret") as c:
        keyed_doc = c.get("/openapi.json").json()
    assert "securitySchemes" not in open_doc.get("components", {})
    assert not any("security" in op for ops in open_doc["paths"].values() for op in ops.values())
    predict = keyed_doc["paths"]["/v1/predict"]["post"]
    assert predict["security"] == [{"APIKeyHeader": []}]
    assert "401" in predict["responses"]
    assert "security" not in keyed_doc["paths"]["/health"]["get"]


# --------------------------------------------------------------------------- bodies


def test_invalid_json_is_a_422_on_the_body_with_the_position(client: TestClient) -> None:
    response = client.post(
        "/v1/predict",
        content=b'{"quantity": 2, "price": }',
        headers={"content-type": "application/json", "x-request-id": "bad-json"},
    )
    assert response.status_code == 422
    (error,) = response.json()["detail"]
    assert error["field"] == "body"  # not a character offset
    assert error["type"] == "json_invalid"
    assert "column 26" in error["message"]
    assert response.json()["request_id"] == "bad-json"


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe not utf-8", b"[" * 100_000 + b"]" * 100_000, b""],
    ids=["not-utf8", "deeply-nested", "empty"],
)
def test_undecodable_bodies_are_a_422_too(client: TestClient, body: bytes) -> None:
    response = client.post(
        "/v1/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["field"] == "body"
    assert response.json()["request_id"]


@pytest.mark.parametrize(
    ("content_type", "said"),
    [
        ("text/plain", "got 'text/plain'"),
        ("application/x-www-form-urlencoded", "got"),
        (None, "none"),
    ],
)
def test_a_body_that_is_not_json_is_a_415(
    client: TestClient, content_type: str | None, said: str
) -> None:
    headers = {"content-type": content_type} if content_type else {}
    response = client.post("/v1/predict", content=b'{"quantity": 2, "price": 1}', headers=headers)
    assert response.status_code == 415
    assert said in response.json()["detail"]
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_json_with_a_charset_is_json(client: TestClient) -> None:
    response = client.post(
        "/v1/predict",
        content=b'{"quantity": 2, "price": 1}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200


def test_a_large_body_is_refused_before_it_is_parsed(pricer: Pricer) -> None:
    big = b'{"items": [' + b",".join([b'{"quantity": 1, "price": 1}'] * 4000) + b"]}"
    with client_for(pricer, max_body_bytes=50_000) as c:
        declared = c.post(
            "/v1/predict/batch", content=big, headers={"content-type": "application/json"}
        )

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for start in range(0, len(big), 8192):
                yield big[start : start + 8192]

        streamed = c.post(
            "/v1/predict/batch", content=chunks(), headers={"content-type": "application/json"}
        )
        small = c.post("/v1/predict/batch", json={"items": [ORDER] * 10})
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.json()["detail"] == "request body larger than 50000 bytes"
        assert response.json()["request_id"] == response.headers["x-request-id"]
    assert small.status_code == 200
    assert pricer.calls == 1  # the refused bodies never reached the model


@pytest.mark.parametrize(
    ("change", "field", "kind"),
    [
        ({"quantity": True}, "quantity", "int_type"),
        ({"quantity": "2"}, "quantity", "int_type"),
        ({"quantity": 2.5}, "quantity", "int_from_float"),
        ({"price": "3.5"}, "price", "float_type"),
        ({"price": False}, "price", "float_type"),
        ({"price": 1e308}, "price", "less_than_equal"),
        ({"express": True}, "express", "literal_error"),
        ({"express": "1"}, "express", "literal_error"),
    ],
)
def test_numbers_are_json_numbers(
    client: TestClient, change: dict[str, Any], field: str, kind: str
) -> None:
    response = client.post("/v1/predict", json={**ORDER, **change})
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert (error["field"], error["type"]) == (field, kind)


def test_infinity_is_not_a_number(client: TestClient) -> None:
    for token in (b"Infinity", b"-Infinity", b"NaN"):
        body = b'{"quantity": 1, "price": ' + token + b"}"
        response = client.post(
            "/v1/predict", content=body, headers={"content-type": "application/json"}
        )
        assert response.status_code == 422, (token, response.text)
        assert response.json()["detail"][0]["field"] in ("price", "body")


def test_an_integer_is_a_number_and_an_integral_number_an_integer(client: TestClient) -> None:
    """As JSON Schema says (schemathesis sends ``"tenure": 35.0`` for an integer)."""
    response = client.post("/v1/predict", json={"quantity": 2.0, "price": 3, "express": 1})
    assert response.status_code == 200, response.text
    assert response.json() == {"total": 6.0}


def test_optional_numbers_keep_their_bounds_in_the_schema(pricer: Pricer) -> None:
    """pydantic writes the bounds of an optional Integer as ``ge``/``le`` keys (a bug):
    the published schemas say ``minimum``/``maximum``, or they would allow what the
    server refuses."""

    class Maybe(BaseModel):
        count: Integer | None = Field(default=None, ge=0, le=5)
        amount: Number | None = Field(default=None, gt=0, le=5)

    spec = ServiceSpec(
        name="maybe",
        title="maybe",
        request=Maybe,
        response=Quote,
        load=lambda settings: Pricer(),
        default_model_uri="models:/maybe@champion",
    )
    with TestClient(create_app(spec, predictor=pricer)) as c:
        doc = c.get("/openapi.json").json()
        card = c.get("/v1/model").json()
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    for properties in (body["schema"]["properties"], card["input_schema"]["properties"]):
        assert properties["count"]["anyOf"][0] == {"maximum": 5, "minimum": 0, "type": "integer"}
        assert properties["amount"]["anyOf"][0] == {
            "exclusiveMinimum": 0,
            "maximum": 5,
            "type": "number",
        }
    assert '"ge"' not in str(doc).replace("'", '"')


def test_field_types_outside_a_service() -> None:
    with pytest.raises(ValidationError, match="valid integer"):
        Order(quantity=True, price=1)
    assert Order(quantity=3, price=2).price == 2.0


# --------------------------------------------------------------------------- OpenAPI


def test_every_error_is_documented_in_the_shape_it_is_sent(client: TestClient) -> None:
    doc = client.get("/openapi.json").json()
    schemas = doc["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert set(schemas["ErrorResponse"]["properties"]) == {"detail", "request_id"}
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            if "requestBody" in operation or operation.get("parameters"):
                ref = responses["422"]["content"]["application/json"]["schema"]["$ref"]
                assert ref == "#/components/schemas/ErrorResponse", (method, path)
            if "requestBody" in operation:
                assert {"413", "415"} <= set(responses), (method, path)
                assert "1048576 bytes" in responses["413"]["description"]
            assert "500" in responses
            for response in responses.values():
                assert "X-Request-ID" in response["headers"]
    metrics = doc["paths"]["/metrics"]["get"]["responses"]["200"]["content"]
    assert list(metrics) == ["text/plain"]
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    assert body["schema"]["properties"]["quantity"] == {
        "maximum": 100,
        "minimum": 1,
        "title": "Quantity",
        "type": "integer",
    }


def test_metrics_are_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    assert "tenfold_http_requests_total" in response.text


def test_a_404_and_a_405_carry_the_request_id(client: TestClient) -> None:
    missing = client.get("/v1/nothing")
    wrong = client.put("/v1/predict", json=ORDER)
    assert missing.status_code == 404
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    assert wrong.status_code == 405
    assert "POST" in wrong.headers["allow"]


def test_a_project_route_with_a_body_answers_the_same_way(pricer: Pricer) -> None:
    """The same 422/415/413 from a route whose body FastAPI parses (not the predict routes)."""
    url = "/v1/streams/s1/points"
    json_type = {"content-type": "application/json"}
    with client_for(pricer, max_body_bytes=2000) as c:
        assert c.post(url, json={"values": [1, 2.5]}).json() == {"stream_id": "s1", "received": 2}
        bad = c.post(url, content=b'{"values": [1,', headers=json_type)
        wrong_type = c.post(url, content=b'{"values": [1]}', headers={"content-type": "text/csv"})
        big = c.post(url, content=b'{"values": [' + b"1," * 2000 + b"1]}", headers=json_type)
        strict = c.post(url, json={"values": [1, True]})
        doc = c.get("/openapi.json").json()["paths"]["/v1/streams/{stream_id}/points"]["post"]
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "body"
    assert "character" in bad.json()["detail"][0]["message"]
    assert wrong_type.status_code == 415
    assert big.status_code == 413
    assert strict.status_code == 422
    assert strict.json()["detail"][0]["field"] == "values.1"
    assert {"413", "415", "422"} <= set(doc["responses"])


# --------------------------------------------------------------------------- schemathesis

TALLY = Tally("shared test app, API key set")
KEY = "s3cret-key"


@pytest.fixture(scope="module")
def keyed_schema() -> Any:
    """The pricer with a key set (schemathesis then also checks that requests without
    it are refused) and the router whose body FastAPI parses."""
    app = create_app(SPEC, ServiceSettings(api_key=KEY, max_batch=20), predictor=Pricer())
    return contract_schema(app, max_examples=60, headers={"X-API-Key": KEY})


schema = schemathesis.pytest.from_fixture("keyed_schema")


@schema.parametrize()
def test_the_keyed_api_keeps_its_contract(case: Any) -> None:
    TALLY.call_and_validate(case)


def test_the_keyed_run_was_answered_with_the_key() -> None:
    """Valid cases were scored (200), so schemathesis sent the key; and it checked
    requests without one (401)."""
    assert TALLY.statuses[("POST /v1/predict", 200)] > 10
    assert TALLY.statuses[("POST /v1/predict", 401)] > 0
