"""Datasets: the manifest, where a file comes from, and a schema check on every load.

Resolution order for a dataset's files, each step logged in one line and kept in
:class:`DataSource` (which the tracking module records on the run):

1. ``TENFOLD_DATA_DIR/<dataset>/<file>`` (provided copies, e.g. in CI),
2. the local cache ``data/cache/<dataset>/<file>``,
3. a download from the manifest's URLs (pooch: progress bar, sha256 verified, atomic),
4. the project's synthetic twin (same columns and dtypes), announced in one clear line.

Real files are always checked against the manifest's sha256: a mismatch is an error,
never a silent fallback. CSV files are read as text and parsed column by column so
that a bad value is reported with its file, column and row.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from tenfold import paths
from tenfold.errors import DataError as DataError  # re-exported (older imports)

log = logging.getLogger("tenfold.data")

DType = Literal["int", "float", "str", "bool", "datetime"]
_DTYPES: tuple[DType, ...] = ("int", "float", "str", "bool", "datetime")
# Tokens that mean "no value" in numeric columns. Text columns only treat a blank as
# missing: in some datasets "NA" is a real category (Ames: "no garage").
NUMERIC_MISSING = frozenset({"", "NA", "N/A", "NaN", "nan", "null", "NULL", "None"})
_TRUE = frozenset({"true", "yes", "y", "1", "t"})
_FALSE = frozenset({"false", "no", "n", "0", "f"})


# --------------------------------------------------------------------------- manifest


@dataclass(frozen=True)
class ColumnSpec:
    name: str
    dtype: DType
    nullable: bool = False

    @classmethod
    def parse(cls, name: str, spec: str) -> ColumnSpec:
        """``"float?"`` is a nullable float; ``"str"`` a required text column."""
        nullable = spec.endswith("?")
        dtype = spec.rstrip("?")
        if dtype not in _DTYPES:
            raise DataError(f"column {name!r}: unknown dtype {spec!r}; use one of {_DTYPES}")
        return cls(name=name, dtype=dtype, nullable=nullable)


@dataclass(frozen=True)
class FileSpec:
    name: str
    sha256: str
    urls: tuple[str, ...] = ()
    columns: tuple[ColumnSpec, ...] = ()
    rows: int | None = None
    sep: str = ","
    header: bool = True
    encoding: str = "utf-8"
    datetime_format: str | None = None

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    licence: str
    homepage: str
    files: Mapping[str, FileSpec]

    def file(self, name: str) -> FileSpec:
        try:
            return self.files[name]
        except KeyError:
            raise DataError(
                f"dataset {self.name!r} has no file {name!r}; manifest lists {sorted(self.files)}"
            ) from None


@dataclass(frozen=True)
class Manifest:
    datasets: Mapping[str, DatasetSpec]
    path: Path

    @classmethod
    def load(cls, path: Path | None = None) -> Manifest:
        path = path or paths.manifest_path()
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise DataError(f"dataset manifest not found at {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise DataError(f"{path}: invalid TOML: {exc}") from None
        datasets = {
            name: _parse_dataset(name, body, path) for name, body in raw.get("datasets", {}).items()
        }
        return cls(datasets=datasets, path=path)

    def __getitem__(self, name: str) -> DatasetSpec:
        try:
            return self.datasets[name]
        except KeyError:
            raise DataError(
                f"unknown dataset {name!r}; {self.path} lists {sorted(self.datasets)}"
            ) from None


def _parse_dataset(name: str, body: Mapping[str, object], path: Path) -> DatasetSpec:
    files: dict[str, FileSpec] = {}
    raw_files = body.get("files", {})
    if not isinstance(raw_files, Mapping):
        raise DataError(f"{path}: datasets.{name}.files must be a table")
    for fname, fbody in raw_files.items():
        if "sha256" not in fbody:
            raise DataError(f"{path}: datasets.{name}.files.{fname!r} has no sha256")
        columns = tuple(ColumnSpec.parse(c, s) for c, s in fbody.get("columns", {}).items())
        files[fname] = FileSpec(
            name=fname,
            sha256=str(fbody["sha256"]).lower(),
            urls=tuple(fbody.get("urls", ())),
            columns=columns,
            rows=fbody.get("rows"),
            sep=fbody.get("sep", ","),
            header=bool(fbody.get("header", True)),
            encoding=fbody.get("encoding", "utf-8"),
            datetime_format=fbody.get("datetime_format"),
        )
    return DatasetSpec(
        name=name,
        title=str(body.get("title", name)),
        licence=str(body.get("licence", "unknown")),
        homepage=str(body.get("homepage", "")),
        files=files,
    )


# --------------------------------------------------------------------------- provenance


_Origin = Literal["data_dir", "cache", "download", "synthetic", "user_file", "lake"]


@dataclass(frozen=True)
class DataSource:
    """Where a dataset came from; recorded on every MLflow run."""

    dataset: str
    kind: Literal["real", "synthetic"]
    origin: _Origin
    paths: Mapping[str, str] = field(default_factory=dict)
    sha256: Mapping[str, str] = field(default_factory=dict)
    steps: tuple[str, ...] = ()

    @property
    def is_real(self) -> bool:
        return self.kind == "real"

    def as_tags(self) -> dict[str, str]:
        tags = {
            "data.dataset": self.dataset,
            "data.kind": self.kind,
            "data.origin": self.origin,
        }
        for name, digest in sorted(self.sha256.items()):
            tags[f"data.sha256.{name}"] = digest
        return tags

    def summary(self) -> dict[str, Any]:
        """What every project's metrics.json says of its data first."""
        return {"dataset": self.dataset, "kind": self.kind, "sha256": dict(self.sha256)}

    def describe(self) -> str:
        return "\n".join(self.steps)


