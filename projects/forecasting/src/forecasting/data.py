"""The only module of the forecasting project that reads files.

:func:`load` returns one or several series in long format (``unique_id, ds, y``) on a
regular grid, with where they came from and what was done to make them regular:

- **duplicated timestamps** (PJME's fall-back hour, listed twice in 2014-2017: two real
  hours under one wall-clock label) become their **mean**: the load is an hourly average
  in MW, so the mean is that wall-clock hour's average (a sum would double it);
- **missing steps** (the spring-forward hour, which has no wall-clock label; the
  fall-back hour before 2014, when the file kept only one of the two; a few lost hours)
  are **interpolated linearly** between their neighbours and flagged ``imputed``. Imputed
  values feed the lags but are never scored. A gap longer than ``max_gap_steps`` is an
  error naming the series and where, not something to draw a straight line through.

The grid stays in local wall-clock time on purpose: people (and load) follow the clock, so
"the same hour yesterday" must mean the same wall-clock hour across a DST change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forecasting.config import CADENCES, Cadence, ForecastConfig
from forecasting.features import holiday_dates
from tenfold import data as tfdata
from tenfold.errors import DataError

LONG_COLUMNS = ["unique_id", "ds", "y"]


@dataclass(frozen=True)
class Cleaning:
    """What regularising the series changed, for the README and metrics.json."""

    rows_read: int
    duplicated_timestamps: int
    duplicate_examples: tuple[str, ...]
    imputed_steps: int
    imputed_examples: tuple[str, ...]
    dropped_edge_rows: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "rows_read": self.rows_read,
            "duplicated_timestamps": self.duplicated_timestamps,
            "duplicate_examples": list(self.duplicate_examples),
            "imputed_steps": self.imputed_steps,
            "imputed_examples": list(self.imputed_examples),
            "dropped_edge_rows": self.dropped_edge_rows,
        }


@dataclass(frozen=True)
class Series:
    """Regular series in long format (``unique_id, ds, y, imputed``), sorted."""

    frame: pd.DataFrame
    source: tfdata.DataSource
    cadence: Cadence
    cleaning: Cleaning = field(
        default_factory=lambda: Cleaning(0, 0, (), 0, (), 0)  # in-memory frames (tests)
    )

    @property
    def ids(self) -> list[str]:
        return sorted(self.frame["unique_id"].unique())

    @property
    def end(self) -> pd.Timestamp:
        return pd.Timestamp(self.frame["ds"].max())


def load(cfg: ForecastConfig) -> Series:
    """The configured series: a user's CSV, or PJME (real, or its synthetic twin)."""
    if cfg.data_path is not None:
        raw, source = tfdata.read_user_csv(cfg.data_path)
        label = str(cfg.data_path)
    else:
        raw, source = tfdata.load_table(
            cfg.dataset, cfg.data_file, synthetic=lambda: make_synthetic(cfg)
        )
        label = f"{cfg.dataset}/{cfg.data_file}"
    long = to_long(raw, cfg, label=label)
    return prepare(long, source, max_gap_steps=cfg.max_gap_steps, label=label)


def prepare(
    long: pd.DataFrame, source: tfdata.DataSource, *, max_gap_steps: int, label: str
) -> Series:
    """Infer the cadence, then put every series on its regular grid."""
    cadence = infer_cadence(long, label=label)
    regular, cleaning = regularise(long, cadence, max_gap_steps=max_gap_steps, label=label)
    return Series(regular, source, cadence, cleaning)


def to_long(raw: pd.DataFrame, cfg: ForecastConfig, *, label: str) -> pd.DataFrame:
    """``unique_id, ds, y`` from a file's own columns, each value checked (file, column,
    row named on error). The target may be blank (a missing step)."""
    columns = [
        tfdata.ColumnSpec(cfg.time_col, "datetime"),
        tfdata.ColumnSpec(cfg.target_col, "float", nullable=True),
    ]
    if cfg.id_col is not None:
        columns.append(tfdata.ColumnSpec(cfg.id_col, "str"))
    missing = [c.name for c in columns if c.name not in raw.columns]
    if missing:
        raise DataError(
            f"{label}: column(s) {missing} not in the data; found {list(raw.columns)[:20]} "
            "(choose them with --time-col, --target-col and --id-col)"
        )
    parsed = tfdata.parse_columns(raw.astype(str), columns, label=label)
    ids = parsed[cfg.id_col].astype(str) if cfg.id_col is not None else cfg.series_name
    return pd.DataFrame(
        {"unique_id": ids, "ds": parsed[cfg.time_col], "y": parsed[cfg.target_col]}
    ).reset_index(drop=True)


