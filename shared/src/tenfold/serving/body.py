"""JSON request bodies read by a route itself: parsed and validated wherever the route
runs them (the prediction threads), with the errors and the documentation FastAPI
gives a declared body.

A route that declares ``item: ChurnRequest`` has FastAPI parse and validate the body on
the event loop before the route runs. The predict routes take the raw bytes instead,
and call :func:`parse_body` on their thread; :func:`json_body` documents the body in
OpenAPI as FastAPI would (``create_app`` adds the models to the components).
"""

from __future__ import annotations

import email.message
from typing import Any, TypeVar

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, TypeAdapter, ValidationError
from starlette.exceptions import HTTPException

T = TypeVar("T")

# where json_body leaves the schemas the body refers to, for create_app's OpenAPI
# contract to move into the document's components
COMPONENTS_KEY = "x-tenfold-components"


def is_json(content_type: str | None) -> bool:
    """``application/json`` or ``application/<anything>+json`` (parameters ignored)."""
    if not content_type:
        return False
    if content_type == "application/json" or content_type.startswith("application/json;"):
        return True  # what nearly every client sends, without parsing a MIME header
    parsed = email.message.Message()
    parsed["content-type"] = content_type
    subtype = parsed.get_content_subtype()
    return parsed.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


def require_json(request: Request) -> None:
    """415 unless the request says its body is JSON (as FastAPI's strict default)."""
    content_type = request.headers.get("content-type")
    if not is_json(content_type):
        wanted = f"got {content_type!r}" if content_type else "none given"
        raise HTTPException(415, f"Content-Type must be application/json ({wanted})")


def parse_body(adapter: TypeAdapter[T], body: bytes) -> T:
    """Parse and validate a JSON body in one pass; errors are FastAPI's
    :class:`RequestValidationError` (located under ``body``, answered with a 422)."""
    try:
        return adapter.validate_json(body)
    except ValidationError as exc:
        errors = [
            {"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]}
            for e in exc.errors(include_url=False, include_context=False)
        ]
        raise RequestValidationError(errors) from None


def json_body(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """The ``openapi_extra`` of a route that reads ``model`` from its body itself: the
    body's schema, as FastAPI documents a declared body (the models it refers to go to
    the components)."""
    schema = TypeAdapter(model).json_schema(ref_template="#/components/schemas/{model}")
    components = schema.pop("$defs", {})
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": required, "content": content}, COMPONENTS_KEY: components}