@dataclass(frozen=True)
class Loaded:
    """Frames keyed by file name, and where they came from."""

    frames: Mapping[str, pd.DataFrame]
    source: DataSource

    @property
    def frame(self) -> pd.DataFrame:
        if len(self.frames) != 1:
            raise ValueError(f"{len(self.frames)} frames loaded; pick one of {list(self.frames)}")
        return next(iter(self.frames.values()))


def sha256_file(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, spec: FileSpec, where: str) -> str:
    actual = sha256_file(path)
    if actual != spec.sha256:
        raise DataError(
            f"{path}: sha256 mismatch for {spec.name} from {where}: expected {spec.sha256}, "
            f"got {actual}. The file is corrupt or a different version; delete it or fix "
            "the manifest."
        )
    return actual


# --------------------------------------------------------------------------- resolution


@dataclass(frozen=True)
class Resolved:
    """Real copies of the requested files, or none (``source`` is None) with the steps tried."""

    paths: Mapping[str, Path]
    steps: tuple[str, ...]
    source: DataSource | None = None

    @property
    def found(self) -> bool:
        return self.source is not None


def resolve(
    dataset: str,
    files: Sequence[str] | None = None,
    *,
    manifest: Manifest | None = None,
    data_dir: Path | None = None,
    cache_dir: Path | None = None,
    download: bool | None = None,
    progress: bool = True,
) -> Resolved:
    """Find real copies of ``files`` (default: all of the dataset's files).

    ``download`` defaults to on unless ``TENFOLD_OFFLINE`` is set. Every step appends one
    line to the returned source's ``steps`` and to the ``tenfold.data`` log.
    """
    manifest = manifest or Manifest.load()
    spec = manifest[dataset]
    names = list(files) if files is not None else list(spec.files)
    file_specs = [spec.file(n) for n in names]
    steps: list[str] = []

    def step(message: str) -> None:
        steps.append(message)
        log.info(message)

    def found(located: Mapping[str, Path], origin: _Origin, digests: Mapping[str, str]) -> Resolved:
        source = DataSource(
            dataset=dataset,
            kind="real",
            origin=origin,
            paths={k: str(v) for k, v in located.items()},
            sha256=dict(digests),
            steps=tuple(steps),
        )
        return Resolved(paths=dict(located), steps=tuple(steps), source=source)

    def not_found() -> Resolved:
        return Resolved(paths={}, steps=tuple(steps))

    data_dir = data_dir if data_dir is not None else paths.data_dir()
    if data_dir is not None:
        in_dir = {f.name: _find_in_data_dir(data_dir, dataset, f.name) for f in file_specs}
        if all(p is not None for p in in_dir.values()):
            located = {k: p for k, p in in_dir.items() if p is not None}
            digests = {f.name: _verify(located[f.name], f, "TENFOLD_DATA_DIR") for f in file_specs}
            step(f"data: {dataset} found in TENFOLD_DATA_DIR ({data_dir}), sha256 verified")
            return found(located, "data_dir", digests)
        missing = [k for k, p in in_dir.items() if p is None]
        step(f"data: {dataset} not in TENFOLD_DATA_DIR ({data_dir}): missing {missing}")
    else:
        step("data: TENFOLD_DATA_DIR not set")

    cache = (cache_dir or paths.cache_dir()) / dataset
    cached = {f.name: cache / f.name for f in file_specs}
    if all(p.is_file() for p in cached.values()):
        digests = {f.name: _verify(cached[f.name], f, "the cache") for f in file_specs}
        step(f"data: {dataset} found in cache ({cache}), sha256 verified")
        return found(cached, "cache", digests)
    step(f"data: {dataset} not in cache ({cache})")

    if download is None:
        download = not os.environ.get("TENFOLD_OFFLINE")
    if not download:
        step("data: download disabled (TENFOLD_OFFLINE is set)")
        return not_found()
    digests = {}
    for f in file_specs:
        target = cached[f.name]
        if target.is_file():
            digests[f.name] = _verify(target, f, "the cache")
            continue
        if not f.urls:
            step(f"data: {dataset}/{f.name} has no download URL in the manifest")
            return not_found()
        error = _download_first(f, target, progress=progress)
        if error is not None:
            step(f"data: download of {dataset}/{f.name} failed ({error})")
            return not_found()
        digests[f.name] = f.sha256
    step(f"data: {dataset} downloaded to {cache}, sha256 verified")
    return found(cached, "download", digests)


