"""The fraud API: request and response models, and the predictor handed to
``tenfold.serving.create_app``.

What the client sends: the transaction being authorised (time, amount, optional ids) and
the customer's and terminal's history aggregates, as a feature store computes them from
the transaction log (:func:`fraud.features.history_features` is that computation):
customer windows over transactions strictly before this one, terminal windows ending
``label_delay_days`` ago. The model derives weekend, night and the amount relative to
the customer's usual spending itself, with the same function as in training.

A request is scored without pandas: the fitted preprocessing runs as compiled numpy and
LightGBM's ``pred_contrib`` gives per-feature contributions (TreeSHAP) whose sum is the
log-odds, so one call yields the probability and the reason codes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from tenfold import tracking
from tenfold.data import DataError
from tenfold.explain import FastScorer, Scores, factor_texts
from tenfold.serving import (
    Integer,
    ModelCard,
    Number,
    ReasonCode,
    ServiceSettings,
    ServiceSpec,
    card_from_record,
    reason_codes,
    request_config,
)

EXAMPLE: dict[str, Any] = {
    "transaction_id": "tx-000123",
    "customer_id": "c-0042",
    "terminal_id": "t-3117",
    "tx_datetime": "2018-08-05T02:14:09",
    "tx_amount": 412.50,
    "customer_nb_tx_1day": 3,
    "customer_nb_tx_7day": 15,
    "customer_nb_tx_30day": 61,
    "customer_avg_amount_1day": 71.2,
    "customer_avg_amount_7day": 78.9,
    "customer_avg_amount_30day": 80.3,
    "terminal_nb_tx_1day": 1,
    "terminal_nb_tx_7day": 6,
    "terminal_nb_tx_30day": 27,
    "terminal_risk_1day": 0.0,
    "terminal_risk_7day": 0.0,
    "terminal_risk_30day": 0.0,
}


# What the schema cannot say (JSON Schema compares no two fields, and bounds no date):
# stated in the schema's description, enforced field by field with a 422.
EARLIEST = datetime(2000, 1, 1)
LATEST = datetime(2100, 1, 1)
WINDOWS = ("1day", "7day", "30day")
MIN_AMOUNT = 0.01
CENTS: dict[str, Any] = {"anyOf": [{"const": 0}, {"minimum": MIN_AMOUNT}]}
AVERAGES = {"customer": "customer_avg_amount", "terminal": "terminal_risk"}
RULES = (
    "tx_datetime is in 2000-2099; a longer window holds the shorter one "
    "(customer_nb_tx_1day <= customer_nb_tx_7day <= customer_nb_tx_30day, and the same for "
    "terminal_nb_tx_*); an average over no transactions is 0 (also stated as allOf rules)"
)
# ... and what it can: an average over a window without transactions is 0
ZERO_AVERAGE_SCHEMA: dict[str, Any] = {
    "allOf": [
        {
            "if": {
                "properties": {f"{entity}_nb_tx_{window}": {"const": 0}},
                "required": [f"{entity}_nb_tx_{window}"],
            },
            "then": {"properties": {f"{average}_{window}": {"const": 0}}},
        }
        for entity, average in AVERAGES.items()
        for window in WINDOWS
    ]
}


class FraudRequest(BaseModel):
    """One card transaction to authorise, with its history aggregates."""

    model_config = request_config(
        EXAMPLE,
        description=f"One card transaction to authorise, with its history aggregates. {RULES}.",
        rules=ZERO_AVERAGE_SCHEMA,
    )

    transaction_id: str | None = Field(default=None, max_length=64)
    customer_id: str | None = Field(default=None, max_length=64)
    terminal_id: str | None = Field(default=None, max_length=64)
    tx_datetime: datetime = Field(description="local time at the terminal (ISO 8601), in 2000-2099")
    tx_amount: Number = Field(ge=MIN_AMOUNT, le=1_000_000, description="transaction amount ($)")
    customer_nb_tx_1day: Integer = Field(
        ge=0, le=100_000, description="customer's transactions in the previous 24 h"
    )
    customer_nb_tx_7day: Integer = Field(ge=0, le=100_000)
    customer_nb_tx_30day: Integer = Field(ge=0, le=100_000)
    customer_avg_amount_1day: Number = Field(
        ge=0,
        le=1_000_000,
        description="their mean amount; 0 without transactions, else at least a cent",
        json_schema_extra=CENTS,
    )
    customer_avg_amount_7day: Number = Field(ge=0, le=1_000_000, json_schema_extra=CENTS)
    customer_avg_amount_30day: Number = Field(ge=0, le=1_000_000, json_schema_extra=CENTS)
    terminal_nb_tx_1day: Integer = Field(
        ge=0, le=100_000, description="terminal's transactions in the day ending 7 days ago"
    )
    terminal_nb_tx_7day: Integer = Field(ge=0, le=100_000)
    terminal_nb_tx_30day: Integer = Field(ge=0, le=100_000)
    terminal_risk_1day: Number = Field(ge=0, le=1, description="share of those that were fraud")
    terminal_risk_7day: Number = Field(ge=0, le=1)
    terminal_risk_30day: Number = Field(ge=0, le=1)

    @field_validator("tx_datetime")
    @classmethod
    def wall_clock(cls, value: datetime) -> datetime:
        # weekend and night are about the terminal's local clock: keep it, drop the zone
        local = value.replace(tzinfo=None)
        if not EARLIEST <= local < LATEST:
            raise ValueError(f"must be in {EARLIEST.year}-{LATEST.year - 1} (got {local.year})")
        return local

    @field_validator(
        "customer_avg_amount_1day", "customer_avg_amount_7day", "customer_avg_amount_30day"
    )
    @classmethod
    def cents(cls, value: float) -> float:
        """A mean of amounts of at least a cent is 0 (no transactions) or a cent or more
        (a smaller one would make the amount/average ratio overflow)."""
        if 0 < value < MIN_AMOUNT:
            raise ValueError(f"must be 0 or at least {MIN_AMOUNT}")
        return value

    @field_validator(
        "customer_nb_tx_7day", "customer_nb_tx_30day", "terminal_nb_tx_7day", "terminal_nb_tx_30day"
    )
    @classmethod
    def windows_nest(cls, value: int, info: ValidationInfo) -> int:
        """A longer window contains the shorter one."""
        name = str(info.field_name)
        prefix = name.rsplit("_", 1)[0]  # customer_nb_tx / terminal_nb_tx
        shorter = {"7day": "1day", "30day": "7day"}[name.rsplit("_", 1)[1]]
        other = info.data.get(f"{prefix}_{shorter}")
        if other is not None and value < other:
            raise ValueError(f"must be at least {prefix}_{shorter} ({other}): windows nest")
        return value

    @field_validator(
        "customer_avg_amount_1day",
        "customer_avg_amount_7day",
        "customer_avg_amount_30day",
        "terminal_risk_1day",
        "terminal_risk_7day",
        "terminal_risk_30day",
    )
    @classmethod
    def zero_without_transactions(cls, value: float, info: ValidationInfo) -> float:
        """An average over no transactions is 0 by convention, as in training."""
        name = str(info.field_name)
        entity = name.split("_", 1)[0]
        window = name.rsplit("_", 1)[1]
        count = info.data.get(f"{entity}_nb_tx_{window}")
        if count == 0 and value != 0:
            raise ValueError(f"must be 0 when {entity}_nb_tx_{window} is 0")
        return value


class FraudScore(BaseModel):
    transaction_id: str | None = None
    fraud_probability: float
    flag_for_review: bool = Field(description="probability at or above the cost-optimal threshold")
    threshold: float
    expected_loss_if_approved: float = Field(description="probability x amount ($)")
    review_cost: float
    reasons: list[ReasonCode]
    model_version: str | None = None


LABELS = {
    "tx_amount": "amount ($)",
    "amount_vs_customer_avg_30day": "amount / customer's 30-day average",
    "tx_during_night": "night-time transaction",
    "tx_during_weekend": "weekend transaction",
}


def label(feature: str) -> str:
    if feature in LABELS:
        return LABELS[feature]
    entity, rest = feature.split("_", 1)
    window = rest.rsplit("_", 1)[1].replace("day", "-day")
    what = {
        "nb_tx": "transactions",
        "avg_amount": "average amount ($)",
        "risk": "fraud rate (delayed)",
    }[rest.rsplit("_", 1)[0]]
    return f"{entity} {window} {what}"


class FraudPredictor:
    """Scores requests with the champion pipeline's fast path."""

    def __init__(
        self,
        pipeline: Any,
        *,
        threshold: float,
        review_cost: float,
        card: ModelCard,
        background_mean: Sequence[float] | None = None,
        n_reasons: int = 3,
    ) -> None:
        self.scorer = FastScorer(pipeline, background_mean=background_mean)
        self.threshold = threshold
        self.review_cost = review_cost
        self.card = card
        self.n_reasons = n_reasons

    def reasons(self, scores: Scores, i: int) -> list[ReasonCode]:
        return reason_codes(
            scores, i, self.scorer.sources, outcome="fraud risk", label=label, k=self.n_reasons
        )

    def predict(self, items: Sequence[FraudRequest]) -> list[FraudScore]:
        records = [item.model_dump() for item in items]
        scores = self.scorer.score_records(records)
        out = []
        for i, record in enumerate(records):
            probability = float(scores.prediction[i])
            out.append(
                FraudScore(
                    transaction_id=record.get("transaction_id"),
                    fraud_probability=round(probability, 4),
                    flag_for_review=probability >= self.threshold,
                    threshold=self.threshold,
                    expected_loss_if_approved=round(probability * record["tx_amount"], 2),
                    review_cost=self.review_cost,
                    reasons=self.reasons(scores, i),
                    model_version=self.card.version,
                )
            )
        return out

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring of a file (or a chunk of one): probability, decision and one
        readable column per reason, each built as a whole column."""
        scores = self.scorer.score_batch({c: frame[c].to_numpy() for c in frame.columns})
        out = pd.DataFrame(
            {
                "fraud_probability": np.round(scores.prediction, 4),
                "flag_for_review": scores.prediction >= self.threshold,
            }
        )
        if "transaction_id" in frame.columns:
            out.insert(0, "transaction_id", frame["transaction_id"].to_numpy())
        texts = factor_texts(
            scores, self.scorer.sources, outcome="fraud risk", label=label, k=self.n_reasons
        )
        for rank, text in enumerate(texts, start=1):
            out[f"reason_{rank}"] = text
        return out


def load(uri: str) -> FraudPredictor:
    """A predictor for any fraud model in the registry or on disk."""
    try:
        record = tracking.load_sklearn_model(uri)
    except tracking.ModelLoadError as exc:
        raise DataError(
            f"cannot load the model {uri}: {exc.reason}; `python -m fraud run` trains one "
            "(or pass --model-uri)"
        ) from None
    meta = record.metadata
    card = card_from_record(
        record,
        details={
            "candidate": meta.get("candidate"),
            "decision_threshold": meta.get("decision_threshold"),
            "review_cost": meta.get("review_cost"),
            "dataset": meta.get("dataset", "simulated"),
        },
        metric_prefixes=("cv_", "test_", "validation_"),
    )
    return FraudPredictor(
        record.model,
        threshold=float(meta["decision_threshold"]),
        review_cost=float(meta["review_cost"]),
        card=card,
        background_mean=meta.get("encoded_background_mean"),
    )


class FraudSettings(ServiceSettings):
    """The fraud service's environment (``TENFOLD_*``): the shared settings as they are;
    a batch of 1,000 transactions is about 0.6 MB of JSON, inside the default limit."""


def load_predictor(settings: ServiceSettings) -> FraudPredictor:
    uri = SPEC.model_uri(settings)
    predictor = load(uri)
    return tracking.refuse_if(
        predictor,
        uri,
        predictor.card.details.get("dataset") != "simulated",
        "it was trained on the ULB file (anonymised components); the API serves the "
        "transaction schema. Score ULB rows with `predict --model-uri`.",
    )


SPEC = ServiceSpec(
    name="fraud",
    title="tenfold fraud API",
    description=(
        "Fraud probability of a card transaction, the decision at the cost-optimal "
        "threshold, and the top reason codes."
    ),
    settings=FraudSettings,
    request=FraudRequest,
    response=FraudScore,
    load=load_predictor,
    default_model_uri="models:/fraud@champion",
)

# the ASGI app factory: ``uvicorn --factory fraud.serve:app``
app = SPEC.app
