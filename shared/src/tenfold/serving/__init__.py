"""The serving layer every project's API is built on.

A project declares a :class:`ServiceSpec` (its settings class, how to load its model,
its request/response models, its own routers and lifespan resources) and exposes
``app = SPEC.app``; :func:`create_app` builds the service, the same for all ten:

- ``app``: the factory, lifespan (resources, prediction log, model, hot reload);
- ``routers``: the ops routes and the predict routes;
- ``state``: the dependencies routes use (``current_predictor``, ``resource(name)``,
  ``service_settings``, ``record_predictions``);
- ``concurrency``: :func:`run_blocking`, CPU work off the event loop;
- ``sink``: the prediction log (``PredictionRecord``, ``PredictionSink``, the writer);
- ``errors``/``middleware``: documented error bodies, 413/415, request ids, metrics;
- ``fields``: JSON-strict number types for request models;
- ``settings``, ``schemas``, ``server`` (``serve_app``, ``run``).
"""

from tenfold.errors import InvalidInput as InvalidInput  # re-exported (older imports)
from tenfold.serving.app import ServiceSpec, api_key_guard, create_app
from tenfold.serving.concurrency import run_blocking
from tenfold.serving.fields import Integer, Number, not_boolean, request_config
from tenfold.serving.routers import ops_router, predict_router
from tenfold.serving.schemas import (
    ErrorMessage,
    ErrorResponse,
    FieldError,
    Health,
    ModelCard,
    Readiness,
    ReasonCode,
    card_from_record,
    reason_codes,
)
from tenfold.serving.server import run, serve_app, settings_from, spec_of
from tenfold.serving.settings import ServiceSettings
from tenfold.serving.sink import (
    JsonlSink,
    MemorySink,
    PredictionRecord,
    PredictionSink,
    SinkWriter,
)
from tenfold.serving.state import (
    Predictor,
    Served,
    ServiceState,
    current_predictor,
    current_service,
    record_predictions,
    resource,
    served_predictor,
    service_settings,
    service_state,
)

__all__ = [
    "ErrorMessage",
    "ErrorResponse",
    "FieldError",
    "Health",
    "Integer",
    "InvalidInput",
    "JsonlSink",
    "MemorySink",
    "ModelCard",
    "Number",
    "PredictionRecord",
    "PredictionSink",
    "Predictor",
    "Readiness",
    "ReasonCode",
    "Served",
    "ServiceSettings",
    "ServiceSpec",
    "ServiceState",
    "SinkWriter",
    "api_key_guard",
    "card_from_record",
    "create_app",
    "current_predictor",
    "current_service",
    "not_boolean",
    "ops_router",
    "predict_router",
    "reason_codes",
    "record_predictions",
    "request_config",
    "resource",
    "run",
    "run_blocking",
    "serve_app",
    "served_predictor",
    "service_settings",
    "service_state",
    "settings_from",
    "spec_of",
]
