"""The user-facing errors of the library, in a module that imports nothing heavy.

A CLI catches these to print one clear line instead of a traceback (and the API turns
:class:`InvalidInput` into a 422), so ``--help`` and error handling never need pandas,
scikit-learn or FastAPI to be imported.
"""

from __future__ import annotations


class DataError(Exception):
    """A dataset problem a user can act on; the message names file, column and row."""


class SchemaError(ValueError):
    """The data does not fit what the pipeline expects (a user-facing message)."""


class RegistryError(Exception):
    """A model-registry request that cannot be carried out (no such model or version,
    nothing to roll back to); the message says what to do."""


class InvalidInput(ValueError):
    """A request that passed type validation but cannot be scored (answered with 422)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name
        self.message = message


# Errors whose message is the whole story for a user: no traceback.
USER_ERRORS: tuple[type[Exception], ...] = (DataError, SchemaError, InvalidInput, RegistryError)
