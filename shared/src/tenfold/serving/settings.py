"""The environment of a running service: one pydantic-settings class per service,
extending :class:`ServiceSettings` (``TENFOLD_*`` variables)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger("tenfold.serving")


class ServiceSettings(BaseSettings):
    """What every service reads from its environment (``TENFOLD_MODEL_URI`` etc.).

    A project subclasses it for its own fields and defaults (nlp's model choice, a
    larger body limit); ``tenfold.cli`` builds it from the environment and the ``serve``
    command's options.
    """

    model_config = SettingsConfigDict(
        env_prefix="TENFOLD_", extra="ignore", protected_namespaces=()
    )

    model_uri: str | None = Field(
        default=None,
        description="models:/<name>@champion, models:/<name>/<version> or an exported folder",
    )
    api_key: SecretStr | None = Field(
        default=None, description="required X-API-Key on the /v1 routes if set (empty = unset)"
    )
    max_batch: int = Field(default=1000, ge=1, description="largest accepted batch")
    max_body_bytes: int = Field(
        default=1 << 20,
        ge=1024,
        description="request bodies above this are refused (413) before they are parsed",
    )
    prediction_threads: int = Field(
        default=4,
        ge=1,
        le=256,
        description="threads that run predictions (CPU work never runs on the event loop)",
    )
    inline_below_ms: float = Field(
        default=1.0,
        ge=0.0,
        le=50.0,
        description=(
            "one-item predictions measured faster than this run on the event loop, "
            "where the hand-over to a thread would cost more (0 = always on the threads)"
        ),
    )
    reload_seconds: float = Field(
        default=0.0,
        ge=0.0,
        description="poll the registry alias this often and swap in a new version (0 = off)",
    )
    prediction_log: Path | None = Field(
        default=None, description="append every prediction to this JSONL file (off if unset)"
    )
    prediction_log_queue: int = Field(
        default=10_000, ge=1, description="records buffered for the prediction sink; more drop"
    )
    prediction_log_linger_ms: float = Field(
        default=50.0,
        ge=0.0,
        le=5_000.0,
        description=(
            "how long the prediction log waits after a record for more to write with it "
            "(one transaction per batch instead of per few records)"
        ),
    )

    @field_validator("api_key", mode="before")
    @classmethod
    def empty_key_is_unset(cls, value: Any) -> Any:
        """``TENFOLD_API_KEY=`` (an empty value) leaves the API open, as if unset: an
        empty key would otherwise lock every route."""
        raw = value.get_secret_value() if isinstance(value, SecretStr) else value
        if isinstance(raw, str) and not raw.strip():
            log.warning("TENFOLD_API_KEY is empty: the API is open (unset it or give a key)")
            return None
        return value

    @field_validator("model_uri", mode="before")
    @classmethod
    def empty_uri_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value
