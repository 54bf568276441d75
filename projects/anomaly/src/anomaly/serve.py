"""The anomaly API on the shared serving factory: :data:`SPEC` and ``app = SPEC.app``.

- The model (``load``: the registered detectors, their configuration and thresholds, the
  champion detector) is what the factory serves: ``/ready``, ``/v1/model``, hot reload,
  and ``/v1/predict`` (``/batch``) scoring whole series.
- :data:`router`, the project's own routes: ``POST /v1/series/score`` scores a whole
  series; ``POST /v1/streams/{stream_id}/points`` scores new points of a stream with its
  bounded state; ``DELETE`` ends a stream; ``GET /v1/streams`` tells how many are held.
- The streams live in :class:`AnomalyService`, a lifespan resource (:func:`load_service`)
  handed to the routes by :data:`get_service`. A stream keeps the model it started with
  (a hot reload serves new streams with the new model; the answer names the version).

Every route's CPU work runs on the service's prediction threads (``run_blocking``).
"""

# No `from __future__ import annotations`: FastAPI reads the annotations at runtime.

import contextlib
import json
import logging
import threading
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, HTTPException, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, Discriminator, Field, Tag, model_validator

from anomaly.config import COMBINED, CONSENSUS, PROJECT_DIR, AnomalyConfig
from anomaly.streaming import PointScore, StreamScorer, StreamStore
from anomaly.train import MIN_PROBATION, AnomalyModel
from tenfold.errors import DataError
from tenfold.serving import (
    Integer,
    ModelCard,
    Number,
    ServiceSettings,
    ServiceSpec,
    card_from_record,
    current_predictor,
    request_config,
    resource,
    run_blocking,
)

log = logging.getLogger("anomaly.serve")

DEFAULT_URI = "models:/anomaly@champion"
MIN_SERIES_POINTS = 20
MAX_SERIES_ROWS = 50_000
MAX_POINTS_PER_REQUEST = 1_000
STREAM_ID = r"^[A-Za-z0-9._-]{1,64}$"
# the name of the streams' store among the service's lifespan resources
SERVICE = "streams"

# a reading beyond this is refused: the rolling statistics square deviations, and the
# squares of larger numbers overflow float64
MAX_ABS_VALUE = 1e15
Reading = Annotated[Number, Field(ge=-MAX_ABS_VALUE, le=MAX_ABS_VALUE)]
Point = Annotated[list[Reading], Field(min_length=1, description="one number per variable")]
# what a request's values are once validated
Values = list[float] | list[list[float]]

VALUES_HELP = "one number per point (one sensor), or one list of numbers per point (several)"


def _shape(value: Any) -> str:
    """Which of the two shapes ``values`` has (its errors then name that shape only)."""
    return (
        "points" if isinstance(value, list) and value and isinstance(value[0], list) else "readings"
    )


# points, oldest first, one reading each or one list of readings each (the same length)
SeriesLength = Field(min_length=MIN_SERIES_POINTS, max_length=MAX_SERIES_ROWS)
SeriesValues = Annotated[
    Annotated[Annotated[list[Reading], SeriesLength], Tag("readings")]
    | Annotated[Annotated[list[Point], SeriesLength], Tag("points")],
    Discriminator(_shape),
    Field(description=VALUES_HELP),
]
StreamLength = Field(min_length=1, max_length=MAX_POINTS_PER_REQUEST)
StreamValues = Annotated[
    Annotated[Annotated[list[Reading], StreamLength], Tag("readings")]
    | Annotated[Annotated[list[Point], StreamLength], Tag("points")],
    Discriminator(_shape),
    Field(description=VALUES_HELP),
]
# a sensor at 10 with one reading at 25
EXAMPLE_SERIES: dict[str, Any] = {"values": [10, 11, 9, 10] * 30 + [25]}


def _rows(values: Values) -> np.ndarray:
    array = np.asarray(values, dtype=float)
    return array.reshape(-1, 1) if array.ndim == 1 else array


def _check_values(values: Values) -> None:
    if values and isinstance(values[0], list):
        widths = {len(row) for row in values if isinstance(row, list)}
        if len(widths) != 1 or 0 in widths:
            raise ValueError("every point needs the same number of variables (at least one)")
    if not np.isfinite(_rows(values)).all():
        raise ValueError("values must be finite numbers")


