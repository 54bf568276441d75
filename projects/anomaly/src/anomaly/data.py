"""The only module of the anomaly project that reads files.

- :func:`load`: everything a run reads (NAB, C-MAPSS, NAB's published results), with one
  :class:`~tenfold.data.DataSource` for the run to record;
- :func:`load_nab`: the seven realKnownCause series of the Numenta Anomaly Benchmark with
  their label windows and NAB's profiles, or a synthetic twin (seasonal sensor series
  with injected anomalies and NAB-style windows) when the real files cannot be found;
- :func:`load_cmapss`: C-MAPSS FD001 run-to-failure engines, or their synthetic twin;
- :func:`read_sensor_csv`: any sensor CSV for ``detect``;
- :func:`read_nab_results`: a folder of NAB-format detector outputs for ``nab-score``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from anomaly import nab
from anomaly.config import AnomalyConfig
from tenfold import data as tfdata
from tenfold.errors import DataError

log = logging.getLogger("anomaly.data")

NAB_SERIES = (
    "ambient_temperature_system_failure.csv",
    "cpu_utilization_asg_misconfiguration.csv",
    "ec2_request_latency_system_failure.csv",
    "machine_temperature_system_failure.csv",
    "nyc_taxi.csv",
    "rogue_agent_key_hold.csv",
    "rogue_agent_key_updown.csv",
)
WINDOWS_FILE = "labels/combined_windows.json"
PROFILES_FILE = "config/profiles.json"
THRESHOLDS_FILE = "config/thresholds.json"
CMAPSS_COLUMNS = (
    "unit",
    "cycle",
    "setting_1",
    "setting_2",
    "setting_3",
    *(f"sensor_{i}" for i in range(1, 22)),
)


@dataclass(frozen=True)
class Series:
    """One labelled series: row times, values (rows × variables), label windows."""

    name: str
    timestamps: np.ndarray
    values: np.ndarray
    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]

    @property
    def n_rows(self) -> int:
        return len(self.timestamps)

    def layout(self, probation_fraction: float = nab.PROBATION_FRACTION) -> nab.Layout:
        rows = nab.window_rows(self.timestamps, self.windows)
        return nab.layout(self.n_rows, rows, probation_fraction=probation_fraction)


@dataclass(frozen=True)
class Corpus:
    """A NAB category: its series, NAB's profiles, and where they came from."""

    category: str
    series: Mapping[str, Series]
    profiles: Mapping[str, nab.Profile]
    source: tfdata.DataSource

    @property
    def n_windows(self) -> int:
        return sum(len(s.windows) for s in self.series.values())


@dataclass(frozen=True)
class AnomalyData:
    """What a run reads: the NAB category, C-MAPSS FD001 (unless ``run_cmapss`` is off),
    NAB's published detectors with their thresholds (real data only), and one source
    naming every file's sha256 (what MLflow records and ``evaluate`` checks)."""

    corpus: Corpus
    cmapss: Cmapss | None
    source: tfdata.DataSource
    published: Mapping[str, Published] = field(default_factory=dict)
    published_thresholds: Mapping[str, float] = field(default_factory=dict)


def load(cfg: AnomalyConfig) -> AnomalyData:
    """The NAB category and C-MAPSS (each real, or its synthetic twin), and NAB's
    published detectors on the category when the real files are there."""
    corpus = load_nab(cfg)
    cmapss = load_cmapss(cfg) if cfg.run_cmapss else None
    published: dict[str, Published] = {}
    thresholds: dict[str, float] = {}
    if corpus.source.is_real:
        nab_thresholds_ = nab_thresholds(cfg)
        for detector in PUBLISHED_DETECTORS:
            found = load_published(cfg, detector)
            if found is not None:
                published[detector] = found
                thresholds[detector] = float(nab_thresholds_[detector][cfg.profile]["threshold"])
    return AnomalyData(corpus, cmapss, combined_source(corpus, cmapss), published, thresholds)


def combined_source(corpus: Corpus, cmapss: Cmapss | None) -> tfdata.DataSource:
    """One source for the run: NAB's (its kind decides where reports go and which model
    name is registered), with C-MAPSS's files beside NAB's under ``<dataset>/<file>``."""
    nab_source = corpus.source
    if cmapss is None:
        return nab_source
    other = cmapss.source
    return dataclasses.replace(
        nab_source,
        dataset=f"{nab_source.dataset}+{other.dataset}",
        paths={
            **{f"{nab_source.dataset}/{k}": v for k, v in nab_source.paths.items()},
            **{f"{other.dataset}/{k}": v for k, v in other.paths.items()},
        },
        sha256={
            **{f"{nab_source.dataset}/{k}": v for k, v in nab_source.sha256.items()},
            **{f"{other.dataset}/{k}": v for k, v in other.sha256.items()},
        },
        steps=(*nab_source.steps, *other.steps),
    )


