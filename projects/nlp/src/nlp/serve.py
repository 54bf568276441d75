"""The topic API: request and response models, settings, and the predictor handed to
``tenfold.serving.create_app``.

Which model answers is configuration (:class:`NlpSettings`):
``NLP_MODEL=champion|tfidf|embeddings`` (the registry aliases of model ``nlp``; the
``serve --serve-model`` option), or ``TENFOLD_MODEL_URI`` for any model URI or exported
folder, which wins. The TF-IDF model also says which n-grams drove its answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import AliasChoices, BaseModel, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from nlp.features import DenseUnavailable, TokenExplainer, dense_available, texts_of
from tenfold import tracking
from tenfold.serving import (
    ModelCard,
    ServiceSettings,
    ServiceSpec,
    card_from_record,
    request_config,
)

# About twice BBC's longest article (25,485 characters): longer is a client mistake
# (a whole feed pasted in), and the embedding model reads only the first 256 word pieces.
MAX_TEXT_CHARS = 50_000
# A batch of articles is heavier than a batch of table rows.
DEFAULT_MAX_BATCH = 64
# 64 articles of 50,000 characters, each up to 4 bytes of UTF-8, with room for the JSON
DEFAULT_MAX_BODY_BYTES = 16 << 20
# Text with at least one character that is not JSON Schema's (ECMAScript's) whitespace:
# the schema's pattern and the server's check are this one expression.
WHITESPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
NOT_BLANK = f"[^{WHITESPACE}]"

EXAMPLE: dict[str, Any] = {
    "id": "bbc-0001",
    "text": (
        "Ad sales boost Time Warner profit\n\nQuarterly profits at US media giant TimeWarner "
        "jumped 76% to $1.13bn (£600m) for the three months to December, from $639m "
        "year-earlier."
    ),
}

ModelChoice = Literal["champion", "tfidf", "embeddings"]


def model_uri(choice: ModelChoice, name: str = "nlp") -> str:
    return f"models:/{name}@{choice}"


class NlpSettings(ServiceSettings):
    """The nlp service's environment: the shared ``TENFOLD_*`` settings, the model choice
    (``NLP_MODEL``), batches of 64 articles and a body limit that fits them."""

    model_config = SettingsConfigDict(
        env_prefix="TENFOLD_", extra="ignore", protected_namespaces=(), populate_by_name=True
    )

    model: ModelChoice = Field(
        default="champion",
        validation_alias=AliasChoices("model", "NLP_MODEL"),
        description="which registry alias of model nlp to serve (NLP_MODEL)",
    )
    max_batch: int = Field(default=DEFAULT_MAX_BATCH, ge=1, description="largest accepted batch")
    max_body_bytes: int = Field(
        default=DEFAULT_MAX_BODY_BYTES,
        ge=1024,
        description="request bodies above this are refused (413) before they are parsed",
    )

    @model_validator(mode="after")
    def choose_model(self) -> NlpSettings:
        """An explicit TENFOLD_MODEL_URI wins; else the chosen alias is served."""
        if self.model_uri is None:
            self.model_uri = model_uri(self.model)
        return self


class NewsArticle(BaseModel):
    """One article: the text (headline and body), an optional id echoed back."""

    model_config = request_config(EXAMPLE)

    id: str | None = Field(default=None, max_length=64)
    text: str = Field(
        min_length=1,
        max_length=MAX_TEXT_CHARS,
        description="headline and body; not only whitespace",
        json_schema_extra={"pattern": NOT_BLANK},
    )

    @field_validator("text")
    @classmethod
    def not_blank(cls, value: str) -> str:
        if re.search(NOT_BLANK, value) is None:
            raise ValueError("text is empty (only whitespace)")
        return value


class Token(BaseModel):
    """An n-gram's contribution to the predicted class: tf-idf value × coefficient."""

    token: str
    kind: Literal["word", "char"]
    weight: float