class SeriesRequest(BaseModel):
    """A whole series to score: one value per point, or one list of values per point
    (several sensors)."""

    model_config = request_config(
        EXAMPLE_SERIES,
        description="A series, oldest point first: one number per point, or one list of "
        "numbers per point (several sensors; every point the same length).",
    )

    values: SeriesValues
    probation: Integer | None = Field(
        default=None,
        ge=MIN_PROBATION,
        description="rows learnt before scoring, below the number of points (default: "
        f"NAB's 15 %, at least {MIN_PROBATION})",
    )

    @model_validator(mode="after")
    def consistent(self) -> "SeriesRequest":
        _check_values(self.values)
        if self.probation is not None and self.probation >= len(self.values):
            raise ValueError(
                f"probation ({self.probation}) must be below the {len(self.values)} points"
            )
        return self


class SeriesScores(BaseModel):
    n_rows: int
    probation: int
    champion: str
    thresholds: dict[str, float]
    scores: dict[str, list[float]] = Field(description="per detector, one score per point")
    flags: dict[str, list[bool]]
    families_flagged: list[int] = Field(description="families (of 3) flagging each point")
    anomalies: list[int] = Field(description="points the champion flags")
    model_version: str | None = None


class StreamPoints(BaseModel):
    """New points of a stream, oldest first."""

    model_config = request_config({"values": [10.2]})

    values: StreamValues

    @model_validator(mode="after")
    def consistent(self) -> "StreamPoints":
        _check_values(self.values)
        return self


class PointResult(BaseModel):
    index: int = Field(description="position of the point in its stream, from 0")
    learning: bool = Field(description="still in the stream's probationary period")
    scores: dict[str, float]
    flags: dict[str, bool]
    families_flagged: int
    anomaly: bool = Field(description="the champion detector flags the point")


class StreamScores(BaseModel):
    stream_id: str
    rows_seen: int
    points: list[PointResult]
    model_version: str | None = Field(
        default=None, description="the model version this stream has scored with since it began"
    )


class StreamsInfo(BaseModel):
    active: int
    max_streams: int
    ttl_seconds: float
    evicted: int
    probation: int


class AnomalySettings(ServiceSettings):
    """Environment values of the anomaly service (``TENFOLD_MAX_STREAMS`` etc.)."""

    max_streams: int = Field(default=AnomalyConfig().max_streams, ge=1)
    stream_ttl_seconds: float = Field(default=AnomalyConfig().stream_ttl_seconds, gt=0)
    stream_probation: int = Field(default=AnomalyConfig().stream_probation, ge=10)


# --------------------------------------------------------------------------- the model


@dataclass
class Stream:
    """One stream: its scorer, and the model (champion detector, version) it began with."""

    scorer: StreamScorer
    champion: str
    model_version: str | None
    last_used: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class AnomalyPredictor:
    """The served model: scores whole series, and starts streams."""

    def __init__(self, model: AnomalyModel, card: ModelCard) -> None:
        self.model = model
        self.card = card

    def predict(self, items: Sequence[SeriesRequest]) -> list[SeriesScores]:
        """What the factory's ``/v1/predict`` routes call: each item is a series."""
        return [self.score_series(item) for item in items]

    def score_series(self, request: SeriesRequest) -> SeriesScores:
        values = _rows(request.values)
        model = self.model
        probation = model.probation(len(values)) if request.probation is None else request.probation
        detections = model.score_series(values, probation)
        thresholds = {n: float((model.thresholds or {}).get(n, np.inf)) for n in detections}
        frame = model.flags_frame(np.arange(len(values)), values, probation)
        flags = {n: frame[f"{n}_flag"].astype(bool).tolist() for n in detections}
        champion = model.champion if model.champion in detections else CONSENSUS
        return SeriesScores(
            n_rows=len(values),
            probation=probation,
            champion=champion,
            thresholds=thresholds,
            scores={n: np.round(d.score, 6).tolist() for n, d in detections.items()},
            flags=flags,
            families_flagged=frame["families_flagged"].astype(int).tolist(),
            anomalies=[int(i) for i in np.flatnonzero(flags.get(champion, []))],
            model_version=self.card.version,
        )

    def new_stream(self, n_variables: int, probation: int) -> Stream:
        model = self.model
        scorer = StreamScorer(
            model.detectors,
            model.config,
            dict(model.thresholds or {}),
            probation=probation,
            n_variables=n_variables,
            seed=model.seed,
        )
        return Stream(scorer, model.champion, self.card.version)


