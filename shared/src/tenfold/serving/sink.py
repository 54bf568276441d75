"""The prediction log: every scored item, handed to a sink off the request's path.

A route hands records to :class:`SinkWriter`, which only puts them on a bounded
in-memory queue (never waits: when the queue is full the record is dropped and counted).
A background task takes batches off the queue and awaits ``sink.write(batch)``; a slow
or failing sink therefore never delays or fails a response. On shutdown the writer
stops taking records and drains what is queued (within ``drain_seconds``).

A sink is anything with ``async write(records)``: :class:`MemorySink` (tests),
:class:`JsonlSink` (one JSON object per line, ``TENFOLD_PREDICTION_LOG``), and a
project's own (mlops: PostgreSQL).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from pydantic_core import to_jsonable_python

from tenfold.serving.metrics import ServiceMetrics

log = logging.getLogger("tenfold.serving")


@dataclass(frozen=True)
class PredictionRecord:
    """One scored item: what was asked, what was answered, by which model, when, how fast.

    ``inputs`` and ``outputs`` are the request and response models as the route had them
    (serialised by the sink, off the request's path): a batch gives one record per item
    with its ``index``.
    """

    request_id: str
    endpoint: str
    model: str
    model_version: str | None
    inputs: Any
    outputs: Any
    timestamp: datetime
    latency_ms: float
    index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: pydantic models dumped, the timestamp in ISO 8601 (UTC)."""
        return {
            "request_id": self.request_id,
            "endpoint": self.endpoint,
            "model": self.model,
            "model_version": self.model_version,
            "index": self.index,
            "timestamp": self.timestamp.isoformat(),
            "latency_ms": round(self.latency_ms, 3),
            "inputs": to_jsonable_python(self.inputs, by_alias=True),
            "outputs": to_jsonable_python(self.outputs, by_alias=True),
        }


@runtime_checkable
class PredictionSink(Protocol):
    """Where prediction records go; ``write`` gets a batch and may be slow or fail."""

    async def write(self, records: Sequence[PredictionRecord]) -> None: ...


@dataclass
class MemorySink:
    """Keeps every record in memory (tests, notebooks)."""

    records: list[PredictionRecord] = field(default_factory=list)

    async def write(self, records: Sequence[PredictionRecord]) -> None:
        self.records.extend(records)


@dataclass
class JsonlSink:
    """Appends one JSON object per record to a file (written from a thread, so the file
    system never holds the event loop)."""

    path: Path

    async def write(self, records: Sequence[PredictionRecord]) -> None:
        lines = "".join(json.dumps(r.as_dict(), ensure_ascii=False) + "\n" for r in records)
        await asyncio.to_thread(self._append, lines)

    def _append(self, text: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write(text)


class SinkWriter:
    """The bounded queue between the routes and a sink, and the task that drains it."""

    def __init__(
        self,
        sink: PredictionSink,
        metrics: ServiceMetrics,
        *,
        max_queue: int = 10_000,
        batch_size: int = 500,
        drain_seconds: float = 5.0,
        linger_seconds: float = 0.0,
    ) -> None:
        self.sink = sink
        self.linger_seconds = linger_seconds
        self.metrics = metrics
        self.batch_size = batch_size
        self.drain_seconds = drain_seconds
        self.queue: asyncio.Queue[PredictionRecord] = asyncio.Queue(maxsize=max_queue)
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._in_flight = 0

    def offer(self, records: Sequence[PredictionRecord]) -> None:
        """Queue records without waiting; what does not fit is dropped and counted."""
        if self._closing:
            self.metrics.sink_dropped.inc(len(records))
            return
        for k, record in enumerate(records):
            try:
                self.queue.put_nowait(record)
            except asyncio.QueueFull:
                dropped = len(records) - k
                self.metrics.sink_dropped.inc(dropped)
                log.warning("prediction log queue full: %d record(s) dropped", dropped)
                return

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run(), name="prediction-log")

    async def _run(self) -> None:
        while True:
            batch = [await self.queue.get()]
            if self.linger_seconds and not self._closing:
                # Let a batch gather: a write costs a transaction (a commit, a WAL
                # flush) and its Python around it, whatever its size; at a few records
                # each, PostgreSQL logging tripled the API's CPU per request.
                await asyncio.sleep(self.linger_seconds)
            while len(batch) < self.batch_size and not self.queue.empty():
                batch.append(self.queue.get_nowait())
            self._in_flight = len(batch)
            try:
                await self.sink.write(batch)
            except Exception:
                self.metrics.sink_failed.inc(len(batch))
                log.exception("prediction sink failed: %d record(s) lost", len(batch))
            else:
                self.metrics.sink_written.inc(len(batch))
            finally:
                self._in_flight = 0
                for _ in batch:
                    self.queue.task_done()

    async def close(self) -> None:
        """Stop taking records, then let the task write what is queued (for at most
        ``drain_seconds``); what is left then is counted as dropped."""
        self._closing = True
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self.queue.join(), self.drain_seconds)
        except TimeoutError:
            lost = self.queue.qsize() + self._in_flight
            self.metrics.sink_dropped.inc(lost)
            log.warning("prediction log: %d record(s) not written before shutdown", lost)
        finally:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
