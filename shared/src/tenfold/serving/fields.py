"""Field types for request models with JSON's own meaning of a number.

Pydantic's default (lax) mode takes ``true`` as 1 and ``"3"`` as 3, so a house of
``GrLivArea: true`` was priced as 1 sq ft. These types accept what the JSON schema they
publish says and nothing else: an integer or a number (``1`` is fine for a number, and
``1.0`` for an integer, as in JSON Schema), never a boolean or a string; numbers are
finite. Bounds go on the field as usual (``Field(ge=0, le=240)``) and appear in the
schema the same way.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError


def _json_number(value: Any) -> Any:
    if isinstance(value, bool | str | bytes):
        kind = "a boolean" if isinstance(value, bool) else "a string"
        raise PydanticCustomError(
            "number_type", "Input should be a JSON number, not {kind}", {"kind": kind}
        )
    return value


Integer = Annotated[int, BeforeValidator(_json_number)]
"""An integer; ``true`` and ``"3"`` are refused."""

Number = Annotated[float, BeforeValidator(_json_number), Field(allow_inf_nan=False)]
"""A finite number (an integer is fine); ``true``, ``"3.5"``, Infinity and NaN are refused."""


def not_boolean(value: Any) -> Any:
    """For ``Literal[0, 1]`` fields: pydantic takes ``True`` as 1, JSON Schema does not."""
    return _json_number(value)
