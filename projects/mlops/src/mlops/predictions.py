"""The prediction log: every scored application in a SQL table, written off the request
path, durable when the database is down.

The API hands each batch of :class:`~tenfold.serving.PredictionRecord` to
:class:`PredictionLog` (a :class:`~tenfold.serving.PredictionSink`: the library's writer
queues records and calls ``write`` from a background task). ``write`` inserts the batch
in one transaction. When the database does not answer, the batch goes to the **spool**:
one JSON-lines file per batch in a local folder, written atomically (a temporary file
renamed), so nothing is lost and the API keeps answering. A flusher thread retries the
spool in order every ``flush_seconds`` and deletes a file only after its rows are
committed. Each record carries a ``record_id`` made when it is first written, and rows
are inserted with ``ON CONFLICT DO NOTHING`` on it: a batch whose commit reached the
database just before the connection died is spooled and re-sent without a duplicate.

The schema (predictions, outcomes, drift metrics, model events) is owned by Alembic
(:mod:`mlops.migrations`); the tables below are the same definitions, used to build
statements. ``MLOPS_DATABASE_URL`` names the database (PostgreSQL in production, e.g.
``postgresql+psycopg://app@127.0.0.1:5432/app``); without it, an embedded SQLite file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from prometheus_client import Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.dialects.postgresql import JSONB

from tenfold import paths
from tenfold.serving import PredictionRecord

log = logging.getLogger("mlops.predictions")

DATABASE_URL_ENV = "MLOPS_DATABASE_URL"

metadata = sa.MetaData()
JSONType = sa.JSON().with_variant(JSONB(), "postgresql")

predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("request_id", sa.String(128), nullable=False, index=True),
    sa.Column("item_index", sa.Integer, nullable=False),
    sa.Column("endpoint", sa.String(64), nullable=False),
    sa.Column("application_id", sa.String(64), index=True),
    sa.Column("application_date", sa.Date, index=True),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("model_version", sa.String(32)),
    sa.Column("probability", sa.Float, nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("risk_band", sa.String(1), nullable=False),
    sa.Column("inputs", JSONType, nullable=False),
    sa.Column("outputs", JSONType, nullable=False),
    sa.Column("latency_ms", sa.Float, nullable=False),
    sa.Column("logged_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

outcomes = sa.Table(
    "outcomes",
    metadata,
    sa.Column("application_id", sa.String(64), primary_key=True),
    sa.Column("defaulted", sa.Integer, nullable=False),
    sa.Column("observed_on", sa.Date, nullable=False),
)

drift_metrics = sa.Table(
    "drift_metrics",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("window_start", sa.Date, nullable=False, index=True),
    sa.Column("model_version", sa.String(32)),
    sa.Column("reference", sa.String(64), nullable=False),
    sa.Column("rows", sa.Integer, nullable=False),
    sa.Column("drift_share", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("drifted", sa.Boolean, nullable=False),
    sa.Column("report_path", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

feature_drift = sa.Table(
    "feature_drift",
    metadata,
    sa.Column("drift_id", sa.Integer, sa.ForeignKey("drift_metrics.id"), primary_key=True),
    sa.Column("feature", sa.String(64), primary_key=True),
    sa.Column("window_start", sa.Date, nullable=False, index=True),
    sa.Column("method", sa.String(64), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("threshold", sa.Float, nullable=False),
    sa.Column("drifted", sa.Boolean, nullable=False),
)

model_events = sa.Table(
    "model_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("window_start", sa.Date),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("model", sa.String(128), nullable=False),
    sa.Column("version", sa.String(32)),
    sa.Column("champion", sa.String(32)),
    sa.Column("metric", sa.String(32)),
    sa.Column("challenger_score", sa.Float),
    sa.Column("champion_score", sa.Float),
    sa.Column("rows", sa.Integer),
    sa.Column("reason", sa.Text, nullable=False),
)


# --------------------------------------------------------------------------- the database


@dataclass(frozen=True)
class Database:
    """Where the log lives: the URL and whether it is the embedded default."""

    url: str
    embedded: bool

    @property
    def dialect(self) -> str:
        return sa.engine.make_url(self.url).get_backend_name()


def database(url: str | None = None) -> Database:
    """``url``, else ``MLOPS_DATABASE_URL``, else the embedded SQLite file in the local
    state folder (``.mlflow/mlops/predictions.db``)."""
    chosen = url or os.environ.get(DATABASE_URL_ENV) or None
    if chosen:
        return Database(chosen, embedded=False)
    path = paths.state_dir() / "mlops" / "predictions.db"
    return Database(f"sqlite:///{path.as_posix()}", embedded=True)


def create_engine(db: Database) -> sa.Engine:
    """An engine that fails fast when the server is gone (2 s to connect, pre-ping)."""
    if db.dialect == "sqlite":
        path = sa.engine.make_url(db.url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(db.url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _wal(connection: Any, _: Any) -> None:  # readers never block the API's writer
            connection.execute("PRAGMA journal_mode=WAL")

        return engine
    return sa.create_engine(
        db.url,
        pool_pre_ping=True,
        pool_size=4,
        max_overflow=2,
        connect_args={"connect_timeout": 2},
    )


def migrate(url: str) -> str:
    """``alembic upgrade head`` on ``url``; the revision the schema is at afterwards."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    config.attributes["url"] = url
    command.upgrade(config, "head")
    engine = create_engine(Database(url, embedded=False))
    try:
        with engine.connect() as connection:
            return str(
                connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
            )
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- rows


