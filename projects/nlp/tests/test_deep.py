"""The dense path: verified weights, the embedder, its cache, and the API serving the
embeddings model. Needs the opt-in extra (`make nlp-deep`); skipped with that reason
without it (see conftest.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from nlp.config import NlpConfig
from nlp.features import (
    EXPECTED_WEIGHTS_SHA256,
    SentenceEmbedder,
    embedding_cache,
    verified_weights,
    weights_dir,
)
from nlp.serve import SPEC, TopicPredictor
from nlp.train import logistic_regression, make_pipeline, prepare, split
from tenfold.serving import ModelCard, ServiceSettings, create_app

pytestmark = pytest.mark.deep


def test_installed_weights_are_the_expected_ones() -> None:
    assert verified_weights(weights_dir()) == EXPECTED_WEIGHTS_SHA256


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder(max_seq_length=128).fit(None)


def test_embeddings_are_unit_vectors_that_carry_meaning(embedder: SentenceEmbedder) -> None:
    vectors = embedder.transform(
        [
            "The striker scored twice as United won the cup final.",
            "Two goals from the forward gave the club victory in the final.",
            "The central bank raised interest rates to curb inflation.",
        ]
    )
    assert vectors.shape == (3, 384)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    # paraphrases are closer to each other than to another topic
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2


def test_articles_are_cut_at_the_window(embedder: SentenceEmbedder) -> None:
    long_article = "Shares in the bank rose sharply. " * 40  # ~280 word pieces
    short, longer = embedder.transform([long_article, long_article + "Football results."])
    np.testing.assert_allclose(short, longer, atol=1e-6)
    different = embedder.transform(["Football results. " + long_article])[0]
    assert not np.allclose(short, different, atol=1e-3)


def test_each_text_is_embedded_once_per_run(
    embedder: SentenceEmbedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    encoded: list[int] = []
    original = SentenceEmbedder._encode

    def counting(self, texts, progress, chunk=256):  # type: ignore[no-untyped-def]
        encoded.append(len(texts))
        return original(self, texts, progress, chunk)

    monkeypatch.setattr(SentenceEmbedder, "_encode", counting)
    with embedding_cache(persist=False):
        first = embedder.transform(["alpha story", "beta story", "alpha story"])
        second = embedder.transform(["beta story"])
    assert encoded == [2]
    np.testing.assert_array_equal(first[1], second[0])
    np.testing.assert_array_equal(first[0], first[2])
    # outside a run (serving) nothing is cached
    embedder.transform(["beta story"])
    assert encoded == [2, 1]


def test_api_serves_the_embeddings_model(corpus: pd.DataFrame, small_cfg: NlpConfig) -> None:
    cfg = dataclasses.replace(small_cfg, models=("embeddings",))
    data = split(prepare(corpus.head(150), cfg), cfg)
    pipeline = make_pipeline("embeddings", cfg, logistic_regression(cfg, C=10.0))
    pipeline.fit(data.X_train, data.y_train)
    predictor = TopicPredictor(
        pipeline, card=ModelCard(name="nlp", version="2"), candidate="embeddings"
    )
    items = [
        {"id": "s", "text": "The team won the cup final and the coach praised the players."},
        {"id": "t", "text": "Broadband internet users want faster mobile software."},
    ]
    with TestClient(create_app(SPEC, ServiceSettings(), predictor=predictor)) as c:
        single = c.post("/v1/predict", json=items[0])
        batch = c.post("/v1/predict/batch", json={"items": items})
        empty = c.post("/v1/predict", json={"text": ""})
    assert single.status_code == batch.status_code == 200
    body = single.json()
    assert body["model"] == "embeddings"
    assert body["top_tokens"] is None
    assert sum(body["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    assert [p["label"] for p in batch.json()["predictions"]] == ["sport", "tech"]
    assert empty.status_code == 422


def test_embedder_follows_the_estimator_rules(embedder: SentenceEmbedder) -> None:
    """scikit-learn's rules on a text step (see test_estimator_checks.py): unfitted it
    raises NotFittedError; fit returns self, is repeatable and picklable; rows one at a
    time give the batch's vectors."""
    from tenfold.testing import check_frame_transformer

    articles = pd.Series(
        ["Markets fell on Monday.", "The match ended in a draw.", "A new phone was launched."]
    )
    check_frame_transformer(SentenceEmbedder(max_seq_length=64), articles, validates_input=False)