class TopicPrediction(BaseModel):
    id: str | None = None
    label: str
    confidence: float = Field(description="probability of the predicted label")
    probabilities: dict[str, float]
    top_tokens: list[Token] | None = Field(
        default=None, description="TF-IDF model only: the word n-grams that drove the label"
    )
    model: str
    model_version: str | None = None


class TopicPredictor:
    """Classifies articles with a fitted pipeline (``text`` → ``features`` → ``model``)."""

    def __init__(self, pipeline: Any, *, card: ModelCard, candidate: str, top_tokens: int = 5):
        self.pipeline = pipeline
        self.card = card
        self.candidate = candidate
        self.model = pipeline.named_steps["model"]
        self.classes = [str(c) for c in self.model.classes_]
        self.explainer = TokenExplainer(pipeline) if candidate == "tfidf" else None
        self.top_tokens = top_tokens

    def warm_up(self) -> None:
        """Load what the first request would otherwise wait for (the embedding weights)."""
        self.pipeline.predict_proba(["warm up"])

    def scores(self, texts: Sequence[str]) -> tuple[np.ndarray, Any]:
        features = self.pipeline[:-1].transform(list(texts))
        return self.model.predict_proba(features), features

    def predict(self, items: Sequence[NewsArticle]) -> list[TopicPrediction]:
        proba, features = self.scores([item.text for item in items])
        out = []
        for i, item in enumerate(items):
            best = int(np.argmax(proba[i]))
            tokens = None
            if self.explainer is not None:
                found = self.explainer.top(
                    features, i, self.classes[best], k=self.top_tokens, kind="word"
                )
                tokens = [
                    Token(token=t.token, kind=t.kind, weight=round(t.weight, 4)) for t in found
                ]
            out.append(
                TopicPrediction(
                    id=item.id,
                    label=self.classes[best],
                    confidence=round(float(proba[i, best]), 4),
                    probabilities={
                        c: round(float(p), 4) for c, p in zip(self.classes, proba[i], strict=True)
                    },
                    top_tokens=tokens,
                    model=self.candidate,
                    model_version=self.card.version,
                )
            )
        return out

    def classify_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch classification of a file: label, confidence, one column per class."""
        proba, _ = self.scores(texts_of(frame))
        out = pd.DataFrame({"label": np.asarray(self.classes)[np.argmax(proba, axis=1)]})
        out["confidence"] = np.round(proba.max(axis=1), 4)
        for k, name in enumerate(self.classes):
            out[f"p_{name}"] = np.round(proba[:, k], 4)
        if "id" in frame.columns:
            out.insert(0, "id", frame["id"].to_numpy())
        return out


def load(uri: str) -> TopicPredictor:
    """A predictor for any nlp model in the registry or on disk, warmed up."""
    record = tracking.load_sklearn_model(uri)
    meta = record.metadata
    candidate = str(meta.get("candidate", "tfidf"))
    if candidate == "embeddings" and not dense_available():
        raise DenseUnavailable(
            f"{uri} is the embeddings model; this environment lacks torch / "
            "sentence-transformers (`make nlp-deep`, or serve NLP_MODEL=tfidf)"
        )
    card = card_from_record(
        record,
        details={"candidate": candidate, "classes": meta.get("classes"), "bbc": meta.get("bbc")},
    )
    predictor = TopicPredictor(record.model, card=card, candidate=candidate)
    predictor.warm_up()
    return predictor


def load_predictor(settings: ServiceSettings) -> TopicPredictor:
    return load(SPEC.model_uri(settings))


SPEC = ServiceSpec(
    name="nlp",
    title="tenfold nlp API: BBC News topics",
    description=(
        "Topic of a news article (business, entertainment, politics, sport, tech) with class "
        "probabilities; the TF-IDF model also returns the n-grams that drove its answer."
    ),
    settings=NlpSettings,
    request=NewsArticle,
    response=TopicPrediction,
    load=load_predictor,
    default_model_uri=model_uri("champion"),
)

# the ASGI app factory: ``uvicorn --factory nlp.serve:app``
app = SPEC.app
