"""Running a service: what every project's ``serve`` command does."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI
from pydantic import AliasChoices, ValidationError

from tenfold.errors import DataError
from tenfold.serving.app import ServiceSpec, create_app
from tenfold.serving.settings import ServiceSettings


def spec_of(target: Any) -> ServiceSpec[Any] | None:
    """The spec behind ``target``: a :class:`ServiceSpec` or its bound ``app`` method
    (what ``<pkg>.serve:app`` is), else None (a plain ``settings → FastAPI`` factory)."""
    if isinstance(target, ServiceSpec):
        return target
    owner = getattr(target, "__self__", None)
    return owner if isinstance(owner, ServiceSpec) else None


def settings_from(
    settings_class: type[ServiceSettings],
    options: Mapping[str, Any],
    *,
    flags: Mapping[str, str] | None = None,
) -> ServiceSettings:
    """The environment with the command line's options on top (``None`` = not given); a
    bad value is one :class:`DataError` line naming the option or the variable."""
    given = {k: v for k, v in options.items() if v is not None}
    try:
        return settings_class(**given)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "settings"
            where = (flags or {}).get(name) if name in given else None
            problems.append(f"{where or _variable(settings_class, name)}: {err['msg']}")
        raise DataError("; ".join(problems)) from None


def _variable(settings_class: type[ServiceSettings], name: str) -> str:
    """The environment variable behind a settings field (its upper-case alias, else
    the prefixed name)."""
    info = settings_class.model_fields.get(name)
    alias = info.validation_alias if info is not None else None
    choices = alias.choices if isinstance(alias, AliasChoices) else [alias]
    for choice in choices:
        if isinstance(choice, str) and choice.isupper():
            return choice
    prefix = str(settings_class.model_config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def serve_app(
    target: ServiceSpec[Any] | Callable[[Any], FastAPI],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    model_uri: str | None = None,
    options: Mapping[str, Any] | None = None,
    flags: Mapping[str, str] | None = None,
) -> None:
    """Settings from the environment and the command line (``model_uri`` and a project's
    own ``options``, by settings field), the model loaded before the server starts (so
    a missing or refused model is one clear line, not a traceback from uvicorn), then
    uvicorn."""
    spec = spec_of(target)
    settings_class = spec.settings if spec is not None else ServiceSettings
    settings = settings_from(
        settings_class, {**(options or {}), "model_uri": model_uri}, flags=flags
    )
    if spec is None:
        assert callable(target)
        run(target(settings), host=host, port=port)
        return
    resolved = settings.model_copy(update={"model_uri": spec.model_uri(settings)})
    run(create_app(spec, settings, predictor=spec.load(resolved)), host=host, port=port)


def run(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve with uvicorn (uvloop + httptools when installed, as with uvicorn[standard])."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, workers=workers, access_log=False, log_level="info")
