"""The champion the retraining flow keeps in service, served like fraud's model.

``models:/retraining@champion`` is a fraud pipeline (features, preprocessing, LightGBM,
its threshold), so the request and response models and the predictor are fraud's own
(:mod:`fraud.serve`): only the registered model differs. After a promotion, restarting
the service (or a rolling restart of its replicas) serves the new champion.
"""

from __future__ import annotations

from fraud.serve import FraudPredictor, FraudRequest, FraudScore, load
from tenfold.serving import ServiceSettings, ServiceSpec


def load_predictor(settings: ServiceSettings) -> FraudPredictor:
    uri = SPEC.model_uri(settings)
    predictor = load(uri)
    if predictor.card.details.get("dataset") != "simulated":
        raise RuntimeError(f"{uri} is not a transaction model: the API serves that schema")
    return predictor


SPEC = ServiceSpec(
    name="retraining",
    title="tenfold retraining: the fraud champion",
    description=(
        "Fraud probability of a card transaction from the model the retraining flow "
        "promoted last, its decision at the cost-optimal threshold and reason codes."
    ),
    request=FraudRequest,
    response=FraudScore,
    load=load_predictor,
    default_model_uri="models:/retraining@champion",
)

# the ASGI app factory: ``uvicorn --factory retraining.serve:app``
app = SPEC.app
