"""The response models every service shares: the model card, reason codes, the
documented error bodies and the ops answers."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, Field

from tenfold.explain import Scores, plain, top_factors, value_at

if TYPE_CHECKING:
    from tenfold.tracking import ModelRecord


class ModelCard(BaseModel):
    """What ``/v1/model`` reports."""

    name: str
    version: str | None = None
    run_id: str | None = None
    trained_at: str | None = None
    uri: str | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    details: dict[str, Any] = Field(default_factory=dict)
    input_schema: dict[str, Any] = Field(default_factory=dict)


def card_from_record(
    record: ModelRecord,
    *,
    details: Mapping[str, Any] | None = None,
    metric_prefixes: tuple[str, ...] = ("cv_", "test_"),
) -> ModelCard:
    """The card of a model loaded with :func:`tenfold.tracking.load_sklearn_model`: its
    registry identity and the run's headline metrics (per-fold steps left out)."""
    return ModelCard(
        name=record.name,
        version=record.version,
        run_id=record.run_id,
        trained_at=record.trained_at,
        uri=record.uri,
        metrics={
            k: v
            for k, v in record.metrics.items()
            if k.startswith(metric_prefixes) and not k.endswith("_fold")
        },
        details=dict(details or {}),
    )


class ReasonCode(BaseModel):
    """One driver of a prediction, in words and numbers (a field of a response)."""

    feature: str
    value: str | float | int | None
    direction: Literal["increases", "decreases"]
    contribution: float = Field(description="contribution to the margin (log-odds of a classifier)")
    readable: str


def reason_codes(
    scores: Scores,
    i: int,
    sources: Sequence[str],
    *,
    outcome: str,
    label: Callable[[str], str] = str,
    k: int = 3,
) -> list[ReasonCode]:
    """Row ``i``'s ``k`` largest contributions (from :class:`tenfold.explain.FastScorer`)
    as reason codes that read "<label> = <value> increases <outcome>"."""
    values = {name: plain(value_at(v, i)) for name, v in scores.inputs.items()}
    return [
        ReasonCode(
            feature=f.feature,
            value=f.value,
            direction=f.direction,
            contribution=round(f.contribution, 4),
            readable=f"{label(f.feature)} = {f.value} {f.direction} {outcome}",
        )
        for f in top_factors(scores.contributions[i], sources, values, k=k)
    ]


# --------------------------------------------------------------------------- errors


class FieldError(BaseModel):
    """One bad field of a request."""

    field: str = Field(
        description="where: a field (`tenure`), an item of a batch (`items.1.text`), a "
        "query or path parameter, or `body` for the body as a whole"
    )
    message: str
    type: str = Field(description="a machine-readable kind, e.g. missing, int_type, json_invalid")


class ErrorResponse(BaseModel):
    """A client's mistake in the request (422): one entry per bad field."""

    detail: list[FieldError]
    request_id: str | None = Field(default=None, description="also in the X-Request-ID header")


class ErrorMessage(BaseModel):
    """Any other error (401, 404, 405, 413, 415, 500, 503): what went wrong, in words."""

    detail: str
    request_id: str | None = Field(default=None, description="also in the X-Request-ID header")


# --------------------------------------------------------------------------- ops


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "loading"]
    model: str | None = None
    version: str | None = None