def prediction_row(record: PredictionRecord, record_id: str) -> dict[str, Any]:
    """One table row from a record (its inputs and outputs as JSON documents)."""
    document = record.as_dict()
    inputs, outputs = document["inputs"], document["outputs"]
    day = inputs.get("application_date")
    return {
        "record_id": record_id,
        "request_id": record.request_id,
        "item_index": record.index or 0,
        "endpoint": record.endpoint,
        "application_id": inputs.get("application_id"),
        "application_date": date.fromisoformat(day) if day else record.timestamp.date(),
        "model": record.model,
        "model_version": record.model_version,
        "probability": float(outputs["probability_of_default"]),
        "score": float(outputs["score"]),
        "risk_band": outputs["risk_band"],
        "inputs": inputs,
        "outputs": outputs,
        "latency_ms": round(record.latency_ms, 3),
        "logged_at": record.timestamp,
    }


def _to_json(row: Mapping[str, Any]) -> str:
    return json.dumps(
        {
            **row,
            "application_date": row["application_date"].isoformat(),
            "logged_at": row["logged_at"].isoformat(),
        },
        separators=(",", ":"),
    )


def _from_json(line: str) -> dict[str, Any]:
    row: dict[str, Any] = json.loads(line)
    row["application_date"] = date.fromisoformat(row["application_date"])
    row["logged_at"] = datetime.fromisoformat(row["logged_at"])
    return row


