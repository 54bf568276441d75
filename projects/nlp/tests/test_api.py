"""The topic API through the shared factory, with a small TF-IDF model handed in."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from nlp.serve import (
    EXAMPLE,
    MAX_TEXT_CHARS,
    SPEC,
    NlpSettings,
    TopicPredictor,
)
from tenfold.serving import ModelCard, ServiceSettings, create_app

CLASSES = ["business", "entertainment", "politics", "sport", "tech"]


def client(tfidf_model, **settings: object) -> TestClient:  # type: ignore[no-untyped-def]
    pipeline, _ = tfidf_model
    predictor = TopicPredictor(
        pipeline, card=ModelCard(name="nlp", version="3", run_id="r1"), candidate="tfidf"
    )
    return TestClient(create_app(SPEC, ServiceSettings(**settings), predictor=predictor))


def test_valid_request(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    article = {"id": "a1", "text": "Shares and profit: the bank said its market growth beat rates."}
    with client(tfidf_model) as c:
        response = c.post("/v1/predict", json=article)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == "a1"
    assert body["model"] == "tfidf"
    assert body["model_version"] == "3"
    assert sorted(body["probabilities"]) == CLASSES
    assert sum(body["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert body["label"] == max(body["probabilities"], key=body["probabilities"].get)
    assert body["confidence"] == body["probabilities"][body["label"]]
    # a business article built from business words
    assert body["label"] == "business"
    tokens = body["top_tokens"]
    assert tokens, "the TF-IDF model names the words that drove it"
    weights = [t["weight"] for t in tokens]
    assert weights == sorted(weights, reverse=True)
    assert all(w > 0 for w in weights)
    assert {t["token"] for t in tokens} <= {
        "shares", "and", "profit", "the", "bank", "said", "its", "market", "growth", "beat",
        "rates", "bank said", "market growth", "shares and", "and profit", "the bank",
        "its market", "growth beat", "beat rates", "profit the", "said its",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "why"),
    [("", "at least 1 character"), ("   \n\t ", "empty"), ("x" * (MAX_TEXT_CHARS + 1), "at most")],
    ids=["empty", "blank", "oversized"],
)
def test_empty_or_oversized_text_is_422(tfidf_model, text: str, why: str) -> None:  # type: ignore[no-untyped-def]
    with client(tfidf_model) as c:
        response = c.post("/v1/predict", json={"text": text})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert [d["field"] for d in detail] == ["text"]
    assert why in detail[0]["message"]


def test_missing_text_and_unknown_fields_name_the_field(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    with client(tfidf_model) as c:
        missing = c.post("/v1/predict", json={"id": "x"})
        typo = c.post("/v1/predict", json={"txt": "hello"})
        wrong_type = c.post("/v1/predict", json={"text": 42})
    assert missing.status_code == typo.status_code == wrong_type.status_code == 422
    assert missing.json()["detail"][0]["field"] == "text"
    assert {d["field"] for d in typo.json()["detail"]} == {"text", "txt"}
    assert wrong_type.json()["detail"][0]["field"] == "text"


def test_batch(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    items = [
        {"id": "b", "text": "The team won the cup final; the coach praised the players."},
        {"id": "t", "text": "Mobile phone users want broadband internet and software."},
        EXAMPLE,
    ]
    with client(tfidf_model) as c:
        batch = c.post("/v1/predict/batch", json={"items": items})
        singles = [c.post("/v1/predict", json=item).json() for item in items]
    assert batch.status_code == 200
    predictions = batch.json()["predictions"]
    assert [p["id"] for p in predictions] == ["b", "t", "bbc-0001"]
    assert [p["label"] for p in predictions[:2]] == ["sport", "tech"]
    # one article scored alone or in a batch gets the same answer
    assert [p["probabilities"] for p in predictions] == [s["probabilities"] for s in singles]


def test_batch_errors_name_the_item_and_limit(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    with client(tfidf_model, max_batch=2) as c:
        bad_item = c.post("/v1/predict/batch", json={"items": [EXAMPLE, {"text": " "}]})
        too_many = c.post("/v1/predict/batch", json={"items": [EXAMPLE] * 3})
        empty = c.post("/v1/predict/batch", json={"items": []})
    assert bad_item.status_code == too_many.status_code == empty.status_code == 422
    assert bad_item.json()["detail"][0]["field"] == "items.1.text"
    assert too_many.json()["detail"][0]["field"] == "items"


def test_model_card_and_ready(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    with client(tfidf_model) as c:
        ready = c.get("/ready").json()
        card = c.get("/v1/model").json()
    assert ready == {"status": "ready", "model": "nlp", "version": "3"}
    assert card["input_schema"]["properties"]["text"]["maxLength"] == MAX_TEXT_CHARS


def test_model_choice_by_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    """NLP_MODEL (or the serve command's --serve-model, the field ``model``) picks the
    alias; an explicit TENFOLD_MODEL_URI wins; batches default to 64 articles."""
    monkeypatch.delenv("TENFOLD_MODEL_URI", raising=False)
    monkeypatch.setenv("NLP_MODEL", "embeddings")
    assert NlpSettings().model_uri == "models:/nlp@embeddings"
    assert NlpSettings(model="tfidf").model_uri == "models:/nlp@tfidf"
    monkeypatch.delenv("NLP_MODEL")
    assert NlpSettings().model_uri == "models:/nlp@champion"
    assert NlpSettings().max_batch == 64
    assert SPEC.model_uri(NlpSettings()) == "models:/nlp@champion"
    # an explicit URI wins over the alias
    monkeypatch.setenv("TENFOLD_MODEL_URI", "/models/x")
    assert NlpSettings(model="tfidf").model_uri == "/models/x"
    monkeypatch.setenv("NLP_MODEL", "bert")
    with pytest.raises(ValueError, match="'champion', 'tfidf' or 'embeddings'"):
        NlpSettings()


def test_blank_means_what_the_schema_says(tfidf_model) -> None:  # type: ignore[no-untyped-def]
    """The schema's pattern and the server's check are one expression: a text of
    JSON-Schema whitespace only is refused, a control character Python would strip is
    text (the schema allows it, so the API scores it)."""
    import jsonschema_rs

    with client(tfidf_model) as c:
        doc = c.get("/openapi.json").json()
        nbsp = c.post("/v1/predict", json={"text": "\u00a0\u3000\n"})
        control = c.post("/v1/predict", json={"text": "\x1c"})
    body = doc["paths"]["/v1/predict"]["post"]["requestBody"]["content"]["application/json"]
    validator = jsonschema_rs.validator_for(body["schema"])
    assert nbsp.status_code == 422
    assert not validator.is_valid({"text": "\u00a0\u3000\n"})
    assert control.status_code == 200, control.text
    assert validator.is_valid({"text": "\x1c"})


def test_a_full_batch_fits_the_body_limit() -> None:
    """64 articles of the longest accepted text, in UTF-8, fit nlp's body limit."""
    settings = NlpSettings()
    assert settings.max_batch == 64
    assert settings.max_body_bytes >= 64 * MAX_TEXT_CHARS * 4
