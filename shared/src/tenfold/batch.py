"""Batch scoring of a file of any size: what every project's ``predict`` command does.

The input is read in chunks (:func:`tenfold.data.iter_csv_checked`, so a bad value is
reported with its file, column and row), each chunk is scored by the project's
``score_frame`` (whole columns, never a loop over rows) and appended to the output.
Memory stays that of one chunk, whatever the file's size. The output is written to a
temporary file beside the target, the header once, and renamed into place at the end:
a failed run leaves no half-written file, and never touches the input.
"""

from __future__ import annotations

import contextlib
import os
import queue
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from tenfold.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from tenfold.data import Chunk

T = TypeVar("T")


@dataclass(frozen=True)
class BatchResult(Generic[T]):
    """What a batch run wrote: rows, where, how long, and one tally per chunk."""

    rows: int
    output: Path
    seconds: float
    tallies: list[T] = field(default_factory=list)

    @property
    def rows_per_minute(self) -> float:
        return self.rows / self.seconds * 60 if self.seconds > 0 else float("inf")


def check_files(input_path: Path, output_path: Path) -> None:
    """What a ``predict`` command checks before it loads a model: the input has rows
    (:func:`tenfold.data.require_rows`), and the output is a file that can be written
    without destroying the input (:func:`check_paths`)."""
    from tenfold.data import require_rows

    check_paths(input_path, output_path)
    require_rows(input_path, purpose="to score")


def check_paths(input_path: Path, output_path: Path) -> None:
    """Refuse an output that would destroy the input or cannot be a file: the input
    itself (however it is spelt: relative path, symlink, hard link), a directory, or a
    folder that cannot be written to."""
    if output_path.exists() or output_path.is_symlink():
        if output_path.is_dir():
            raise DataError(f"--output {output_path} is a directory: give a file name")
        with contextlib.suppress(OSError):
            if input_path.samefile(output_path):
                raise DataError(
                    f"--output {output_path} is the input file {input_path}: refusing to "
                    "overwrite it; write the scores to another file"
                )
    parent = output_path.resolve().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
        raise DataError(f"--output {output_path}: cannot write in {parent}")


def read_ahead(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """``chunks`` with the first one read now: a file that does not fit the schema fails
    before a model is loaded."""
    iterator = iter(chunks)
    first = next(iterator, None)

    def chained() -> Iterator[Chunk]:
        if first is not None:
            yield first
            yield from iterator

    return chained()


def score_file(
    chunks: Iterable[Chunk],
    score: Callable[[pd.DataFrame], pd.DataFrame],
    output: Path,
    *,
    source: Path,
    tally: Callable[[pd.DataFrame], T] | None = None,
    progress: bool = True,
    description: str = "scoring",
) -> BatchResult[T]:
    """Score every chunk with ``score`` and write the results to ``output`` (CSV, one
    header, no index), atomically. ``tally(scored_chunk)`` collects what the command
    reports at the end (e.g. how many rows were flagged)."""
    check_paths(source, output)
    started = time.perf_counter()
    output.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp_name = tempfile.mkstemp(
            dir=output.parent, prefix=f".{output.name}.", suffix=".part"
        )
    except OSError as exc:
        raise DataError(f"--output {output}: cannot write there ({exc.strerror})") from None
    tmp = Path(tmp_name)
    rows = 0
    tallies: list[T] = []
    # reading the next chunk and writing the last one overlap with scoring this one
    # (each stage in its own thread; the scoring's numpy work runs without the GIL)
    writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer")
    try:
        with (
            os.fdopen(fd, "w", encoding="utf-8", newline="") as handle,
            _Progress(progress, description) as advance,
        ):
            written: Future[None] | None = None
            for chunk in _read_ahead_thread(chunks):
                scored = score(chunk.frame)
                if written is not None:
                    written.result()
                written = writer.submit(scored.to_csv, handle, header=rows == 0, index=False)
                rows += len(scored)
                if tally is not None:
                    tallies.append(tally(scored))
                advance(chunk.bytes_read, chunk.total_bytes, rows)
            if written is not None:
                written.result()
        if rows == 0:
            raise DataError(f"no rows to score in {source}")
        tmp.replace(output)
    finally:
        writer.shutdown(wait=True)
        tmp.unlink(missing_ok=True)
    return BatchResult(rows, output, time.perf_counter() - started, tallies)


_DONE = object()


def _read_ahead_thread(chunks: Iterable[Chunk]) -> Iterator[Chunk]:
    """``chunks``, the next one read by a background thread while this one is used; an
    error while reading is raised here, in order."""
    ahead: queue.Queue[Any] = queue.Queue(maxsize=1)
    stop = threading.Event()

    def produce() -> None:
        try:
            for chunk in chunks:
                while not stop.is_set():
                    try:
                        ahead.put(chunk, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            ahead.put(_DONE)
        except BaseException as exc:  # handed to the consumer, raised there
            ahead.put(exc)

    thread = threading.Thread(target=produce, name="batch-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = ahead.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


class _Progress:
    """A rich progress bar on stderr (bytes of the input read, rows scored), or nothing."""

    def __init__(self, enabled: bool, description: str) -> None:
        self.enabled, self.description = enabled, description
        self._bar: object | None = None

    def __enter__(self) -> Callable[[int, int, int], None]:
        if not self.enabled:
            return lambda done, total, rows: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        bar.start()
        task = bar.add_task(self.description, total=None, rows=0)
        self._bar = bar

        def advance(done: int, total: int, rows: int) -> None:
            bar.update(task, completed=done, total=total, rows=rows)

        return advance

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()  # type: ignore[attr-defined]