# --------------------------------------------------------------------------- the streams


class AnomalyService:
    """The streams of a running service (bounded: LRU and idle expiry)."""

    def __init__(self, settings: AnomalySettings) -> None:
        self.settings = settings
        self.store: StreamStore[Stream] = StreamStore(
            max_streams=settings.max_streams, ttl_seconds=settings.stream_ttl_seconds
        )

    def score_points(
        self, predictor: AnomalyPredictor, stream_id: str, request: StreamPoints
    ) -> StreamScores:
        values = _rows(request.values)
        stream = self.store.get(
            stream_id,
            lambda: predictor.new_stream(values.shape[1], self.settings.stream_probation),
        )
        with stream.lock:
            points = [stream.scorer.update(row) for row in values]
            seen = stream.scorer.seen
        return StreamScores(
            stream_id=stream_id,
            rows_seen=seen,
            points=[_point(p, stream.champion) for p in points],
            model_version=stream.model_version,
        )

    def info(self) -> StreamsInfo:
        store = self.store
        return StreamsInfo(
            active=len(store),
            max_streams=store.max_streams,
            ttl_seconds=store.ttl_seconds,
            evicted=store.evicted,
            probation=self.settings.stream_probation,
        )


def _point(point: PointScore, champion: str) -> PointResult:
    return PointResult(
        index=point.index,
        learning=point.learning,
        scores={k: round(v, 6) for k, v in point.scores.items()},
        flags=point.flags,
        families_flagged=point.families_flagged,
        anomaly=point.flags.get(champion, False),
    )


@contextlib.asynccontextmanager
async def load_service(settings: AnomalySettings) -> AsyncIterator[AnomalyService]:
    """The lifespan resource: an empty stream store, forgotten at shutdown."""
    service = AnomalyService(settings)
    try:
        yield service
    finally:
        service.store.clear()


# --------------------------------------------------------------------------- router

# the dependency handing a route the service's streams
get_service = resource(SERVICE)
Service = Annotated[AnomalyService, get_service]
Model = Annotated[AnomalyPredictor, Depends(current_predictor)]
StreamId = Annotated[
    str,
    PathParam(pattern=STREAM_ID, description="1-64 letters, digits, '.', '_' or '-'"),
]

router = APIRouter(prefix="/v1", tags=["anomaly"])


@router.post(
    "/series/score",
    response_model=SeriesScores,
    summary="Score a whole series (each detector, causally; flags at the model's thresholds)",
)
async def score_series(body: SeriesRequest, model: Model) -> SeriesScores:
    return await run_blocking(model.score_series, body)


@router.post(
    "/streams/{stream_id}/points",
    response_model=StreamScores,
    summary="Score new points of a stream (state kept per stream, bounded)",
)
async def stream_points(
    stream_id: StreamId, body: StreamPoints, model: Model, service: Service
) -> StreamScores:
    return await run_blocking(service.score_points, model, stream_id, body)


@router.delete(
    "/streams/{stream_id}",
    status_code=204,
    summary="Forget a stream",
    responses={404: {"description": "no such stream"}},
)
async def drop_stream(stream_id: StreamId, service: Service) -> Response:
    if not service.store.drop(stream_id):
        raise HTTPException(404, detail=f"no stream {stream_id!r} (never seen, or evicted)")
    return Response(status_code=204)


@router.get("/streams", response_model=StreamsInfo, summary="How many streams are held")
async def streams(service: Service) -> StreamsInfo:
    return service.info()


# --------------------------------------------------------------------------- loading