def infer_cadence(long: pd.DataFrame, *, label: str) -> Cadence:
    """Hourly or daily, from the most common spacing between distinct timestamps."""
    steps = (
        long[["unique_id", "ds"]]
        .drop_duplicates()
        .sort_values(["unique_id", "ds"])
        .groupby("unique_id")["ds"]
        .diff()
        .dropna()
    )
    if steps.empty:
        raise DataError(f"{label}: need at least two timestamps per series to infer a frequency")
    counts = steps.value_counts()
    modal, share = counts.index[0], counts.iloc[0] / len(steps)
    for cadence in CADENCES.values():
        if modal == pd.Timedelta(cadence.step) and share >= 0.5:
            return cadence
    raise DataError(
        f"{label}: cannot infer an hourly or daily frequency: the most common spacing "
        f"between timestamps is {modal} ({share:.0%} of them); forecasting supports hourly "
        "or daily series"
    )


def regularise(
    long: pd.DataFrame, cadence: Cadence, *, max_gap_steps: int, label: str
) -> tuple[pd.DataFrame, Cleaning]:
    """Mean of duplicated timestamps; missing steps interpolated (flagged); sorted."""
    rows_read = len(long)
    counts = long.groupby(["unique_id", "ds"]).size()
    duplicated = counts[counts > 1]
    merged = long.groupby(["unique_id", "ds"], as_index=False)["y"].mean()
    pieces, imputed_at, dropped = [], [], 0
    step = pd.Timedelta(cadence.step)
    for uid, one in merged.groupby("unique_id", sort=True):
        grid = pd.date_range(one["ds"].min(), one["ds"].max(), freq=step)
        y = one.set_index("ds")["y"].reindex(grid)
        observed = y.notna().to_numpy()
        if not observed.any():
            raise DataError(f"{label}: series {uid!r} has no target values")
        first, last = np.flatnonzero(observed)[[0, -1]]
        dropped += len(y) - (last - first + 1)
        y = y.iloc[first : last + 1]
        missing = y.isna()
        _check_gaps(missing, max_gap_steps, f"{label}: series {uid!r}")
        imputed_at += list(y.index[missing.to_numpy()])
        pieces.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": y.index,
                    "y": y.interpolate("linear").to_numpy(),
                    "imputed": missing.to_numpy(),
                }
            )
        )
    frame = pd.concat(pieces, ignore_index=True)
    frame["unique_id"] = frame["unique_id"].astype(str)
    cleaning = Cleaning(
        rows_read=rows_read,
        duplicated_timestamps=len(duplicated),
        duplicate_examples=tuple(str(ds) for _, ds in duplicated.index[:8]),
        imputed_steps=len(imputed_at),
        imputed_examples=tuple(str(ts) for ts in sorted(imputed_at)[:8]),
        dropped_edge_rows=dropped,
    )
    return frame, cleaning


def _check_gaps(missing: pd.Series, max_gap_steps: int, where: str) -> None:
    if not missing.any():
        return
    runs = (missing != missing.shift()).cumsum()[missing]
    lengths = runs.value_counts()
    longest = int(lengths.max())
    if longest > max_gap_steps:
        start = missing.index[missing.to_numpy()][runs.to_numpy() == lengths.idxmax()][0]
        raise DataError(
            f"{where}: {longest} consecutive missing steps from {start}; gaps of up to "
            f"{max_gap_steps} steps are interpolated, a longer one needs a decision "
            "(fill or cut the series) before forecasting"
        )


# --------------------------------------------------------------------------- synthetic twin


