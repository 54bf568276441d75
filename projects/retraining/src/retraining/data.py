"""The only module of the retraining project that reads or writes data: the lake.

One layout per project below the lake's root (a folder or ``s3://bucket/prefix``)::

    incoming/<project>/<YYYY-MM-DD>.csv      batches as producers land them
    quarantine/incoming/<project>/...        bad batches, each with <name>.reason.json
    curated/<project>/<YYYY-MM-DD>.parquet   accepted batches, typed (one per day: a
                                             re-delivered day replaces the earlier one)
    inference/<project>/<YYYY-MM-DD>.csv     what the model was asked to score that day
    reports/drift/<project>/<YYYY-MM-DD>/    drift.html and drift.json of each day
    state/<project>/watermark.json           every incoming object processed, and how
    state/<project>/reference/v<N>.parquet   version N's training rows (drift reference)
    state/<project>/alerts/<key>.json        alerts sent (so none is sent twice)

``load(cfg)`` is the project's stage function: the current window's rows of accepted
batches and where they came from.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from retraining.config import RetrainingConfig
from retraining.interface import PERIOD_COLUMN, Retrainable, Window, target_for, window_for
from retraining.validation import period_of
from tenfold.data import ColumnSpec, DataError, DataSource, parse_columns
from tenfold.storage import Lake, Processed, Watermark, load_watermark


@dataclass(frozen=True)
class Layout:
    """Where a project's objects live in the lake."""

    project: str

    @property
    def incoming(self) -> str:
        return f"incoming/{self.project}"

    def batch(self, period: dt.date, suffix: str = "") -> str:
        return f"{self.incoming}/{period.isoformat()}{suffix}.csv"

    quarantine = "quarantine"

    def curated(self, period: dt.date) -> str:
        return f"curated/{self.project}/{period.isoformat()}.parquet"

    @property
    def inference(self) -> str:
        return f"inference/{self.project}"

    def inference_batch(self, period: dt.date) -> str:
        return f"{self.inference}/{period.isoformat()}.csv"

    @property
    def drift(self) -> str:
        return f"reports/drift/{self.project}"

    @property
    def watermark(self) -> str:
        return f"state/{self.project}/watermark.json"

    def reference(self, version: str) -> str:
        return f"state/{self.project}/reference/v{version}.parquet"

    @property
    def alerts(self) -> str:
        return f"state/{self.project}/alerts"


def open_lake(cfg: RetrainingConfig) -> Lake:
    return Lake(cfg.lake_url())


# --------------------------------------------------------------------------- frames


def frame_bytes(frame: pd.DataFrame) -> bytes:
    """A frame as Parquet bytes (types kept: a curated batch reads back as written)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()


def read_parquet(lake: Lake, key: str) -> pd.DataFrame:
    return pd.read_parquet(io.BytesIO(lake.read_bytes(key)))


def write_curated(lake: Lake, layout: Layout, period: dt.date, frame: pd.DataFrame) -> str:
    return lake.write_bytes(layout.curated(period), frame_bytes(frame))


def accepted_periods(watermark: Watermark) -> list[dt.date]:
    """The days with an accepted batch, oldest first."""
    days = {period_of(p.key) for p in watermark.accepted()}
    return sorted(d for d in days if d is not None)


def read_history(lake: Lake, layout: Layout, watermark: Watermark, window: Window) -> pd.DataFrame:
    """The accepted days of ``window`` (look-back included), one frame, with the day of
    each row's batch in :data:`PERIOD_COLUMN`."""
    frames = []
    for period in accepted_periods(watermark):
        if window.start <= period <= window.validation_end:
            frame = read_parquet(lake, layout.curated(period))
            frames.append(frame.assign(**{PERIOD_COLUMN: pd.Timestamp(period)}))
    if not frames:
        raise DataError(f"no accepted batch between {window.start} and {window.validation_end}")
    return pd.concat(frames, ignore_index=True)


