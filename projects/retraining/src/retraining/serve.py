"""The champion the retraining flow keeps in service, served like fraud's model.

``models:/retraining@champion`` is a fraud pipeline (features, preprocessing, LightGBM,
its threshold), so the request and response models, the predictor and its checks are
fraud's own (:mod:`fraud.serve`): only the registered model differs. The service
follows the alias: every minute it asks the registry which version ``champion`` points
at and swaps a newly promoted one in (the library's hot reload), so a promotion by the
flow needs no restart.
"""

from __future__ import annotations

from pydantic import Field

from fraud.serve import FraudPredictor, FraudRequest, FraudScore, FraudSettings
from fraud.serve import load_predictor as load_fraud_predictor
from tenfold.serving import ServiceSettings, ServiceSpec


class RetrainingSettings(FraudSettings):
    """Fraud's service settings, following the champion alias by default."""

    reload_seconds: float = Field(
        default=60.0,
        ge=0.0,
        description="poll the champion alias this often and swap in a promoted version (0 = off)",
    )


def load_predictor(settings: ServiceSettings) -> FraudPredictor:
    """Fraud's loader and checks, on this service's model (``--model-uri`` or
    ``TENFOLD_MODEL_URI``, else ``models:/retraining@champion``)."""
    return load_fraud_predictor(settings.model_copy(update={"model_uri": SPEC.model_uri(settings)}))


SPEC = ServiceSpec(
    name="retraining",
    title="tenfold retraining: the fraud champion",
    description=(
        "Fraud probability of a card transaction from the model the retraining flow "
        "promoted last, its decision at the cost-optimal threshold and reason codes."
    ),
    settings=RetrainingSettings,
    request=FraudRequest,
    response=FraudScore,
    load=load_predictor,
    default_model_uri="models:/retraining@champion",
)

# the ASGI app factory: ``uvicorn --factory retraining.serve:app``
app = SPEC.app