def insert_ignoring_duplicates(engine: sa.Engine, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` in the engine's dialect."""
    if engine.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(table).on_conflict_do_nothing()
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert(table).on_conflict_do_nothing()


PREDICTION_COLUMNS = tuple(column.name for column in predictions.columns)
_JSON_COLUMNS = frozenset({"inputs", "outputs"})


def copy_rows(connection: sa.Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """The rows by PostgreSQL's COPY: the live log's path. A multi-row INSERT costs the
    API's process the SQL rendering and bind processing of every value, and the server
    a parse per statement; COPY streams the values (psycopg's C adapters), which is what
    keeps logging inside the request budget. No ``ON CONFLICT`` here: a re-sent spool
    file goes through :func:`insert_ignoring_duplicates`."""
    cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    names = ", ".join(PREDICTION_COLUMNS)
    try:
        with cursor.copy(f"COPY predictions ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(
                    tuple(
                        json.dumps(row[c], separators=(",", ":")) if c in _JSON_COLUMNS else row[c]
                        for c in PREDICTION_COLUMNS
                    )
                )
    finally:
        cursor.close()


def _driver_errors() -> tuple[type[BaseException], ...]:
    """psycopg's own errors: COPY runs on the driver's cursor, outside SQLAlchemy's
    wrapping of DBAPI errors."""
    try:
        import psycopg
    except ImportError:  # the embedded SQLite default needs no driver
        return ()
    return (psycopg.Error,)


# --------------------------------------------------------------------------- the sink


PROBABILITY_BUCKETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0)
SCORE_BUCKETS = (450, 500, 525, 550, 575, 600, 625, 650, 700, 750)


class PredictionLog:
    """The API's prediction sink (see the module's docstring); an async context manager
    opened in the service's lifespan."""

    def __init__(
        self,
        db: Database,
        spool_dir: Path,
        *,
        flush_seconds: float = 1.0,
        migrate_on_start: bool = True,
    ) -> None:
        self.db = db
        self.spool_dir = spool_dir
        self.flush_seconds = flush_seconds
        self.migrate_on_start = migrate_on_start
        self.engine = create_engine(db)
        # what a failed write raises: SQLAlchemy's wrapped errors, and the driver's own
        # from COPY (run on its cursor)
        self._errors: tuple[type[BaseException], ...] = (sa.exc.DBAPIError, *_driver_errors())
        self._lock = threading.Lock()  # one writer of the spool at a time
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._schema_ready = False
        self.database_up = True
        self.inserted = 0
        self.spooled = 0
        self.flushed = 0
        self.probability = Histogram(
            "mlops_probability_of_default",
            "Probability of default of each scored application",
            ["model_version"],
            buckets=PROBABILITY_BUCKETS,
            registry=None,
        )
        self.score = Histogram(
            "mlops_score_points",
            "Scorecard points of each scored application",
            ["model_version"],
            buckets=SCORE_BUCKETS,
            registry=None,
        )

    # ---------------------------------------------------------------- lifecycle

    async def __aenter__(self) -> PredictionLog:
        if self.db.embedded:
            log.warning(
                "prediction log: %s not set, using the embedded SQLite %s",
                DATABASE_URL_ENV,
                self.db.url.removeprefix("sqlite:///"),
            )
        self.spool_dir.mkdir(parents=True, exist_ok=True)
        await asyncio.to_thread(self._ensure_schema)
        self._thread = threading.Thread(
            target=self._flush_loop, name="prediction-spool", daemon=True
        )
        self._thread.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join, 10.0)
        await asyncio.to_thread(self.flush)  # a last try: what stays is kept for next start
        self.engine.dispose()

    def _ensure_schema(self) -> bool:
        if self._schema_ready:
            return True
        try:
            if self.migrate_on_start:
                migrate(self.db.url)
            self._schema_ready = True
        except sa.exc.DBAPIError as exc:
            self.database_up = False
            log.warning("prediction log: database unavailable, spooling (%s)", _first_line(exc))
        return self._schema_ready

    # ---------------------------------------------------------------- writing

    async def write(self, records: Sequence[PredictionRecord]) -> None:
        """Insert a batch (from a thread), else spool it; raises only if the spool itself
        cannot be written (then the library's writer counts the records as lost)."""
        await asyncio.to_thread(self._write, records)

    def _write(self, records: Sequence[PredictionRecord]) -> None:
        rows = [prediction_row(r, uuid.uuid4().hex) for r in records]
        for row in rows:
            version = row["model_version"] or ""
            self.probability.labels(version).observe(row["probability"])
            self.score.labels(version).observe(row["score"])
        with self._lock:
            # while the spool holds older rows, new ones queue behind them (the flusher
            # empties it in order once the database is back)
            if self.database_up and not self._pending() and self._insert(rows, fresh=True):
                self.inserted += len(rows)
                return
            self._spool(rows)

    def _insert(self, rows: Sequence[Mapping[str, Any]], *, fresh: bool = False) -> bool:
        """One transaction; ``fresh``: rows never sent before (new record ids, so no
        conflict is possible), which PostgreSQL takes by COPY."""
        if not self._ensure_schema():
            return False
        try:
            with self.engine.begin() as connection:
                if fresh and self.engine.dialect.name == "postgresql":
                    copy_rows(connection, rows)
                else:
                    connection.execute(insert_ignoring_duplicates(self.engine, predictions), rows)
        except self._errors as exc:
            if self.database_up:
                log.warning(
                    "prediction log: database down, spooling to %s (%s)",
                    self.spool_dir,
                    _first_line(exc),
                )
            self.database_up = False
            return False
        return True

    def _spool(self, rows: Sequence[Mapping[str, Any]]) -> None:
        name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}.jsonl"
        tmp = self.spool_dir / f".{name}.tmp"
        with tmp.open("w", encoding="utf-8") as out:
            out.write("".join(_to_json(row) + "\n" for row in rows))
            out.flush()
            os.fsync(out.fileno())
        tmp.replace(self.spool_dir / name)
        self.spooled += len(rows)

    def _pending(self) -> list[Path]:
        return sorted(self.spool_dir.glob("*.jsonl"))

    def pending_rows(self) -> int:
        total = 0
        for path in self._pending():
            with contextlib.suppress(FileNotFoundError):
                total += sum(1 for _ in path.open(encoding="utf-8"))
        return total

    # ---------------------------------------------------------------- flushing

    def flush(self) -> int:
        """Send the spooled files in order, deleting each once committed; the rows sent
        (0 when the database is still down)."""
        sent = 0
        with self._lock:
            for path in self._pending():
                rows = [
                    _from_json(line)
                    for line in path.read_text(encoding="utf-8").splitlines()
                    if line
                ]
                self.database_up = True  # probe
                if not self._insert(rows):
                    break
                path.unlink()
                sent += len(rows)
            else:
                if sent:
                    log.info("prediction log: database back, %d spooled row(s) written", sent)
        self.flushed += sent
        return sent

    def _flush_loop(self) -> None:
        while not self._stop.wait(self.flush_seconds):
            if self._pending():
                try:
                    self.flush()
                except Exception:  # keep the thread alive: the files stay for next time
                    log.exception("prediction log: flushing the spool failed")

    # ---------------------------------------------------------------- metrics

    def collectors(self) -> list[Collector]:
        return [self.probability, self.score, _LogCollector(self)]


class _LogCollector(Collector):
    def __init__(self, log_: PredictionLog) -> None:
        self.log = log_

    def collect(self) -> Iterator[Any]:
        up = GaugeMetricFamily(
            "mlops_prediction_log_database_up", "1 when the last write reached the database"
        )
        up.add_metric([], 1.0 if self.log.database_up else 0.0)
        pending = GaugeMetricFamily(
            "mlops_prediction_log_spooled_rows", "Rows waiting in the local spool for the database"
        )
        pending.add_metric([], float(self.log.pending_rows()))
        written = CounterMetricFamily(
            "mlops_prediction_log_rows", "Rows by where they went", labels=["path"]
        )
        written.add_metric(["inserted"], float(self.log.inserted))
        written.add_metric(["spooled"], float(self.log.spooled))
        written.add_metric(["flushed"], float(self.log.flushed))
        yield from (up, pending, written)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


# --------------------------------------------------------------------------- reading


def count_rows(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(sa.select(sa.func.count()).select_from(predictions)).scalar_one()
        )


def now() -> datetime:
    return datetime.now(UTC)


def iter_chunks(rows: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