def window_source(
    cfg: RetrainingConfig, lake: Lake, watermark: Watermark, window: Window
) -> DataSource:
    """Provenance of a window: the accepted objects it reads and one sha256 over theirs
    (the same batches give the same digest, hence the same training identity)."""
    used = [
        p
        for p in watermark.accepted()
        if (day := period_of(p.key)) is not None and window.start <= day <= window.validation_end
    ]
    latest = _latest_per_day(used)
    digest = hashlib.sha256("\n".join(f"{p.key} {p.sha256}" for p in latest).encode()).hexdigest()
    return DataSource(
        dataset=f"{cfg.project} batches in {lake.url}",
        kind=cfg.data_kind,
        origin="lake",
        paths={p.key: lake.uri(p.key) for p in latest},
        sha256={"window": digest},
        steps=(
            f"data: {len(latest)} accepted {cfg.project} batch(es) from "
            f"{lake.uri(Layout(cfg.project).incoming)}, {window.start}..{window.validation_end} "
            f"({window.describe()})",
        ),
    )


def _latest_per_day(records: Sequence[Processed]) -> list[Processed]:
    """One record per day: the last key for that day (a re-delivery ``.v2`` sorts after)."""
    by_day: dict[dt.date, Processed] = {}
    for record in sorted(records, key=lambda p: p.key):
        day = period_of(record.key)
        if day is not None:
            by_day[day] = record
    return [by_day[d] for d in sorted(by_day)]


def load(cfg: RetrainingConfig) -> tuple[pd.DataFrame, DataSource]:
    """The current window of the lake's accepted batches (what ``train`` fits on) and
    its provenance."""
    history, _, source = load_window(cfg)
    return history, source


def load_window(cfg: RetrainingConfig) -> tuple[pd.DataFrame, Window, DataSource]:
    target = target_for(cfg)
    lake = open_lake(cfg)
    layout = Layout(cfg.project)
    watermark = load_watermark(lake, layout.watermark)
    window = require_window(cfg, target, watermark)
    return (
        read_history(lake, layout, watermark, window),
        window,
        window_source(cfg, lake, watermark, window),
    )


def require_window(cfg: RetrainingConfig, target: Retrainable, watermark: Watermark) -> Window:
    periods = accepted_periods(watermark)
    window = window_for(periods, cfg, target.lookback_days)
    if window is None:
        w = cfg.window
        need = target.lookback_days + w.train_days + w.gap_days + w.validation_days
        have = f"{periods[0]}..{periods[-1]}" if periods else "none"
        raise DataError(
            f"not enough accepted {cfg.project} batches in {cfg.lake_url()} for a window of "
            f"{need} days (accepted days: {have}); run `python -m retraining retrain` once "
            "batches have landed"
        )
    return window


# --------------------------------------------------------------------------- inference


def write_inference(lake: Lake, layout: Layout, period: dt.date, rows: pd.DataFrame) -> str:
    """A day of inputs the model scored (what a serving layer logs), as CSV."""
    return lake.write_text(layout.inference_batch(period), rows.to_csv(index=False))


def read_inference(lake: Lake, key: str, columns: Sequence[ColumnSpec]) -> pd.DataFrame:
    text = pd.read_csv(io.BytesIO(lake.read_bytes(key)), dtype=str, keep_default_na=False)
    return parse_columns(text, columns, label=lake.uri(key))


def write_reference(lake: Lake, layout: Layout, version: str, rows: pd.DataFrame) -> str:
    return lake.write_bytes(layout.reference(version), frame_bytes(rows))


def read_reference(lake: Lake, layout: Layout, version: str) -> pd.DataFrame:
    try:
        return read_parquet(lake, layout.reference(version))
    except FileNotFoundError:
        raise DataError(
            f"no drift reference for v{version} in {lake.uri(layout.reference(version))}: "
            "it is written when the retrain flow registers a version"
        ) from None