def make_synthetic(cfg: ForecastConfig) -> pd.DataFrame:
    """A PJME-shaped twin: the file's columns and quirks, with a load that can be learnt.

    Temperature follows a yearly and a daily cycle plus a persistent weather anomaly (an
    AR(1) over days); load responds to heating and cooling degrees, has a weekday and a
    weekend daily profile, and drops on US holidays. Times are generated in UTC and shown
    in New York wall-clock time, so the fall-back hour appears twice and the
    spring-forward hour is missing, as in the real file; one more hour is lost, and the
    rows come in yearly blocks, newest first.
    """
    frame = synthetic_load(cfg.synthetic_start, cfg.synthetic_end, seed=cfg.seed)
    rng = np.random.default_rng(cfg.seed + 1)
    lost = rng.integers(len(frame) // 4, len(frame) // 2)
    frame = frame.drop(index=lost)
    year = frame["ds"].dt.year
    order = np.lexsort((frame["ds"].to_numpy(), -year.to_numpy()))
    return frame.iloc[order].reset_index(drop=True)[["ds", "y"]]


def synthetic_load(start: str, end: str, *, seed: int, level: float = 30_000.0) -> pd.DataFrame:
    """Hourly load (MW) in wall-clock time between two wall-clock instants."""
    rng = np.random.default_rng(seed)
    zone = "America/New_York"
    utc = pd.date_range(
        pd.Timestamp(start).tz_localize(zone, ambiguous=False).tz_convert("UTC"),
        pd.Timestamp(end).tz_localize(zone, ambiguous=False).tz_convert("UTC"),
        freq="h",
    )
    local = utc.tz_convert(zone).tz_localize(None)
    hours = np.arange(len(utc))
    day = hours // 24
    day_of_year = local.dayofyear.to_numpy()
    hour = local.hour.to_numpy()
    # weather: an AR(1) anomaly per day, smoothed into the hours
    anomaly_days = np.zeros(day.max() + 2)
    shocks = rng.normal(0.0, 2.5, len(anomaly_days))
    for d in range(1, len(anomaly_days)):
        anomaly_days[d] = 0.8 * anomaly_days[d - 1] + shocks[d]
    anomaly = np.interp(hours / 24.0, np.arange(len(anomaly_days)), anomaly_days)
    temperature = (
        12.0
        - 11.0 * np.cos(2 * np.pi * (day_of_year - 20) / 365.25)
        + 4.0 * np.cos(2 * np.pi * (hour - 15) / 24)
        + anomaly
    )
    heating = 450.0 * np.clip(15.0 - temperature, 0, None)
    cooling = (
        700.0 * np.clip(temperature - 20.0, 0, None)
        + 25.0 * np.clip(temperature - 20.0, 0, None) ** 2
    )
    weekend = local.dayofweek.to_numpy() >= 5
    holiday = pd.DatetimeIndex(local.normalize()).isin(holiday_dates(local, "US"))
    rest_day = weekend | holiday
    shift = np.where(rest_day, 1.5, 0.0)  # rest days start later
    profile = (
        0.86
        + 0.17 * np.exp(-(((hour - 18 - shift / 2) / 4.0) ** 2))
        + 0.10 * np.exp(-(((hour - 9 - shift) / 2.5) ** 2))
        - 0.08 * np.exp(-(((hour - 4) / 2.5) ** 2))
    )
    factor = np.where(holiday, 0.86, np.where(weekend, 0.9, 1.0))
    growth = 1.0 + 0.004 * hours / 8766.0
    noise = 1.0 + rng.normal(0.0, 0.012, len(hours))
    y = (level * growth + heating + cooling) * profile * factor * noise
    return pd.DataFrame({"ds": local, "y": np.round(y)})


def synthetic_long(n_series: int, start: str, end: str, *, seed: int) -> pd.DataFrame:
    """Several synthetic series of different levels in long format (tests, M5-style)."""
    pieces = []
    for i in range(n_series):
        one = synthetic_load(start, end, seed=seed + i, level=10_000.0 * (i + 1))
        pieces.append(one.assign(unique_id=f"zone_{i + 1}"))
    return pd.concat(pieces, ignore_index=True)[LONG_COLUMNS]


# --------------------------------------------------------------------------- batch requests


def read_requests(path: Path) -> list[dict[str, Any]]:
    """The forecast requests of ``predict --input``: a CSV with ``hours`` and optionally
    ``start`` (a known instant, local time) and ``series``, one forecast per row; a bad
    value names the file, column and row."""
    raw, _ = tfdata.read_user_csv(path)
    if "hours" not in raw.columns:
        raise DataError(f"{path}: needs a column 'hours' (found {list(raw.columns)[:20]})")
    columns = [tfdata.ColumnSpec("hours", "int")]
    if "start" in raw.columns:
        columns.append(tfdata.ColumnSpec("start", "datetime", nullable=True))
    if "series" in raw.columns:
        columns.append(tfdata.ColumnSpec("series", "str", nullable=True))
    blank_is_missing = raw.astype(object).where(raw.notna(), "")
    parsed = tfdata.parse_columns(blank_is_missing, columns, label=str(path))
    requests = []
    for i in range(len(parsed)):
        start = parsed["start"].iloc[i] if "start" in parsed else None
        series = parsed["series"].iloc[i] if "series" in parsed else None
        requests.append(
            {
                "hours": int(parsed["hours"].iloc[i]),
                "start": None if start is None or pd.isna(start) else pd.Timestamp(start),
                "series": None if series is None or pd.isna(series) else str(series),
            }
        )
    if not requests:
        raise DataError(f"{path}: no requests (the file has a header only)")
    return requests