def published_model(reports: Path | None = None) -> AnomalyModel:
    """The model of the published run (``reports/metrics.json``; the folder from
    ``TENFOLD_ANOMALY_REPORTS`` in an image), for a machine without the MLflow store: the
    same detectors, configuration and thresholds."""
    import os

    folder = reports or Path(os.environ.get("TENFOLD_ANOMALY_REPORTS", PROJECT_DIR / "reports"))
    path = folder / "metrics.json"
    if not path.is_file():
        raise DataError(f"no registered model and no {path}: run `make anomaly` first")
    metrics = json.loads(path.read_text(encoding="utf-8"))
    names = tuple(n for n in metrics["models"] if n not in COMBINED)
    thresholds = {n: float(m["nab"]["threshold"]) for n, m in metrics["models"].items()}
    from anomaly.detectors import detector_classes

    names = tuple(n for n in names if n in detector_classes())
    return AnomalyModel(
        detectors=names,
        detector_config=metrics["protocol"]["detector"],
        thresholds=thresholds,
        champion=metrics["champion"] if metrics["champion"] in (*names, *COMBINED) else CONSENSUS,
        probation_fraction=metrics["protocol"]["probation_fraction"],
        seed=metrics["protocol"]["seed"],
    ).fit()


def load_model(uri: str | None = None) -> AnomalyModel:
    """The registered model (``models:/anomaly@champion`` by default); without a store,
    the published run's thresholds (announced in one line). For the CLI and the app."""
    from tenfold import tracking
    from tenfold.cli import console

    target = uri or DEFAULT_URI
    try:
        model: AnomalyModel = tracking.load_sklearn_model(target).model
        return model
    except Exception as exc:  # any registry failure means the same: no such model here
        if uri is not None:
            raise DataError(f"cannot load {uri}: {type(exc).__name__}: {exc}") from None
    console().print(
        f"[yellow]no model at {target}[/]: using the published thresholds of reports/metrics.json"
    )
    return published_model()


def _details(model: AnomalyModel) -> dict[str, Any]:
    return {"champion": model.champion, "thresholds": model.thresholds}


def load_predictor(settings: AnomalySettings) -> AnomalyPredictor:
    """What the factory serves: the model at ``settings.model_uri``. The default URI
    without a registry (a machine or an image without the MLflow store) serves the
    published run's detectors and thresholds, in one warning line; any other URI that
    cannot be loaded is an error."""
    from tenfold import tracking

    uri = SPEC.model_uri(settings)
    try:
        record = tracking.load_sklearn_model(uri)
    except tracking.ModelLoadError:
        if uri != DEFAULT_URI:
            raise
        log.warning("no model at %s: serving the published thresholds (reports/metrics.json)", uri)
        model = published_model()
        card = ModelCard(name="anomaly (published thresholds)", details=_details(model))
        return AnomalyPredictor(model, card)
    loaded = record.model
    if not isinstance(loaded, AnomalyModel):
        raise tracking.IncompatibleModel(uri, f"a {type(loaded).__name__}, not an anomaly model")
    # the candidate's scores (``normalised.*``: models registered before the gate)
    prefixes = ("cv_", "nab_", "loso_", "normalised")
    card = card_from_record(record, details=_details(loaded), metric_prefixes=prefixes)
    return AnomalyPredictor(loaded, card)


SPEC = ServiceSpec(
    name="anomaly",
    title="tenfold anomaly API",
    description="Causal anomaly scores of a series or of streams, NAB-calibrated thresholds.",
    settings=AnomalySettings,
    request=SeriesRequest,
    response=SeriesScores,
    load=load_predictor,
    default_model_uri=DEFAULT_URI,
    routers=(router,),
    resources={SERVICE: load_service},
)

# the ASGI app factory: ``uvicorn --factory anomaly.serve:app``
app = SPEC.app


# --------------------------------------------------------------------------- README


def benchmark_table(results: Mapping[str, Any]) -> str:
    """The README's streaming benchmark (``reports/streaming.json``)."""
    from tenfold.reports import markdown_table

    rows = results["runs"]
    table = markdown_table(
        rows,
        [
            ("streams", lambda r: str(r["streams"])),
            ("points per request", lambda r: str(r["points_per_request"])),
            ("clients", lambda r: str(r["concurrency"])),
            ("points/s", lambda r: f"{r['points_per_s']:.0f}"),
            ("p50 per request (ms)", lambda r: f"{r['p50_ms']:.2f}"),
            ("p99 per request (ms)", lambda r: f"{r['p99_ms']:.2f}"),
            ("p99 per point (ms)", lambda r: f"{r['p99_per_point_ms']:.2f}"),
        ],
    )
    return f"{table}\n\n{results['note']}"
