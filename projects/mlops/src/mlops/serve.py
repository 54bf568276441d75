"""The credit-scoring API: request and response models, settings, the predictor handed to
``tenfold.serving.create_app``, and the prediction log as a lifespan resource.

A request is scored without pandas: the engineered columns on the values, the compiled
preprocessor, XGBoost's TreeSHAP (or the linear model's coefficients) for the log-odds
and its per-input contributions, then the Platt calibration, which is affine in the
log-odds: the reason codes are exact shares of the calibrated score.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from mlops.config import MODEL_INPUTS, MlopsConfig
from mlops.predictions import PredictionLog, database
from mlops.scorecard import CalibratedScorecard, band, points, sigmoid
from tenfold import paths, tracking
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
    "application_id": "A-000001",
    "application_date": "2025-01-01",
    "LIMIT_BAL": 20000,
    "EDUCATION": 2,
    "AGE": 24,
    "PAY_0": 2,
    "PAY_2": 2,
    "PAY_3": -1,
    "PAY_4": -1,
    "PAY_5": -2,
    "PAY_6": -2,
    "BILL_AMT1": 3913,
    "BILL_AMT2": 3102,
    "BILL_AMT3": 689,
    "BILL_AMT4": 0,
    "BILL_AMT5": 0,
    "BILL_AMT6": 0,
    "PAY_AMT1": 0,
    "PAY_AMT2": 689,
    "PAY_AMT3": 0,
    "PAY_AMT4": 0,
    "PAY_AMT5": 0,
    "PAY_AMT6": 0,
}
STATUS = "repayment status: -2 no use, -1 paid in full, 0 revolving, 1-9 months late"
BILL_LIMIT = 20_000_000  # NT$; the file's largest balance is 1.7 million


class CreditApplication(BaseModel):
    """One applicant, in the UCI file's columns (amounts in NT$, statuses of the last six
    months, latest first)."""

    model_config = request_config(EXAMPLE, description="One applicant, in the UCI columns.")

    application_id: str | None = Field(
        default=None, max_length=64, description="your reference, logged with the score"
    )
    application_date: dt.date | None = Field(
        default=None, description="business date of the application (default: today, UTC)"
    )
    LIMIT_BAL: Number = Field(gt=0, le=BILL_LIMIT, description="credit limit")
    EDUCATION: Integer = Field(
        ge=0,
        le=6,
        description="1 graduate school, 2 university, 3 high school, 4 others (0, 5, 6 unknown)",
    )
    AGE: Integer = Field(ge=18, le=110)
    PAY_0: Integer = Field(ge=-2, le=9, description=f"September; {STATUS}")
    PAY_2: Integer = Field(ge=-2, le=9, description="August")
    PAY_3: Integer = Field(ge=-2, le=9, description="July")
    PAY_4: Integer = Field(ge=-2, le=9, description="June")
    PAY_5: Integer = Field(ge=-2, le=9, description="May")
    PAY_6: Integer = Field(ge=-2, le=9, description="April")
    BILL_AMT1: Number = Field(ge=-BILL_LIMIT, le=BILL_LIMIT, description="September bill")
    BILL_AMT2: Number = Field(ge=-BILL_LIMIT, le=BILL_LIMIT)
    BILL_AMT3: Number = Field(ge=-BILL_LIMIT, le=BILL_LIMIT)
    BILL_AMT4: Number = Field(ge=-BILL_LIMIT, le=BILL_LIMIT)
    BILL_AMT5: Number = Field(ge=-BILL_LIMIT, le=BILL_LIMIT)
    BILL_AMT6: Number = Field(ge=-BILL_LIMIT, le=BILL_LIMIT)
    PAY_AMT1: Number = Field(ge=0, le=BILL_LIMIT, description="paid in September")
    PAY_AMT2: Number = Field(ge=0, le=BILL_LIMIT)
    PAY_AMT3: Number = Field(ge=0, le=BILL_LIMIT)
    PAY_AMT4: Number = Field(ge=0, le=BILL_LIMIT)
    PAY_AMT5: Number = Field(ge=0, le=BILL_LIMIT)
    PAY_AMT6: Number = Field(ge=0, le=BILL_LIMIT)


class CreditDecision(BaseModel):
    application_id: str | None = None
    probability_of_default: float = Field(description="calibrated, next month")
    score: float = Field(description="scorecard points (higher = safer)")
    risk_band: str = Field(description="A (PD < 5 %) to E (PD ≥ 40 %)")
    reason_codes: list[ReasonCode]
    model_version: str | None = None


LABELS = {
    "LIMIT_BAL": "credit limit",
    "AGE": "age",
    "education_level": "education",
    "utilisation": "limit used",
    "months_delayed": "months paid late (of 6)",
    "worst_delay": "longest delay (months)",
    "repayment_ratio": "share of bills repaid",
    "bill_trend": "balance growth",
    "PAY_0": "September status",
}


class ScorecardPredictor:
    """Scores applications with the champion's fast path and reason codes."""

    def __init__(
        self,
        model: CalibratedScorecard,
        *,
        card: ModelCard,
        cfg: MlopsConfig | None = None,
        background_mean: Sequence[float] | None = None,
    ) -> None:
        self.model = model
        self.card = card
        self.scale = (cfg or MlopsConfig()).scale
        self.scorer = FastScorer(model.pipeline_, background_mean=background_mean)

    @staticmethod
    def label(name: str) -> str:
        return LABELS.get(name, name)

    def calibrated(self, scores: Scores) -> Scores:
        """The same scores on the calibrated log-odds scale (contributions × slope)."""
        slope, intercept = self.model.slope_, self.model.intercept_
        margin = slope * scores.margin + intercept
        return Scores(
            sigmoid(margin),
            margin,
            scores.contributions * slope,
            slope * scores.base_value + intercept,
            scores.inputs,
        )

    def score_columns(self, columns: Mapping[str, Any]) -> Scores:
        return self.calibrated(self.scorer.score(columns))

    def predict(self, items: Sequence[CreditApplication]) -> list[CreditDecision]:
        records = [item.model_dump(include=set(MODEL_INPUTS)) for item in items]
        if len(records) == 1:
            scores = self.score_columns(records[0])
        else:
            scores = self.score_columns({c: [r[c] for r in records] for c in MODEL_INPUTS})
        s = self.scale
        score_points = points(
            scores.margin, base_score=s.base_score, base_odds=s.base_odds, pdo=s.pdo
        )
        return [
            CreditDecision(
                application_id=item.application_id,
                probability_of_default=round(float(scores.prediction[i]), 4),
                score=round(float(score_points[i]), 1),
                risk_band=band(float(scores.prediction[i])),
                reason_codes=reason_codes(
                    scores, i, self.scorer.sources, outcome="default risk", label=self.label
                ),
                model_version=self.card.version,
            )
            for i, item in enumerate(items)
        ]

    def score_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch scoring of a file's chunk: PD, points, band and the top three reasons,
        each built as a whole column."""
        scores = self.calibrated(
            self.scorer.score_batch({c: frame[c].to_numpy() for c in MODEL_INPUTS})
        )
        s = self.scale
        out = pd.DataFrame(
            {
                "probability_of_default": np.round(scores.prediction, 4),
                "score": np.round(
                    points(
                        scores.margin, base_score=s.base_score, base_odds=s.base_odds, pdo=s.pdo
                    ),
                    1,
                ),
                "risk_band": [band(float(p)) for p in scores.prediction],
            }
        )
        if "ID" in frame.columns:
            out.insert(0, "ID", frame["ID"].to_numpy())
        texts = factor_texts(
            scores, self.scorer.sources, outcome="default risk", label=self.label, k=3
        )
        for rank, text in enumerate(texts, start=1):
            out[f"reason_{rank}"] = text
        return out


def load(uri: str) -> ScorecardPredictor:
    record = tracking.load_sklearn_model(uri)
    if not isinstance(record.model, CalibratedScorecard):
        raise tracking.IncompatibleModel(uri, "it is not an mlops credit scorecard")
    meta = record.metadata
    card = card_from_record(record, details={"candidate": meta.get("candidate")})
    return ScorecardPredictor(
        record.model, card=card, background_mean=meta.get("encoded_background_mean")
    )


class MlopsSettings(ServiceSettings):
    """The service's environment: ``TENFOLD_*`` as every service, plus the prediction
    log's database (``MLOPS_DATABASE_URL``) and spool folder (``MLOPS_SPOOL_DIR``).
    The champion is polled every 5 s by default (a promotion is served without restart)."""

    reload_seconds: float = Field(default=5.0, ge=0.0)
    database_url: str | None = Field(default=None, validation_alias="MLOPS_DATABASE_URL")
    spool_dir: Path | None = Field(default=None, validation_alias="MLOPS_SPOOL_DIR")
    prediction_logging: bool = Field(
        default=True,
        validation_alias="MLOPS_PREDICTION_LOGGING",
        description="off only to measure its overhead",
    )
    migrate_on_start: bool = Field(default=True, validation_alias="MLOPS_MIGRATE_ON_START")


def load_predictor(settings: MlopsSettings) -> ScorecardPredictor:
    return load(SPEC.model_uri(settings))


def open_prediction_log(settings: MlopsSettings) -> PredictionLog:
    spool = settings.spool_dir or paths.state_dir() / "mlops" / "spool"
    return PredictionLog(
        database(settings.database_url), spool, migrate_on_start=settings.migrate_on_start
    )


def _resources(settings: MlopsSettings) -> Any:
    return open_prediction_log(settings) if settings.prediction_logging else _Nothing()


class _Nothing:
    async def __aenter__(self) -> None:
        return None

    async def __aexit__(self, *exc: object) -> None:
        return None


def _sink(settings: MlopsSettings, resources: Mapping[str, Any]) -> Any:
    return resources["prediction_log"]


def _collectors(settings: MlopsSettings, resources: Mapping[str, Any]) -> list[Any]:
    opened = resources["prediction_log"]
    return opened.collectors() if isinstance(opened, PredictionLog) else []


SPEC = ServiceSpec(
    name="mlops",
    title="tenfold mlops credit-scoring API",
    description="Probability of default, scorecard points, risk band and reason codes; "
    "every prediction logged to PostgreSQL.",
    settings=MlopsSettings,
    request=CreditApplication,
    response=CreditDecision,
    load=load_predictor,
    default_model_uri="models:/mlops@champion",
    resources={"prediction_log": _resources},
    sink=_sink,
    collectors=_collectors,
)

# the ASGI app factory: ``uvicorn --factory mlops.serve:app``
app = SPEC.app
