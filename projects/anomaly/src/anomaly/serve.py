"""The anomaly API: request/response models, the service (model + stream store), the
router, and today's assembly with the shared factory.

- :data:`router` (a FastAPI ``APIRouter``, independent of how the app is built):
  ``POST /v1/series/score`` scores a whole series; ``POST /v1/streams/{stream_id}/points``
  scores new points of a stream with its bounded state; ``DELETE`` ends a stream;
  ``GET /v1/streams`` tells how many are held. Routes get the :class:`AnomalyService`
  from the dependency :func:`get_service` and run the CPU work in the thread pool.
- :func:`app` assembles it *for now* with ``tenfold.serving.create_app`` (ops routes
  ``/health``, ``/ready``, ``/metrics``, ``/v1/model``, request ids, 422s, API key; its
  ``/v1/predict`` scores a series too) and ``include_router``. When the factory takes
  project routers and lifespan resources, this file shrinks to handing it
  :func:`load_service` and :data:`router`.
"""

# No `from __future__ import annotations`: FastAPI reads the annotations at runtime.

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi import Path as PathParam
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from anomaly.config import COMBINED, CONSENSUS, PROJECT_DIR, AnomalyConfig
from anomaly.streaming import PointScore, StreamScorer, StreamStore
from anomaly.train import AnomalyModel
from tenfold.errors import DataError
from tenfold.serving import ModelCard, ServiceSettings, ServiceSpec, create_app

log = logging.getLogger("anomaly.serve")

DEFAULT_URI = "models:/anomaly@champion"
MAX_SERIES_ROWS = 50_000
MAX_POINTS_PER_REQUEST = 1_000
STREAM_ID = r"^[A-Za-z0-9._-]{1,64}$"

Values = list[float] | list[list[float]]
# a sensor at 10 with one reading at 25
EXAMPLE_SERIES: Any = [{"values": [10, 11, 9, 10] * 30 + [25]}]


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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": EXAMPLE_SERIES},
    )

    values: Values = Field(min_length=10, max_length=MAX_SERIES_ROWS)
    probation: int | None = Field(
        default=None, ge=2, description="rows learnt before scoring (default: NAB's 15 %)"
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

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"values": [10.2]}]})

    values: Values = Field(min_length=1, max_length=MAX_POINTS_PER_REQUEST)

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
    model_version: str | None = None


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


