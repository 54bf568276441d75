"""The routers every service is made of: the ops routes and the predict routes.

A project adds its own routers beside them (``ServiceSpec.routers``); they use the same
dependencies (:mod:`tenfold.serving.state`) and :func:`~tenfold.serving.run_blocking`.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint annotations at
# runtime, and the request models of the predict routes are local to the factory.

from collections.abc import Callable, Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, create_model

from tenfold.serving.body import json_body, parse_body, require_json
from tenfold.serving.concurrency import InlineWhenFast
from tenfold.serving.schemas import ErrorMessage, Health, ModelCard, Readiness
from tenfold.serving.state import (
    Predictor,
    ServiceState,
    current_predictor,
    current_service,
    record_predictions,
    served_predictor,
    service_state,
)

NOT_READY: dict[int | str, dict[str, Any]] = {503: {"model": ErrorMessage}}
# what a predict route's thread hands back: the items, the results, the response body
Scored = tuple[list[Any], list[Any], bytes]


def ops_router(*, guard: Sequence[DependsParam] = (), router: APIRouter | None = None) -> APIRouter:
    """``/health`` (the process answers), ``/ready`` (a model is loaded), ``/metrics``
    (Prometheus, text) and ``/v1/model`` (the loaded model's card; behind ``guard``).

    Added to ``router`` when given (``create_app`` passes the app's own, so the routes
    are listed in ``app.routes``), else to a new router."""
    router = router if router is not None else APIRouter()

    @router.get("/health", tags=["ops"], summary="Liveness: the process answers")
    async def health() -> Health:
        return Health()

    @router.get(
        "/ready",
        tags=["ops"],
        summary="Readiness: a model is loaded",
        responses={503: {"model": Readiness, "description": "model not loaded yet"}},
    )
    async def ready(state: Annotated[ServiceState, Depends(current_service)]) -> Response:
        loaded = state.predictor
        if loaded is None:
            return JSONResponse(Readiness(status="loading").model_dump(), status_code=503)
        body = Readiness(status="ready", model=loaded.card.name, version=loaded.card.version)
        return JSONResponse(body.model_dump())

    @router.get(
        "/metrics",
        tags=["ops"],
        summary="Prometheus metrics (text exposition format)",
        response_class=Response,
        responses={
            200: {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            }
        },
    )
    async def prometheus(state: Annotated[ServiceState, Depends(current_service)]) -> Response:
        return Response(generate_latest(state.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @router.get(
        "/v1/model",
        response_model=ModelCard,
        tags=["model"],
        dependencies=list(guard),
        summary="The loaded model: version, run, metrics, input schema",
        responses=NOT_READY,
    )
    async def model_card(predictor: Annotated[Any, Depends(current_predictor)]) -> Any:
        return predictor.card

    return router


def predict_router(
    request_model: type[BaseModel],
    response_model: type[BaseModel],
    *,
    max_batch: int,
    single: bool = True,
    batch: bool = True,
    guard: Sequence[DependsParam] = (),
    router: APIRouter | None = None,
    inline_below_seconds: float = 0.0,
) -> APIRouter:
    """``POST /v1/predict`` (one item) and ``POST /v1/predict/batch`` (1..max_batch),
    added to ``router`` when given, else to a new router.

    ``inline_below_seconds``: one-item predictions whose recent duration is under it run
    on the loop (:class:`~tenfold.serving.concurrency.InlineWhenFast`); batches, whose
    duration grows with their size, always run on the threads.

    The whole of a prediction runs on the prediction threads: the body is parsed and
    validated there (pydantic's own JSON parser, one pass), scored, and the response
    serialised by the response model (as FastAPI would, without validating it twice).
    The event loop only moves bytes, so ``/health`` answers while a slow batch is
    scored, and a request costs the loop a few microseconds however large the model.
    """
    router = router if router is not None else APIRouter()
    dependencies = list(guard)
    batch_request = create_model(
        f"{request_model.__name__}Batch",
        __config__=ConfigDict(extra="forbid"),
        items=(list[request_model], Field(min_length=1, max_length=max_batch)),  # type: ignore[valid-type]
    )
    batch_response = create_model(
        f"{response_model.__name__}Batch",
        predictions=(list[response_model], ...),  # type: ignore[valid-type]
        model_version=(str | None, None),
    )
    one_in: TypeAdapter[Any] = TypeAdapter(request_model)
    many_in: TypeAdapter[Any] = TypeAdapter(batch_request)
    one_out: TypeAdapter[Any] = TypeAdapter(response_model)
    many_out: TypeAdapter[Any] = TypeAdapter(batch_response)

    def score_one(predictor: Predictor, body: bytes) -> Scored:
        item = parse_body(one_in, body)
        result = one_out.validate_python(predictor.predict([item])[0])
        return [item], [result], one_out.dump_json(result, by_alias=True)

    def score_many(predictor: Predictor, body: bytes) -> Scored:
        items = parse_body(many_in, body).items
        results = predictor.predict(items)
        out = many_out.validate_python(
            {"predictions": results, "model_version": predictor.card.version}
        )
        return items, results, many_out.dump_json(out, by_alias=True)

    def add(
        path: str,
        score: Callable[[Predictor, bytes], Scored],
        placement: InlineWhenFast,
        **route: Any,
    ) -> None:
        @router.post(
            path, tags=["predict"], dependencies=dependencies, responses=NOT_READY, **route
        )
        async def endpoint(request: Request) -> Response:
            require_json(request)
            predictor = served_predictor(request)
            body = await request.body()  # 413 from the body limit while it is read
            items, results, payload = await placement.run(score, predictor, body)
            state = service_state(request)
            state.metrics.predictions.labels(state.name).inc(len(items))
            record_predictions(
                request, items, results, model=predictor.card, single=score is score_one
            )
            return Response(payload, media_type="application/json")

    if single:
        add(
            "/v1/predict",
            score_one,
            InlineWhenFast(inline_below_seconds),
            response_model=response_model,
            summary="Score one item",
            openapi_extra=json_body(request_model),
            name="predict",
        )
    if batch:
        add(
            "/v1/predict/batch",
            score_many,
            InlineWhenFast(0.0),  # a batch's duration grows with its size
            response_model=batch_response,
            summary=f"Score a batch of 1 to {max_batch} items",
            openapi_extra=json_body(batch_request),
            name="predict_batch",
        )
    return router