def _find_in_data_dir(root: Path, dataset: str, name: str) -> Path | None:
    for candidate in (root / dataset / name, root / name):
        if candidate.is_file():
            return candidate
    return None


def _download_first(spec: FileSpec, target: Path, *, progress: bool) -> str | None:
    """Try each URL in order. Returns None on success, else the last network error.

    A checksum mismatch raises instead of trying the next mirror: the manifest pins
    exact bytes, so different bytes are a problem to look at, not to route around.
    """
    last_error = "no URL"
    for url in spec.urls:
        try:
            download(url, target, expected_sha256=spec.sha256, progress=progress)
            return None
        except OSError as exc:  # requests' errors (HTTP status, connection, timeout) are
            last_error = f"{url}: {exc}"
    return last_error


def download(
    url: str,
    target: Path,
    *,
    expected_sha256: str,
    progress: bool = True,
    timeout: float = 20.0,
) -> Path:
    """Download ``url`` into ``target`` with pooch, verifying its sha256.

    pooch streams the bytes to a temporary file beside the target and moves it into place
    only once the digest matches, so a failed or mismatched download leaves nothing
    behind. A network failure raises an ``OSError`` (requests' errors are ones).
    """
    import pooch

    pooch.get_logger().setLevel(logging.WARNING)  # our own log line says what happened
    downloader = pooch.HTTPDownloader(
        progressbar=_RichBar(f"downloading {target.name}") if progress else False,
        timeout=timeout,
        headers={"User-Agent": "tenfold-data/0.1"},
    )
    try:
        pooch.retrieve(
            url,
            known_hash=f"sha256:{expected_sha256}",
            fname=target.name,
            path=target.parent,
            downloader=downloader,
        )
    except ValueError as exc:  # pooch's hash mismatch
        found = re.search(r"but got ([0-9a-f]{64})", str(exc))
        actual = found.group(1) if found else "other bytes"
        raise DataError(
            f"{url}: sha256 mismatch for {target.name}: expected {expected_sha256}, got "
            f"{actual}. Nothing was written; the mirror may have changed the file."
        ) from None
    return target