class AnomalyService:
    """What the routes need: the model, its card, and the streams' store."""

    def __init__(self, model: AnomalyModel, card: ModelCard, settings: AnomalySettings) -> None:
        self.model = model
        self.card = card
        self.settings = settings
        thresholds = dict(model.thresholds or {})
        self.store = StreamStore(
            lambda n_variables: StreamScorer(
                model.detectors,
                model.config,
                thresholds,
                probation=settings.stream_probation,
                n_variables=n_variables,
                seed=model.seed,
            ),
            max_streams=settings.max_streams,
            ttl_seconds=settings.stream_ttl_seconds,
        )

    # the Predictor protocol of today's factory: /v1/predict scores series
    def predict(self, items: Sequence[SeriesRequest]) -> list[SeriesScores]:
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

    def score_points(self, stream_id: str, request: StreamPoints) -> StreamScores:
        values = _rows(request.values)
        scorer = self.store.get(stream_id, values.shape[1])
        champion = self.model.champion
        with scorer.lock:
            points = [scorer.update(row) for row in values]
            seen = scorer.seen
        return StreamScores(
            stream_id=stream_id,
            rows_seen=seen,
            points=[_point(p, champion) for p in points],
            model_version=self.card.version,
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


# --------------------------------------------------------------------------- router


def get_service(request: Request) -> AnomalyService:
    """The service of the running app (the factory's lifespan put it there). The new
    serving factory can hand it by dependency override instead."""
    service: AnomalyService | None = getattr(request.app.state, "predictor", None)
    if service is None:
        from fastapi import HTTPException

        raise HTTPException(status_code=503, detail="model not loaded yet")
    return service


Service = Annotated[AnomalyService, Depends(get_service)]
StreamId = Annotated[
    str,
    PathParam(pattern=STREAM_ID, description="1-64 letters, digits, '.', '_' or '-'"),
]

router = APIRouter(prefix="/v1", tags=["anomaly"])


@router.post(
    "/series/score",
    response_model=SeriesScores,
    summary="Score a whole series (each detector, causally; flags at the model's thresholds)",
    responses={422: {"description": "invalid input, one entry per bad field"}},
)
async def score_series(body: SeriesRequest, service: Service) -> SeriesScores:
    return await run_in_threadpool(service.score_series, body)


@router.post(
    "/streams/{stream_id}/points",
    response_model=StreamScores,
    summary="Score new points of a stream (state kept per stream, bounded)",
    responses={422: {"description": "invalid input, one entry per bad field"}},
)
async def stream_points(stream_id: StreamId, body: StreamPoints, service: Service) -> StreamScores:
    return await run_in_threadpool(service.score_points, stream_id, body)


@router.delete(
    "/streams/{stream_id}",
    status_code=204,
    summary="Forget a stream",
    responses={404: {"description": "no such stream"}},
)
async def drop_stream(stream_id: StreamId, service: Service) -> Response:
    if not service.store.drop(stream_id):
        from fastapi import HTTPException

        raise HTTPException(404, detail=f"no stream {stream_id!r} (never seen, or evicted)")
    return Response(status_code=204)


@router.get("/streams", response_model=StreamsInfo, summary="How many streams are held")
async def streams(service: Service) -> StreamsInfo:
    store = service.store
    return StreamsInfo(
        active=len(store),
        max_streams=store.max_streams,
        ttl_seconds=store.ttl_seconds,
        evicted=store.evicted,
        probation=service.settings.stream_probation,
    )


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
    the published run's thresholds (announced in one line)."""
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


def load_service(settings: ServiceSettings) -> AnomalyService:
    """What the app's lifespan opens: the model and an empty stream store."""
    anomaly_settings = AnomalySettings(**settings.model_dump(exclude_none=True))
    uri = settings.model_uri or DEFAULT_URI
    from tenfold import tracking
    from tenfold.serving import card_from_record

    try:
        record = tracking.load_sklearn_model(uri)
        model: AnomalyModel = record.model
        card = card_from_record(
            record,
            details={"champion": model.champion, "thresholds": model.thresholds},
            metric_prefixes=("normalised",),
        )
    except Exception:
        if settings.model_uri:
            raise
        log.warning("no model at %s: serving the published thresholds (reports/metrics.json)", uri)
        model = published_model()
        card = ModelCard(
            name="anomaly (published thresholds)",
            details={"champion": model.champion, "thresholds": model.thresholds},
        )
    return AnomalyService(model, card, anomaly_settings)


SPEC = ServiceSpec(
    name="anomaly",
    title="tenfold anomaly API",
    description="Causal anomaly scores of a series or of streams, NAB-calibrated thresholds.",
    request=SeriesRequest,
    response=SeriesScores,
    load=load_service,
    default_model_uri=DEFAULT_URI,
)


def app(
    settings: ServiceSettings | None = None, *, service: AnomalyService | None = None
) -> FastAPI:
    """TEMPORARY ASSEMBLY until the serving factory takes project routers: the shared
    factory (ops routes, errors, metrics, API key) plus :data:`router`."""
    built = create_app(SPEC, settings, predictor=service)
    guarded = []
    if (settings or ServiceSettings()).api_key is not None:
        # the factory guards its own /v1 routes; the router gets the same check
        from fastapi.security import APIKeyHeader

        header = APIKeyHeader(name="X-API-Key", auto_error=False)
        expected = (settings or ServiceSettings()).api_key

        async def require_key(key: str | None = Depends(header)) -> None:
            import secrets

            from fastapi import HTTPException

            if expected is None:
                return
            if key is None or not secrets.compare_digest(key, expected.get_secret_value()):
                raise HTTPException(status_code=401, detail="missing or wrong X-API-Key")

        guarded = [Depends(require_key)]
    built.include_router(router, dependencies=guarded)
    return built


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
