"""The forecasting API: ``GET /v1/forecast?hours=24[&start=…][&series=…]``.

Three parts, served through the shared factory (:data:`SPEC`, ``app = SPEC.app``):

- the response models (:class:`Forecast`, :class:`ForecastPoint`, :class:`Interval`);
- :class:`ForecastService`, the champion loaded from the registry (:func:`load`), which
  does the CPU work and raises :class:`tenfold.errors.InvalidInput` (a 422 naming the
  parameter) for a start outside the data, off the grid, or an unknown series;
- ``router``, the project's own ``APIRouter``: it gets the loaded service from the
  factory's ``current_predictor`` dependency and runs the forecast on the service's
  prediction threads (``run_blocking``), off the event loop.

The factory adds ``/health``, ``/ready``, ``/metrics``, ``/v1/model``, the documented
error bodies, request ids, an optional API key and hot reload of the alias. There is no
``POST /v1/predict``: a forecast is a query over known data, not a scored record.
"""

# No `from __future__ import annotations`: FastAPI reads the endpoint annotations at runtime.

from datetime import datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from tenfold.errors import InvalidInput
from tenfold.serving import (
    ModelCard,
    ServiceSettings,
    ServiceSpec,
    card_from_record,
    current_predictor,
    run_blocking,
)

MAX_HOURS = 168


class Interval(BaseModel):
    level: int = Field(description="nominal coverage in percent")
    lower: float
    upper: float


class ForecastPoint(BaseModel):
    ds: datetime = Field(description="the hour (day) forecast, local wall-clock time, hour ending")
    yhat: float = Field(description="point forecast (MW for PJME)")
    intervals: list[Interval] = Field(description="conformal prediction intervals")
    actual: float | None = Field(default=None, description="the observed value, when known")


class Forecast(BaseModel):
    series: str
    model: str = Field(description="the champion's candidate name (LightGBM, Prophet, …)")
    model_version: str | None = None
    start: datetime = Field(description="the last known instant the forecast starts from")
    hours: int
    in_sample: bool = Field(
        description="true when start is before the end of the data the champion was refit on: "
        "a replay of a past origin, not an out-of-sample forecast (those are in the backtest)"
    )
    points: list[ForecastPoint]


class ForecastService:
    """The champion behind the API (and the app, and ``predict``); ``metadata`` is what
    was saved with it (the backtest's origins, the candidate, …)."""

    def __init__(
        self, champion: Any, card: ModelCard, metadata: dict[str, Any] | None = None
    ) -> None:
        self.champion = champion
        self.card = card
        self.metadata = dict(metadata or {})

    def forecast(
        self, hours: int = 24, start: datetime | None = None, series: str | None = None
    ) -> Forecast:
        champion = self.champion
        step_hours = pd.Timedelta(champion.cadence.step) / pd.Timedelta("1h")
        if hours % step_hours:
            raise InvalidInput(
                "hours", f"a {champion.cadence.name} series needs a multiple of {step_hours:.0f}"
            )
        steps = int(hours // step_hours)
        when = self._start(start)
        uid = series if series is not None else champion.ids[0]
        if uid not in champion.ids:
            raise InvalidInput("series", f"unknown series {uid!r}; known: {champion.ids[:20]}")
        table = champion.forecast(when, steps, uid)
        levels = champion.levels
        points = [
            ForecastPoint(
                ds=row["ds"],
                yhat=round(float(row["yhat"]), 1),
                intervals=[
                    Interval(
                        level=lv,
                        lower=round(float(row[f"lo-{lv}"]), 1),
                        upper=round(float(row[f"hi-{lv}"]), 1),
                    )
                    for lv in levels
                ],
                actual=None if pd.isna(row["actual"]) else float(row["actual"]),
            )
            for row in table.to_dict("records")
        ]
        return Forecast(
            series=uid,
            model=champion.name,
            model_version=self.card.version,
            start=when,
            hours=hours,
            in_sample=bool(when < champion.end),
            points=points,
        )

    def _start(self, start: datetime | None) -> pd.Timestamp:
        champion = self.champion
        if start is None:
            return pd.Timestamp(champion.end)
        if start.tzinfo is not None:
            raise InvalidInput("start", "give a local wall-clock time without a UTC offset")
        when = pd.Timestamp(start)
        if when != when.floor(pd.Timedelta(champion.cadence.step)):
            raise InvalidInput("start", f"must fall on the data's {champion.cadence.step} grid")
        first, last = champion.earliest_start(), champion.end
        if not first <= when <= last:
            raise InvalidInput("start", f"must be within the known data, {first} … {last}")
        return when


def load(uri: str) -> ForecastService:
    """The champion registered at ``uri`` (``models:/forecasting@champion`` or a folder)."""
    from tenfold import tracking

    record = tracking.load_sklearn_model(uri)
    meta = record.metadata
    card = card_from_record(
        record,
        details={
            "candidate": meta.get("candidate"),
            "cadence": meta.get("cadence"),
            "series": meta.get("series"),
            "data_end": meta.get("data_end"),
            "backtest_mape": meta.get("backtest_mape"),
        },
        metric_prefixes=("cv_", "backtest_"),
    )
    return ForecastService(record.model, card, meta)


router = APIRouter(prefix="/v1", tags=["forecast"])


@router.get(
    "/forecast",
    response_model=Forecast,
    summary="Forecast the next hours, from the end of the data or a past start",
    responses={422: {"description": "bad hours, start or series (the field is named)"}},
)
async def get_forecast(
    service: Annotated[ForecastService, Depends(current_predictor)],
    hours: Annotated[
        int, Query(ge=1, le=MAX_HOURS, description="how many hours ahead (1-168)")
    ] = 24,
    start: Annotated[
        datetime | None,
        Query(
            description="replay from this known instant (local time); default: the end of the data"
        ),
    ] = None,
    series: Annotated[
        str | None, Query(max_length=200, description="series id (default: the first)")
    ] = None,
) -> Forecast:
    # CPU-bound (features, trees, intervals): the service's threads, never the event loop
    return await run_blocking(service.forecast, hours, start, series)


def load_service(settings: ServiceSettings) -> ForecastService:
    return load(SPEC.model_uri(settings))


SPEC = ServiceSpec(
    name="forecasting",
    title="tenfold forecasting API",
    description="Hourly load forecasts with 80 % and 95 % conformal intervals (GET /v1/forecast).",
    load=load_service,
    default_model_uri="models:/forecasting@champion",
    routers=(router,),
)

# the ASGI app factory: ``uvicorn --factory forecasting.serve:app``
app = SPEC.app