class _RichBar:
    """pooch's progress-bar protocol (``total``, ``update``, ``reset``, ``close``) drawn
    by rich on stderr, like every other progress bar of the CLIs."""

    def __init__(self, description: str) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        self._bar = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            transient=True,
        )
        self._task = self._bar.add_task(description, total=None, start=False)
        self._bar.start()

    @property
    def total(self) -> float | None:
        return self._bar.tasks[0].total

    @total.setter
    def total(self, value: float) -> None:
        self._bar.update(self._task, total=value or None)
        self._bar.start_task(self._task)

    def update(self, n: float) -> None:
        self._bar.advance(self._task, n)

    def reset(self) -> None:
        self._bar.reset(self._task, total=self.total)

    def close(self) -> None:
        self._bar.stop()


# --------------------------------------------------------------------------- reading


def read_table(path: Path, spec: FileSpec, *, label: str | None = None) -> pd.DataFrame:
    """Read a manifest file and parse each of its columns with a clear error."""
    return read_csv_checked(
        path,
        spec.columns,
        label=label,
        sep=spec.sep,
        header=spec.header,
        encoding=spec.encoding,
        datetime_format=spec.datetime_format,
    )


def read_csv_checked(
    path: Path,
    columns: Sequence[ColumnSpec],
    *,
    label: str | None = None,
    sep: str = ",",
    header: bool = True,
    encoding: str = "utf-8",
    datetime_format: str | None = None,
) -> pd.DataFrame:
    """Read a delimited file as text, then check and convert ``columns``."""
    label = label or str(path)
    if not path.is_file():
        raise DataError(f"{label}: no such file")
    try:
        raw = pd.read_csv(
            path,
            sep=sep,
            header=0 if header else None,
            names=None if header else [c.name for c in columns],
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{label}: cannot read as a table: {exc}") from None
    return parse_columns(raw, columns, label=label, datetime_format=datetime_format)


def parse_columns(
    raw: pd.DataFrame,
    columns: Sequence[ColumnSpec],
    *,
    label: str,
    datetime_format: str | None = None,
) -> pd.DataFrame:
    """Check that ``columns`` exist and convert text values to their dtypes.

    Extra columns are kept as they are. Row numbers in messages count data rows from 1
    (the header is not a row), which is the line number minus one for simple CSVs.
    """
    missing = [c.name for c in columns if c.name not in raw.columns]
    if missing:
        raise DataError(f"{label}: missing column(s) {missing}; found {list(raw.columns)[:30]}")
    frame = raw.copy()
    for col in columns:
        frame[col.name] = _parse_column(raw[col.name], col, label, datetime_format)
    return frame


def _parse_column(
    values: pd.Series, col: ColumnSpec, label: str, datetime_format: str | None
) -> pd.Series:
    text = values.astype(str).str.strip()
    if col.dtype == "str":
        blank = text == ""
        parsed: pd.Series = values.where(~blank, np.nan)
    else:
        blank = text.isin(NUMERIC_MISSING) if col.dtype in ("int", "float") else text == ""
        if col.dtype in ("int", "float"):
            parsed = pd.to_numeric(text.where(~blank), errors="coerce")
            bad = parsed.isna() & ~blank
            if col.dtype == "int":
                bad |= ~blank & parsed.notna() & (parsed % 1 != 0)
        elif col.dtype == "bool":
            lowered = text.str.lower()
            parsed = lowered.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
            bad = parsed.isna() & ~blank
        else:
            parsed = pd.to_datetime(text.where(~blank), format=datetime_format, errors="coerce")
            bad = parsed.isna() & ~blank
        _raise_first(bad, values, col, label, f"cannot parse as {col.dtype}")
        if col.dtype == "int" and not blank.any():
            parsed = parsed.astype("int64")
        elif col.dtype == "bool" and not blank.any():
            parsed = parsed.astype(bool)
    if not col.nullable:
        _raise_first(blank, values, col, label, "value is missing but the column is required")
    return parsed


def _raise_first(
    mask: pd.Series, values: pd.Series, col: ColumnSpec, label: str, problem: str
) -> None:
    if not mask.any():
        return
    positions = np.flatnonzero(mask.to_numpy())
    first = int(positions[0])
    more = f" ({len(positions) - 1} more row(s) like it)" if len(positions) > 1 else ""
    raise DataError(
        f"{label}: column {col.name!r}, row {first + 1}: {problem}: {values.iloc[first]!r}{more}"
    )


def check_frame(frame: pd.DataFrame, columns: Sequence[ColumnSpec], *, label: str) -> None:
    """Check an in-memory frame (a synthetic twin, a request batch) against a schema."""
    missing = [c.name for c in columns if c.name not in frame.columns]
    if missing:
        raise DataError(f"{label}: missing column(s) {missing}")
    for col in columns:
        series = frame[col.name]
        kind = series.dtype.kind
        ok = {
            "int": kind in "iu" or (col.nullable and kind == "f"),
            "float": kind in "fiu",
            "str": kind == "O" or isinstance(series.dtype, pd.StringDtype),
            "bool": kind == "b" or (col.nullable and kind == "O"),
            "datetime": kind == "M",
        }[col.dtype]
        if not ok:
            raise DataError(
                f"{label}: column {col.name!r} has dtype {series.dtype}, expected {col.dtype}"
            )
        if not col.nullable and series.isna().any():
            row = int(np.flatnonzero(series.isna().to_numpy())[0]) + 1
            raise DataError(f"{label}: column {col.name!r}, row {row}: missing but required")


# --------------------------------------------------------------------------- loading


def load(
    dataset: str,
    files: Sequence[str],
    *,
    synthetic: Callable[[], Mapping[str, pd.DataFrame]] | None,
    manifest: Manifest | None = None,
    **resolve_options: object,
) -> Loaded:
    """Load and schema-check ``files`` of ``dataset``, or fall back to the synthetic twin.

    ``synthetic`` returns frames with the same columns and dtypes as the parsed real
    files; they are checked against the same schema. Without a twin, a dataset that
    cannot be found is an error.
    """
    manifest = manifest or Manifest.load()
    spec = manifest[dataset]
    resolved = resolve(dataset, files, manifest=manifest, **resolve_options)  # type: ignore[arg-type]
    if resolved.source is not None:
        frames = {
            name: read_table(path, spec.file(name), label=f"{dataset}/{name}")
            for name, path in resolved.paths.items()
        }
        return Loaded(frames, resolved.source)
    if synthetic is None:
        raise DataError(
            f"dataset {dataset!r} is not available: set TENFOLD_DATA_DIR, place the files in "
            f"{paths.cache_dir() / dataset}, or allow the download (see {spec.homepage})"
        )
    frames = dict(synthetic())
    for name in files:
        if name not in frames:
            raise DataError(f"synthetic twin of {dataset} did not produce {name!r}")
        check_frame(frames[name], spec.file(name).columns, label=f"synthetic {dataset}/{name}")
    message = (
        f"data: using the SYNTHETIC twin of {dataset} ({', '.join(files)}): real data not "
        "found; results are illustrative, not comparable with published figures"
    )
    log.warning(message)
    source = DataSource(
        dataset=dataset, kind="synthetic", origin="synthetic", steps=(*resolved.steps, message)
    )
    return Loaded(frames, source)


def load_table(
    dataset: str,
    file: str,
    *,
    synthetic: Callable[[], pd.DataFrame] | None,
    **options: object,
) -> tuple[pd.DataFrame, DataSource]:
    """One file of a dataset: the common case."""
    twin = (lambda: {file: synthetic()}) if synthetic is not None else None
    loaded = load(dataset, [file], synthetic=twin, **options)  # type: ignore[arg-type]
    return loaded.frames[file], loaded.source


def read_user_csv(path: Path) -> tuple[pd.DataFrame, DataSource]:
    """A user's own CSV (``train --data PATH``): pandas' own type inference, checked later.

    Blank cells (including whitespace-only ones) become missing values.
    """
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        frame = pd.read_csv(path, na_values=[" ", ""], skipinitialspace=True)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read as CSV: {exc}") from None
    if frame.empty:
        raise DataError(f"{path}: the file has no data rows")
    digest = sha256_file(path)
    step = f"data: user file {path} ({len(frame)} rows, sha256 {digest[:12]}…)"
    log.info(step)
    source = DataSource(
        dataset=path.stem,
        kind="real",
        origin="user_file",
        paths={path.name: str(path)},
        sha256={path.name: digest},
        steps=(step,),
    )
    return frame, source


# --------------------------------------------------------------------------- chunks

# rows per chunk when a file is read piece by piece (a few tens of MB of text)
CHUNK_ROWS = 100_000
_ROW_IN_MESSAGE = re.compile(r", row (\d+):")


@dataclass(frozen=True)
class Chunk:
    """Consecutive data rows of a file, parsed like :func:`read_csv_checked` does."""

    frame: pd.DataFrame
    first_row: int  # the file's number of its first row (data rows count from 1)
    bytes_read: int  # how far the reader is into the file (for progress)
    total_bytes: int


def iter_csv_checked(
    path: Path,
    columns: Sequence[ColumnSpec],
    *,
    chunk_rows: int = CHUNK_ROWS,
    label: str | None = None,
    sep: str = ",",
    header: bool = True,
    encoding: str = "utf-8",
    datetime_format: str | None = None,
) -> Iterator[Chunk]:
    """:func:`read_csv_checked` for files of any size: ``chunk_rows`` rows at a time,
    each chunk checked and converted; a bad value is reported with the file, the column
    and its row number in the whole file. A file with a header and no rows yields no
    chunk (after its columns are checked)."""
    label = label or str(path)
    if not path.is_file():
        raise DataError(f"{label}: no such file")
    total = path.stat().st_size
    with path.open("rb") as handle:
        try:
            reader = pd.read_csv(
                handle,
                sep=sep,
                header=0 if header else None,
                names=None if header else [c.name for c in columns],
                dtype=str,
                keep_default_na=False,
                encoding=encoding,
                chunksize=chunk_rows,
            )
            first = 1
            for raw in reader:
                frame = _parse_chunk(raw, columns, label, datetime_format, first)
                if len(frame):
                    yield Chunk(frame.reset_index(drop=True), first, handle.tell(), total)
                first += len(raw)
        except (
            pd.errors.ParserError,
            pd.errors.EmptyDataError,
            UnicodeDecodeError,
            ValueError,
        ) as exc:
            raise DataError(f"{label}: cannot read as a table: {exc}") from None


def require_rows(path: Path, *, purpose: str = "to read", sep: str = ",") -> None:
    """One clear error for a file with nothing in it: no bytes, or a header alone."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    try:
        head = pd.read_csv(path, sep=sep, nrows=1, dtype=str)
    except pd.errors.EmptyDataError:
        raise DataError(f"no rows {purpose} in {path}: the file is empty") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{path}: cannot read as a table: {exc}") from None
    if head.empty:
        raise DataError(f"no rows {purpose} in {path}: the file has a header only")


def _parse_chunk(
    raw: pd.DataFrame,
    columns: Sequence[ColumnSpec],
    label: str,
    datetime_format: str | None,
    first_row: int,
) -> pd.DataFrame:
    try:
        return parse_columns(raw, columns, label=label, datetime_format=datetime_format)
    except DataError as exc:
        # parse_columns numbers the rows of the frame it is given: make that the file's
        message = _ROW_IN_MESSAGE.sub(
            lambda m: f", row {int(m[1]) + first_row - 1}:", str(exc), count=1
        )
        raise DataError(message) from None