def load_nab(cfg: AnomalyConfig) -> Corpus:
    files = [f"{cfg.category}/{name}" for name in NAB_SERIES]
    loaded = tfdata.load(
        cfg.nab_dataset,
        files,
        synthetic=lambda: {k: v.frame for k, v in synthetic_corpus(cfg).items()},
    )
    if not loaded.source.is_real:
        twins = synthetic_corpus(cfg)
        series = {
            name: Series(name, twin.frame["timestamp"].to_numpy(), twin.values(), twin.windows)
            for name, twin in ((k.split("/", 1)[1], v) for k, v in twins.items())
        }
        return Corpus(cfg.category, series, nab.PROFILES, loaded.source)
    labels = nab_label_windows(cfg)
    raw_profiles: dict[str, dict[str, dict[str, float]]] = _nab_json(cfg, PROFILES_FILE)  # type: ignore[assignment]
    profiles = {
        name: nab.Profile.from_cost_matrix(name, body["CostMatrix"])
        for name, body in raw_profiles.items()
    }
    series = {}
    for key, frame in loaded.frames.items():
        name = key.split("/", 1)[1]
        windows = tuple((pd.Timestamp(s), pd.Timestamp(e)) for s, e in labels.get(key, []))
        series[name] = Series(
            name,
            frame["timestamp"].to_numpy(),
            frame["value"].to_numpy(dtype=float).reshape(-1, 1),
            windows,
        )
    return Corpus(cfg.category, series, profiles, loaded.source)


def _nab_json(cfg: AnomalyConfig, file: str) -> dict[str, object]:
    resolved = tfdata.resolve(cfg.nab_dataset, [file])
    if not resolved.found:
        raise DataError(f"{cfg.nab_dataset}/{file} not found: " + "; ".join(resolved.steps))
    parsed: dict[str, object] = json.loads(resolved.paths[file].read_text(encoding="utf-8"))
    return parsed


def nab_label_windows(cfg: AnomalyConfig) -> dict[str, list[list[str]]]:
    """NAB's label windows by ``"<category>/<file>"`` (for ``nab-score``)."""
    return _nab_json(cfg, WINDOWS_FILE)  # type: ignore[return-value]


def nab_thresholds(cfg: AnomalyConfig) -> dict[str, dict[str, dict[str, float]]]:
    return _nab_json(cfg, THRESHOLDS_FILE)  # type: ignore[return-value]


def nab_profiles(cfg: AnomalyConfig) -> dict[str, nab.Profile]:
    """NAB's profiles from its config file when it can be found, else the same built-in."""
    resolved = tfdata.resolve(cfg.nab_dataset, [PROFILES_FILE], download=False, progress=False)
    if not resolved.found:
        return dict(nab.PROFILES)
    raw = json.loads(resolved.paths[PROFILES_FILE].read_text(encoding="utf-8"))
    return {k: nab.Profile.from_cost_matrix(k, v["CostMatrix"]) for k, v in raw.items()}


# --------------------------------------------------------------------------- synthetic NAB


@dataclass(frozen=True)
class Twin:
    frame: pd.DataFrame
    windows: tuple[tuple[pd.Timestamp, pd.Timestamp], ...]

    def values(self) -> np.ndarray:
        return self.frame["value"].to_numpy(dtype=float).reshape(-1, 1)


ANOMALY_KINDS = ("spike", "level_shift", "noise_burst", "flatline", "dip")


