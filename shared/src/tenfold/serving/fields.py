"""Field types for request models with JSON's own meaning of a number.

Pydantic's default (lax) mode takes ``true`` as 1 and ``"3"`` as 3, so a house of
``GrLivArea: true`` was priced as 1 sq ft. These types take a JSON number and nothing
else, as the JSON schema they publish says: never a boolean or a string; an integer
field takes any integral number (``3`` or ``3.0``), a number field any finite number.
Bounds go on the field as usual (``Field(ge=0, le=240)``) and appear in the schema.

:func:`standard_bounds` mends the schemas pydantic writes for them: an optional field
whose type carries a validator gets its bounds as ``ge``/``le`` keys, which no JSON
Schema reader knows (so the schema would allow what the server refuses);
``create_app`` applies it to everything it publishes.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BeforeValidator, ConfigDict, Field, Strict
from pydantic_core import PydanticCustomError


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool | str | bytes):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    return value


Integer = Annotated[int, BeforeValidator(_json_integer)]
"""An integer (``3`` or ``3.0``); ``true``, ``"3"`` and ``3.5`` are refused."""

Number = Annotated[float, Strict(), Field(allow_inf_nan=False)]
"""A finite number (an integer is fine); ``true``, ``"3.5"``, Infinity and NaN are refused."""


def not_boolean(value: Any) -> Any:
    """For ``Literal[0, 1]`` fields (``BeforeValidator(not_boolean)``): pydantic takes
    ``True`` as 1, JSON Schema does not."""
    if isinstance(value, bool | str | bytes):
        kind = "a boolean" if isinstance(value, bool) else "a string"
        raise PydanticCustomError(
            "literal_error", "Input should be 0 or 1, not {kind}", {"kind": kind}
        )
    return value


_BOUNDS = {
    "ge": "minimum",
    "gt": "exclusiveMinimum",
    "le": "maximum",
    "lt": "exclusiveMaximum",
    "multiple_of": "multipleOf",
}


def standard_bounds(schema: Any) -> Any:
    """Rename pydantic's raw bound keys (``ge``, ``le``...) to JSON Schema's
    (``minimum``, ``maximum``...) in every numeric schema below ``schema``, in place."""
    if isinstance(schema, dict):
        if schema.get("type") in ("integer", "number"):
            for raw, standard in _BOUNDS.items():
                if raw in schema and not isinstance(schema[raw], dict | list):
                    schema.setdefault(standard, schema.pop(raw))
        for value in schema.values():
            standard_bounds(value)
    elif isinstance(schema, list):
        for value in schema:
            standard_bounds(value)
    return schema


def request_config(
    example: Mapping[str, Any],
    *,
    description: str | None = None,
    rules: Mapping[str, Any] | None = None,
    **config: Any,
) -> ConfigDict:
    """The config of a request model: unknown fields refused (a typo is a 422, not
    ignored), an example for ``/docs``, and what the schema says beyond the fields: a
    ``description`` (rules JSON Schema cannot state) and ``rules`` (those it can, e.g.
    ``allOf`` of ``if``/``then``), so that the schema allows what the server accepts."""
    extra: dict[str, Any] = {"examples": [dict(example)], **(rules or {})}
    if description is not None:
        extra["description"] = description
    settings = ConfigDict(extra="forbid", json_schema_extra=extra)
    settings.update(config)  # type: ignore[typeddict-item]
    return settings
