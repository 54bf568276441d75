"""The churn API: request and response models, settings, and the predictor handed to
``tenfold.serving.create_app``.

A request is scored without pandas: the engineered columns are computed on the values,
the fitted preprocessor runs as compiled numpy, and XGBoost's TreeSHAP gives the
contributions whose sum is also the log-odds, so one call yields the probability and
the top three factors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, Field, ValidationInfo, field_validator

from tenfold import tracking
from tenfold.explain import FastScorer, Scores, factor_texts
from tenfold.serving import (
    Integer,
    ModelCard,
    Number,
    ReasonCode,
    ServiceSettings,
    ServiceSpec,
    card_from_record,
    not_boolean,
    reason_codes,
    request_config,
)

YesNo = Literal["Yes", "No"]
InternetAddOn = Literal["Yes", "No", "No internet service"]
INTERNET_ADD_ONS = (
    "OnlineSecurity",
    "OnlineBackup",
    "DeviceProtection",
    "TechSupport",
    "StreamingTV",
    "StreamingMovies",
)

EXAMPLE: dict[str, Any] = {
    "customerID": "7590-VHVEG",
    "gender": "Female",
    "SeniorCitizen": 0,
    "Partner": "Yes",
    "Dependents": "No",
    "tenure": 1,
    "PhoneService": "No",
    "MultipleLines": "No phone service",
    "InternetService": "DSL",
    "OnlineSecurity": "No",
    "OnlineBackup": "Yes",
    "DeviceProtection": "No",
    "TechSupport": "No",
    "StreamingTV": "No",
    "StreamingMovies": "No",
    "Contract": "Month-to-month",
    "PaperlessBilling": "Yes",
    "PaymentMethod": "Electronic check",
    "MonthlyCharges": 29.85,
    "TotalCharges": 29.85,
}


# The Telco data's own consistency, which the JSON schema states too (allOf below) so
# that every request the schema allows is one the API scores.
PHONE_RULE = "MultipleLines is 'No phone service' exactly when PhoneService is 'No'"
INTERNET_RULE = "each internet add-on is 'No internet service' exactly when InternetService is 'No'"
CONSISTENCY_SCHEMA: dict[str, Any] = {
    "allOf": [
        {
            "anyOf": [
                {
                    "properties": {
                        "PhoneService": {"const": "No"},
                        "MultipleLines": {"const": "No phone service"},
                    }
                },
                {
                    "properties": {
                        "PhoneService": {"const": "Yes"},
                        "MultipleLines": {"enum": ["Yes", "No"]},
                    }
                },
            ]
        },
        {
            "anyOf": [
                {
                    "properties": {
                        "InternetService": {"const": "No"},
                        **{a: {"const": "No internet service"} for a in INTERNET_ADD_ONS},
                    }
                },
                {
                    "properties": {
                        "InternetService": {"enum": ["DSL", "Fiber optic"]},
                        **{a: {"enum": ["Yes", "No"]} for a in INTERNET_ADD_ONS},
                    }
                },
            ]
        },
    ]
}
# 240 months at the highest monthly charge accepted
MAX_TOTAL_CHARGES = 2_400_000


class ChurnRequest(BaseModel):
    """One customer, in the Telco file's columns."""

    model_config = request_config(
        EXAMPLE,
        description=f"One customer, in the Telco file's columns; {PHONE_RULE}, and "
        f"{INTERNET_RULE}.",
        rules=CONSISTENCY_SCHEMA,
    )

    customerID: str | None = Field(default=None, max_length=64)
    gender: Literal["Female", "Male"]
    SeniorCitizen: Annotated[Literal[0, 1], BeforeValidator(not_boolean)]
    Partner: YesNo
    Dependents: YesNo
    tenure: Integer = Field(ge=0, le=240, description="months with the company")
    PhoneService: YesNo
    MultipleLines: Literal["Yes", "No", "No phone service"]
    InternetService: Literal["DSL", "Fiber optic", "No"]
    OnlineSecurity: InternetAddOn
    OnlineBackup: InternetAddOn
    DeviceProtection: InternetAddOn
    TechSupport: InternetAddOn
    StreamingTV: InternetAddOn
    StreamingMovies: InternetAddOn
    Contract: Literal["Month-to-month", "One year", "Two year"]
    PaperlessBilling: YesNo
    PaymentMethod: Literal[
        "Electronic check", "Mailed check", "Bank transfer (automatic)", "Credit card (automatic)"
    ]
    MonthlyCharges: Number = Field(ge=0, le=10_000)
    TotalCharges: Number | None = Field(
        default=None,
        ge=0,
        le=MAX_TOTAL_CHARGES,
        description="blank (null) for customers not billed yet",
    )

    # Contradictions the Telco data never contains would be scored as an unseen
    # category, silently: each is a 422 on the field that contradicts.
    @field_validator("MultipleLines")
    @classmethod
    def phone_consistent(cls, value: str, info: ValidationInfo) -> str:
        phone = info.data.get("PhoneService")
        if phone is not None and (phone == "No") != (value == "No phone service"):
            raise ValueError(
                "MultipleLines must be 'No phone service' exactly when PhoneService is 'No'"
            )
        return value

    @field_validator(*INTERNET_ADD_ONS)
    @classmethod
    def internet_consistent(cls, value: str, info: ValidationInfo) -> str:
        internet = info.data.get("InternetService")
        if internet is not None and (internet == "No") != (value == "No internet service"):
            raise ValueError(
                f"{info.field_name} must be 'No internet service' exactly when "
                "InternetService is 'No'"
            )
        return value