def synthetic_series(n_rows: int, seed: int, *, n_anomalies: int = 2, step: str = "5min") -> Twin:
    """A sensor with a daily cycle, slow drift and noise, and ``n_anomalies`` injected
    anomalies (spike, level shift, noise burst, flatline, dip) after the probationary
    15 %; each gets a NAB-style window (10 % of the series shared between the anomalies,
    centred on it)."""
    rng = np.random.default_rng(seed)
    times = pd.date_range("2024-01-01", periods=n_rows, freq=step)
    per_day = int(pd.Timedelta("1D") / pd.Timedelta(step))
    t = np.arange(n_rows)
    values = 50 + 10 * np.sin(2 * np.pi * t / per_day) + 0.002 * t + rng.normal(0, 1.0, n_rows)
    width = max(4, int(0.1 * n_rows / max(1, n_anomalies)))
    first = nab.probation_length(n_rows) + width
    centres = np.linspace(first, n_rows - width, n_anomalies).astype(int)
    windows = []
    for k, centre in enumerate(centres):
        kind = ANOMALY_KINDS[(seed + k) % len(ANOMALY_KINDS)]
        span = slice(centre, min(n_rows, centre + max(3, width // 6)))
        if kind == "spike":
            values[centre] += 15
        elif kind == "level_shift":
            values[centre:] += 12
        elif kind == "noise_burst":
            values[span] += rng.normal(0, 8, span.stop - span.start)
        elif kind == "flatline":
            values[span] = values[centre]
        else:
            values[span] -= 20
        left = max(0, centre - width // 2)
        right = min(n_rows - 1, centre + width // 2)
        windows.append((times[left], times[right]))
    frame = pd.DataFrame({"timestamp": times, "value": np.round(values, 4)})
    return Twin(frame, tuple(windows))


def synthetic_corpus(cfg: AnomalyConfig) -> dict[str, Twin]:
    """One twin per NAB file name (same columns and dtypes), seeded from the one seed."""
    return {
        f"{cfg.category}/{name}": synthetic_series(
            cfg.synthetic_rows, cfg.seed + i, n_anomalies=1 + i % 3
        )
        for i, name in enumerate(NAB_SERIES)
    }


# --------------------------------------------------------------------------- C-MAPSS


@dataclass(frozen=True)
class Cmapss:
    """FD001: run-to-failure training engines, truncated test engines with their true
    remaining life at the last cycle."""

    train: pd.DataFrame
    test: pd.DataFrame
    test_rul: np.ndarray
    source: tfdata.DataSource


def load_cmapss(cfg: AnomalyConfig) -> Cmapss:
    files = ["train_FD001.txt", "test_FD001.txt", "RUL_FD001.txt"]
    loaded = tfdata.load(cfg.cmapss_dataset, files, synthetic=lambda: synthetic_cmapss(cfg.seed))
    frames = loaded.frames
    return Cmapss(
        frames["train_FD001.txt"],
        frames["test_FD001.txt"],
        frames["RUL_FD001.txt"]["remaining_cycles"].to_numpy(),
        loaded.source,
    )


def synthetic_cmapss(seed: int, n_engines: int = 40) -> dict[str, pd.DataFrame]:
    """Engines whose health index decays exponentially to failure; informative sensors
    follow it with noise, the others are constant. Same columns as FD001."""
    rng = np.random.default_rng(seed)
    informative = {2, 3, 4, 7, 8, 9, 11, 12, 13, 14, 15, 17, 20, 21}

    def engines(count: int, truncate: bool) -> tuple[pd.DataFrame, list[int]]:
        rows, remaining = [], []
        for unit in range(1, count + 1):
            life = int(rng.integers(130, 300))
            cycles = int(rng.integers(40, life - 5)) if truncate else life
            remaining.append(life - cycles)
            c = np.arange(1, cycles + 1)
            wear = np.exp((c - life) / (0.2 * life))  # ~0 early, 1 at failure
            block = {"unit": np.full(cycles, unit), "cycle": c}
            for k in range(1, 4):
                block[f"setting_{k}"] = np.round(rng.normal(0, 0.002, cycles), 4)
            for s in range(1, 22):
                direction = 1 if s % 2 else -1
                signal = direction * 3 * wear if s in informative else 0.0
                block[f"sensor_{s}"] = np.round(100 + s + signal + rng.normal(0, 0.5, cycles), 4)
            rows.append(pd.DataFrame(block))
        return pd.concat(rows, ignore_index=True), remaining

    train, _ = engines(n_engines, truncate=False)
    test, rul = engines(n_engines, truncate=True)
    return {
        "train_FD001.txt": train,
        "test_FD001.txt": test,
        "RUL_FD001.txt": pd.DataFrame({"remaining_cycles": np.asarray(rul, dtype=np.int64)}),
    }


# --------------------------------------------------------------------------- user files


@dataclass(frozen=True)
class SensorFile:
    timestamps: np.ndarray
    values: np.ndarray  # rows × variables
    value_columns: tuple[str, ...]
    source: tfdata.DataSource
    filled: int  # missing readings carried forward


def read_sensor_csv(path: Path, time_column: str, value_columns: Sequence[str]) -> SensorFile:
    """A user's sensor CSV: a time column and one or more numeric value columns, in the
    order the readings arrived. A missing reading takes the last one before it; text that
    is not a number is an error naming column and row."""
    frame, source = tfdata.read_user_csv(path)
    if not value_columns:
        raise DataError(f"{path}: give at least one --value-col")
    missing = [c for c in (time_column, *value_columns) if c not in frame.columns]
    if missing:
        raise DataError(
            f"{path}: column(s) {missing} not in the file; it has {list(frame.columns)}"
        )
    if time_column in value_columns:
        raise DataError(f"{path}: {time_column!r} is the time column, not a value column")
    columns = [tfdata.ColumnSpec(time_column, "datetime")]
    columns += [tfdata.ColumnSpec(c, "float", nullable=True) for c in value_columns]
    text = frame.astype(str).where(frame.notna(), "")
    parsed = tfdata.parse_columns(text, columns, label=str(path))
    values = parsed[list(value_columns)].astype(float)
    if values.iloc[0].isna().any():
        first = values.columns[values.iloc[0].isna().to_numpy()][0]
        raise DataError(f"{path}: column {first!r}, row 1: the first reading is missing")
    filled = int(values.isna().sum().sum())
    if len(values) < 10:
        raise DataError(f"{path}: {len(values)} rows; a detector needs at least 10")
    return SensorFile(
        parsed[time_column].to_numpy(),
        values.ffill().to_numpy(),
        tuple(value_columns),
        source,
        filled,
    )


def read_nab_results(folder: Path, known: Mapping[str, object]) -> dict[str, pd.DataFrame]:
    """NAB-format detector outputs below ``folder`` (columns ``timestamp`` and
    ``anomaly_score``), keyed by the NAB series they score (``<category>/<file>`` in
    ``known``, the label file's keys). NAB names them ``<detector>_<file>`` inside a
    category folder; a plain ``<file>`` works too. Score summaries (``*_scores.csv``)
    are skipped."""
    if not folder.is_dir():
        raise DataError(f"{folder}: not a folder of detector results")
    by_file: dict[str, list[str]] = {}
    for key in known:
        by_file.setdefault(key.rsplit("/", 1)[-1], []).append(key)
    found: dict[str, pd.DataFrame] = {}
    for path in sorted(folder.rglob("*.csv")):
        if path.name.endswith("_scores.csv"):
            continue
        series_key = _series_key(path, folder, by_file)
        if series_key is None:
            raise DataError(
                f"{path}: no NAB series of that name in the labels (expected "
                "'<detector>_<series>.csv' or '<series>.csv', e.g. numenta_nyc_taxi.csv)"
            )
        frame = tfdata.read_csv_checked(
            path,
            [
                tfdata.ColumnSpec("timestamp", "datetime"),
                tfdata.ColumnSpec("anomaly_score", "float"),
            ],
        )
        found[series_key] = frame
    if not found:
        raise DataError(f"{folder}: no detector result CSVs found")
    return found


def _series_key(path: Path, root: Path, by_file: Mapping[str, list[str]]) -> str | None:
    name = path.name
    candidates = [name] + [name.split("_", k)[-1] for k in range(1, name.count("_") + 1)]
    category = path.parent.name if path.parent != root else None
    for candidate in candidates:
        keys = by_file.get(candidate, [])
        if category is not None:
            keys = [k for k in keys if k.startswith(f"{category}/")] or keys
        if len(keys) == 1:
            return keys[0]
    return None


# --------------------------------------------------------------------------- published


PUBLISHED_DETECTORS = ("numenta", "windowedGaussian")


@dataclass(frozen=True)
class Published:
    """A published NAB detector on the category: its outputs and NAB's per-file scores."""

    detector: str
    outputs: Mapping[str, pd.DataFrame]  # series file name -> timestamp, anomaly_score
    scores: pd.DataFrame  # NAB's *_standard_scores.csv rows of the category


def load_published(cfg: AnomalyConfig, detector: str) -> Published | None:
    """NAB's published outputs of ``detector`` (None when they cannot be found)."""
    outputs = [f"results/{detector}/{cfg.category}/{detector}_{name}" for name in NAB_SERIES]
    summary = f"results/{detector}/{detector}_standard_scores.csv"
    resolved = tfdata.resolve(cfg.nab_dataset, [*outputs, summary], progress=False)
    if not resolved.found:
        return None
    frames = {
        name: pd.read_csv(resolved.paths[path], usecols=["timestamp", "anomaly_score"])
        for name, path in zip(NAB_SERIES, outputs, strict=True)
    }
    scores = pd.read_csv(resolved.paths[summary])
    scores = scores[scores["File"].astype(str).str.startswith(f"{cfg.category}/")]
    return Published(detector, frames, scores.reset_index(drop=True))
