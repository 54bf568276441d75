"""Every error a service answers, in the documented shapes, and the OpenAPI contract
that documents them.

Client mistakes are never a 500: 422 with one :class:`~tenfold.serving.ErrorResponse`
entry per bad field (invalid JSON included: field ``body``, the position in the
message), 415 for a body that is not JSON, 413 for one above the limit, 401 for a
missing or wrong key; every body carries the request id.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from tenfold.errors import InvalidInput
from tenfold.serving.body import COMPONENTS_KEY, is_json
from tenfold.serving.fields import standard_bounds
from tenfold.serving.middleware import request_id_of
from tenfold.serving.schemas import ErrorMessage, ErrorResponse

log = logging.getLogger("tenfold.serving")

# where a FastAPI error's location starts (dropped from the field name)
_SOURCES = frozenset({"body", "query", "path", "header", "cookie"})


class Unauthorized(Exception):
    pass


class NotReady(Exception):
    pass


def field_errors(errors: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """FastAPI's validation errors as ``{field, message, type}`` entries."""
    out = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ())]
        if loc and loc[0] in _SOURCES:
            loc = loc[1:]
        kind = str(err.get("type", "value_error"))
        message = str(err.get("msg", "invalid")).removeprefix("Value error, ")
        if kind == "json_invalid" and loc:
            # FastAPI's own body parser puts the character offset where a field belongs
            ctx = err.get("ctx") or {}
            message = f"Invalid JSON at character {loc[0]}: {ctx.get('error', 'cannot decode')}"
            loc = []
        out.append({"field": ".".join(loc) or "body", "message": message, "type": kind})
    return out


def _message(request: Request, status: int, detail: str, **kw: Any) -> JSONResponse:
    body = {"detail": detail, "request_id": request_id_of(request.scope)}
    return JSONResponse(body, status_code=status, **kw)


def _unprocessable(request: Request, errors: list[dict[str, Any]]) -> JSONResponse:
    return JSONResponse(
        {"detail": errors, "request_id": request_id_of(request.scope)}, status_code=422
    )


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def on_validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        content_type = request.headers.get("content-type")
        if request.method in ("POST", "PUT", "PATCH") and not is_json(content_type):
            wanted = f"got {content_type!r}" if content_type else "none given"
            return _message(request, 415, f"Content-Type must be application/json ({wanted})")
        return _unprocessable(request, field_errors(exc.errors()))

    @app.exception_handler(InvalidInput)
    async def on_invalid_input(request: Request, exc: InvalidInput) -> JSONResponse:
        return _unprocessable(
            request, [{"field": exc.field, "message": exc.message, "type": "value_error"}]
        )

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "error parsing the body": bytes that are not UTF-8 JSON, or
            # nested deeper than the parser goes
            cause = exc.__cause__
            why = (
                "nested too deeply"
                if isinstance(cause, RecursionError)
                else f"cannot be decoded ({type(cause).__name__})"
            )
            return _unprocessable(
                request,
                [{"field": "body", "message": f"invalid JSON: {why}", "type": "json_invalid"}],
            )
        return _message(request, exc.status_code, str(exc.detail), headers=exc.headers)

    @app.exception_handler(Unauthorized)
    async def on_unauthorized(request: Request, exc: Unauthorized) -> JSONResponse:
        return _message(request, 401, "missing or wrong X-API-Key")

    @app.exception_handler(NotReady)
    async def on_not_ready(request: Request, exc: NotReady) -> JSONResponse:
        return _message(request, 503, "model not loaded yet")


# --------------------------------------------------------------------------- OpenAPI

_REQUEST_ID_HEADER = {
    "X-Request-ID": {
        "description": "the request's id (the client's own when it sent a valid one)",
        "schema": {"type": "string"},
    }
}
_DESCRIPTIONS = {
    "401": "missing or wrong X-API-Key",
    "413": "request body above the service's max_body_bytes (refused before parsing)",
    "415": "the body is not application/json",
    "422": "invalid request: one entry per bad field (invalid JSON: field `body`)",
    "500": "a server error (with the request id to report)",
    "503": "model not loaded yet",
}


def install_contract(app: FastAPI, *, max_body_bytes: int) -> None:
    """Document every error a route can answer, in the shapes the handlers send:
    422 → ErrorResponse wherever a route takes parameters or a body; 413 and 415
    where it takes a body; 401 where the key is required (only when one is set);
    500 everywhere; X-Request-ID on every response."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        schema = get_openapi(
            title=app.title,
            version=app.version,
            description=app.description,
            routes=app.routes,
        )
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for model in (ErrorResponse, ErrorMessage):
            found = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components.update(found.pop("$defs", {}))
            components[model.__name__] = found

        def error(status: str, model: type[Any]) -> dict[str, Any]:
            description = _DESCRIPTIONS[status]
            if status == "413":
                description = f"request body above {max_body_bytes} bytes (refused before parsing)"
            ref = {"$ref": f"#/components/schemas/{model.__name__}"}
            return {"description": description, "content": {"application/json": {"schema": ref}}}

        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                components.update(operation.pop(COMPONENTS_KEY, {}))
                responses = operation.setdefault("responses", {})
                has_body = "requestBody" in operation
                if has_body or operation.get("parameters"):
                    responses["422"] = error("422", ErrorResponse)
                if has_body:
                    responses["413"] = error("413", ErrorMessage)
                    responses["415"] = error("415", ErrorMessage)
                if operation.get("security"):
                    responses["401"] = error("401", ErrorMessage)
                for status, response in list(responses.items()):
                    if status in _DESCRIPTIONS and "content" not in response:
                        responses[status] = error(status, ErrorMessage)
                responses.setdefault("500", error("500", ErrorMessage))
                for response in responses.values():
                    response.setdefault("headers", {}).update(_REQUEST_ID_HEADER)
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = standard_bounds(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