class ChurnPrediction(BaseModel):
    customerID: str | None = None
    churn_probability: float
    will_churn: bool = Field(description="probability at or above the decision threshold")
    threshold: float
    top_factors: list[ReasonCode]
    model_version: str | None = None


LABELS = {
    "tenure": "tenure (months)",
    "MonthlyCharges": "monthly charges ($)",
    "TotalCharges": "total charges ($)",
    "SeniorCitizen": "senior citizen",
    "charge_per_tenure_month": "average monthly bill so far ($)",
    "monthly_vs_average_charge": "current bill minus average bill ($)",
    "n_services": "number of services",
    "auto_payment": "automatic payment",
    "tenure_bucket": "tenure band",
}


class ChurnPredictor:
    """Scores requests with the champion pipeline's fast path."""

    def __init__(
        self,
        pipeline: Any,
        *,
        threshold: float,
        card: ModelCard,
        background_mean: Sequence[float] | None = None,
    ) -> None:
        self.scorer = FastScorer(pipeline, background_mean=background_mean)
        self.threshold = threshold
        self.card = card

    @staticmethod
    def label(name: str) -> str:
        return LABELS.get(name, name)

    def factors(self, scores: Scores, i: int) -> list[ReasonCode]:
        return reason_codes(scores, i, self.scorer.sources, outcome="churn risk", label=self.label)

    def predict(self, items: Sequence[ChurnRequest]) -> list[ChurnPrediction]:
        records = [item.model_dump() for item in items]
        scores = self.scorer.score_records(records)
        return [
            ChurnPrediction(
                customerID=record.get("customerID"),
                churn_probability=round(float(scores.prediction[i]), 4),
                will_churn=bool(scores.prediction[i] >= self.threshold),
                threshold=self.threshold,
                top_factors=self.factors(scores, i),
                model_version=self.card.version,
            )
            for i, record in enumerate(records)
        ]

    def score_frame(
        self, frame: pd.DataFrame, id_column: str | None = "customerID"
    ) -> pd.DataFrame:
        """Batch scoring of a file (or a chunk of one): probability, decision and one
        readable column per top factor, each built as a whole column."""
        scores = self.scorer.score_batch({c: frame[c].to_numpy() for c in frame.columns})
        out = pd.DataFrame(
            {
                "churn_probability": np.round(scores.prediction, 4),
                "will_churn": scores.prediction >= self.threshold,
            }
        )
        if id_column and id_column in frame.columns:
            out.insert(0, id_column, frame[id_column].to_numpy())
        texts = factor_texts(
            scores, self.scorer.sources, outcome="churn risk", label=self.label, k=3
        )
        for rank, text in enumerate(texts, start=1):
            out[f"factor_{rank}"] = text
        return out


def load(uri: str) -> ChurnPredictor:
    """A predictor for any churn model in the registry or on disk."""
    record = tracking.load_sklearn_model(uri)
    meta = record.metadata
    card = card_from_record(
        record,
        details={
            "candidate": meta.get("candidate"),
            "decision_threshold": meta.get("decision_threshold"),
            "telco_schema": meta.get("telco_schema", True),
        },
    )
    return ChurnPredictor(
        record.model,
        threshold=float(meta["decision_threshold"]),
        card=card,
        background_mean=meta.get("encoded_background_mean"),
    )


class ChurnSettings(ServiceSettings):
    """The churn service's environment (``TENFOLD_*``): the shared settings as they are;
    a batch of 1,000 customers is about 0.7 MB of JSON, inside the default body limit."""


def load_predictor(settings: ServiceSettings) -> ChurnPredictor:
    predictor = load(uri := SPEC.model_uri(settings))
    custom = predictor.card.details.get("telco_schema") is False
    return tracking.refuse_if(predictor, uri, custom, tracking.CUSTOM_CSV.format(schema="Telco"))


SPEC = ServiceSpec(
    name="churn",
    title="tenfold churn API",
    description="Churn probability, decision at the expected-value threshold, top 3 factors.",
    settings=ChurnSettings,
    request=ChurnRequest,
    response=ChurnPrediction,
    load=load_predictor,
    default_model_uri="models:/churn@champion",
)

# the ASGI app factory: ``uvicorn --factory churn.serve:app``
app = SPEC.app
