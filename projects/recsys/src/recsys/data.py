"""The only module of the recsys project that reads files.

``load`` returns the interactions (user, item, rating, timestamp, in file order) and the
item catalogue (item, title, year, genres) with where they came from:

- MovieLens 100K through the manifest (``TENFOLD_DATA_DIR`` → cache → GroupLens' zip,
  each extracted file checked against its pinned sha256) or, offline, a synthetic twin
  with user tastes and item popularity, checked against the same schema;
- the other MovieLens releases the manifest knows (``--dataset``), from their zips;
- any interactions file (``--ratings F --user-col C --item-col C ...``), its separator
  detected, with errors that name the file, the column and the row.
"""

from __future__ import annotations

import csv
import io
import logging
import os
import re
import tempfile
import tomllib
import zipfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from recsys.config import RatingsFile, RecsysConfig
from tenfold import data as tfdata
from tenfold import paths

log = logging.getLogger("recsys.data")

GENRES = (
    "unknown",
    "Action",
    "Adventure",
    "Animation",
    "Children's",
    "Comedy",
    "Crime",
    "Documentary",
    "Drama",
    "Fantasy",
    "Film-Noir",
    "Horror",
    "Musical",
    "Mystery",
    "Romance",
    "Sci-Fi",
    "Thriller",
    "War",
    "Western",
)
RATING_COLUMNS = ["user", "item", "rating", "timestamp"]
ITEM_COLUMNS = ["item", "title", "year", "genres"]
SEPARATORS = ("::", "\t", ",", ";", "|")
_YEAR = re.compile(r"\((\d{4})\)\s*$")


@dataclass(frozen=True)
class Interactions:
    """Interactions in file order (the split depends on it) and the item catalogue.

    ``ratings``: ``user`` and ``item`` as text ids, ``rating`` (1.0 when the file has
    none), ``timestamp`` (seconds; 0 when the file has none). ``items``: ``item``,
    ``title``, ``year`` (float, NaN when unknown) and ``genres`` (``|``-joined).
    """

    ratings: pd.DataFrame
    items: pd.DataFrame
    source: tfdata.DataSource
    has_ratings: bool = True
    has_time: bool = True

    @property
    def name(self) -> str:
        return self.source.dataset


def load(cfg: RecsysConfig) -> Interactions:
    if cfg.ratings is not None:
        return read_ratings_file(cfg.ratings)
    if cfg.dataset == "movielens-100k":
        return load_movielens_100k(cfg)
    return load_movielens_archive(cfg.dataset)


# --------------------------------------------------------------------------- MovieLens 100K


def user_chunks(path: Path, chunk_rows: int = 50_000) -> Iterator[tfdata.Chunk]:
    """The users of a ``predict`` input (a ``user_id`` column; others are ignored), in
    chunks of rows, for files of any size."""
    columns = [tfdata.ColumnSpec("user_id", "str")]
    yield from tfdata.iter_csv_checked(path, columns, chunk_rows=chunk_rows)


def load_movielens_100k(cfg: RecsysConfig) -> Interactions:
    files = ["u.data", "u.item"]
    manifest = tfdata.Manifest.load()
    if not tfdata.resolve(cfg.dataset, files, manifest=manifest, download=False).found:
        fetch_archive(cfg.dataset, manifest_entry(cfg.dataset), pinned=manifest[cfg.dataset])
    loaded = tfdata.load(
        cfg.dataset,
        files,
        manifest=manifest,
        synthetic=lambda: make_synthetic(cfg.synthetic_users, cfg.synthetic_items, cfg.seed),
        download=False,
    )
    ratings = loaded.frames["u.data"]
    return Interactions(
        ratings=pd.DataFrame(
            {
                "user": ratings["user_id"].astype(str),
                "item": ratings["item_id"].astype(str),
                "rating": ratings["rating"].astype(np.float64),
                "timestamp": ratings["timestamp"].astype(np.int64),
            }
        ),
        items=movielens_items(loaded.frames["u.item"]),
        source=loaded.source,
    )


def movielens_items(raw: pd.DataFrame) -> pd.DataFrame:
    """u.item's 19 genre flags as one ``|``-joined column; the year from the title."""
    flags = raw[list(GENRES)].to_numpy(dtype=bool)
    names = np.array(GENRES, dtype=object)
    genres = ["|".join(names[row]) for row in flags]
    titles = raw["title"].astype(str)
    return pd.DataFrame(
        {
            "item": raw["item_id"].astype(str),
            "title": titles,
            "year": title_years(titles),
            "genres": genres,
        }
    )


def title_years(titles: pd.Series) -> np.ndarray:
    """The "(1995)" at the end of a MovieLens title, as a float (NaN when absent)."""
    found = titles.str.extract(_YEAR, expand=False)
    return pd.to_numeric(found, errors="coerce").to_numpy(dtype=np.float64)


def manifest_entry(dataset: str) -> Mapping[str, Any]:
    """The raw manifest table of a dataset (its ``archive`` and ``format`` tables are
    read here; tenfold's manifest knows only files)."""
    raw = tomllib.loads(paths.manifest_path().read_text(encoding="utf-8"))
    try:
        entry: Mapping[str, Any] = raw["datasets"][dataset]
    except KeyError:
        raise tfdata.DataError(
            f"unknown dataset {dataset!r}; {paths.manifest_path()} lists "
            f"{sorted(raw.get('datasets', {}))}"
        ) from None
    if "archive" not in entry:
        raise tfdata.DataError(f"dataset {dataset!r} has no archive in the manifest")
    return entry


def fetch_archive(
    dataset: str, entry: Mapping[str, Any], *, pinned: tfdata.DatasetSpec | None = None
) -> Path | None:
    """Download the dataset's zip and extract its members into the cache.

    Members with a pinned sha256 (``pinned``: the manifest's files) are checked before
    they are kept. Returns the cache folder, or None when downloads are disabled or the
    download failed (logged in one line; the caller falls back or reports).
    """
    if os.environ.get("TENFOLD_OFFLINE"):
        return None
    archive = entry["archive"]
    target = paths.cache_dir() / dataset
    with tempfile.TemporaryDirectory() as tmp:
        zipped = Path(tmp) / Path(str(archive["url"])).name
        try:
            _fetch(str(archive["url"]), zipped)
        except OSError as exc:
            log.warning("data: download of %s failed (%s)", archive["url"], exc)
            return None
        extract_members(zipped, dict(archive["members"]), target, pinned=pinned)
    log.info("data: %s extracted from %s into %s", dataset, archive["url"], target)
    return target


def _fetch(url: str, target: Path, timeout: float = 60.0) -> None:
    import urllib.request

    request = urllib.request.Request(url, headers={"User-Agent": "tenfold-data/0.1"})
    with urllib.request.urlopen(request, timeout=timeout) as response, target.open("wb") as out:
        while chunk := response.read(1 << 20):
            out.write(chunk)


def extract_members(
    zipped: Path,
    members: Mapping[str, str],
    target: Path,
    *,
    pinned: tfdata.DatasetSpec | None = None,
) -> dict[str, Path]:
    """``{file name: member path}`` out of ``zipped`` into ``target``, each written
    atomically and, when ``pinned`` lists it, only if its sha256 matches."""
    target.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    try:
        archive = zipfile.ZipFile(zipped)
    except zipfile.BadZipFile as exc:
        raise tfdata.DataError(f"{zipped.name}: not a zip archive ({exc})") from None
    with archive:
        names = set(archive.namelist())
        for name, member in members.items():
            if member not in names:
                raise tfdata.DataError(f"{zipped.name}: no member {member!r} inside")
            payload = archive.read(member)
            if pinned is not None and name in pinned.files:
                import hashlib

                actual = hashlib.sha256(payload).hexdigest()
                expected = pinned.files[name].sha256
                if actual != expected:
                    raise tfdata.DataError(
                        f"{zipped.name}:{member}: sha256 {actual} is not the pinned {expected}; "
                        "nothing was written"
                    )
            partial = target / f".{name}.part"
            partial.write_bytes(payload)
            partial.replace(target / name)
            written[name] = target / name
    return written


# --------------------------------------------------------------------------- other MovieLens


def load_movielens_archive(dataset: str) -> Interactions:
    """ML-1M, ml-latest-small or ML-32M from the cache, else from GroupLens' zip."""
    entry = manifest_entry(dataset)
    fmt = entry.get("format")
    if not isinstance(fmt, Mapping):
        raise tfdata.DataError(f"dataset {dataset!r} has no format table in the manifest")
    members = dict(entry["archive"]["members"])
    ratings_file, items_file = list(members)
    folder = paths.cache_dir() / dataset
    origin: tfdata._Origin = "cache"
    if not all((folder / name).is_file() for name in members):
        if fetch_archive(dataset, entry) is None:
            raise tfdata.DataError(
                f"dataset {dataset!r} is not in {folder} and could not be downloaded from "
                f"{entry['archive']['url']} (see {entry.get('homepage', '')})"
            )
        origin = "download"
    user_col, item_col, rating_col, time_col = fmt["ratings"]
    item_id_col, title_col, genres_col = fmt["items"]
    spec = RatingsFile(
        path=folder / ratings_file,
        user_col=user_col,
        item_col=item_col,
        rating_col=rating_col,
        time_col=time_col,
        items_path=folder / items_file,
        items_id_col=item_id_col,
        title_col=title_col,
        genres_col=genres_col,
    )
    header = bool(fmt.get("header", True))
    names = (list(fmt["ratings"]), list(fmt["items"])) if not header else (None, None)
    loaded = read_ratings_file(
        spec, sep=str(fmt["sep"]), encoding=str(fmt.get("encoding", "utf-8")), names=names
    )
    digests = {name: tfdata.sha256_file(folder / name) for name in members}
    step = (
        f"data: {dataset} from {origin} ({folder}); sha256 recorded, not pinned in the "
        "manifest: " + ", ".join(f"{k} {v[:12]}…" for k, v in digests.items())
    )
    log.info(step)
    source = tfdata.DataSource(
        dataset=dataset,
        kind="real",
        origin=origin,
        paths={k: str(folder / k) for k in members},
        sha256=digests,
        steps=(step,),
    )
    return Interactions(loaded.ratings, loaded.items, source, loaded.has_ratings, loaded.has_time)


# --------------------------------------------------------------------------- any ratings file


def sniff_separator(path: Path, encoding: str = "utf-8") -> str:
    """The separator of a delimited file: the first of ``::``, tab, comma, semicolon and
    pipe that splits every one of the first lines into the same number (> 1) of fields."""
    try:
        with path.open(encoding=encoding, errors="replace") as fh:
            lines = [line.rstrip("\r\n") for _, line in zip(range(20), fh, strict=False)]
    except OSError as exc:
        raise tfdata.DataError(f"{path}: cannot read ({exc})") from None
    lines = [line for line in lines if line.strip()]
    if not lines:
        raise tfdata.DataError(f"{path}: the file is empty")
    for sep in SEPARATORS:
        counts = {len(_split(line, sep)) for line in lines}
        if len(counts) == 1 and counts.pop() > 1:
            return sep
    raise tfdata.DataError(
        f"{path}: cannot tell the separator: no one of {', '.join(map(repr, SEPARATORS))} "
        f"splits the first lines into the same number of columns (first line: {lines[0][:80]!r})"
    )


def _split(line: str, sep: str) -> list[str]:
    if len(sep) > 1:
        return line.split(sep)
    return next(csv.reader(io.StringIO(line), delimiter=sep))


def read_ratings_file(
    spec: RatingsFile,
    *,
    sep: str | None = None,
    encoding: str = "utf-8",
    names: tuple[list[str] | None, list[str] | None] = (None, None),
) -> Interactions:
    """Interactions from any delimited file; ``rating`` and ``timestamp`` optional."""
    path = spec.path
    if not path.is_file():
        raise tfdata.DataError(f"{path}: no such file")
    sep = sep or sniff_separator(path, encoding)
    raw = _read_text_table(path, sep, encoding, names[0])
    wanted = {"--user-col": spec.user_col, "--item-col": spec.item_col}
    if spec.rating_col:
        wanted["--rating-col"] = spec.rating_col
    if spec.time_col:
        wanted["--time-col"] = spec.time_col
    _require_columns(path, raw, wanted, sep)
    columns = [
        tfdata.ColumnSpec(spec.user_col, "str"),
        tfdata.ColumnSpec(spec.item_col, "str"),
    ]
    if spec.rating_col:
        columns.append(tfdata.ColumnSpec(spec.rating_col, "float"))
    parsed = tfdata.parse_columns(raw, columns, label=str(path))
    ratings = pd.DataFrame(
        {
            "user": parsed[spec.user_col].astype(str).str.strip(),
            "item": parsed[spec.item_col].astype(str).str.strip(),
            "rating": (parsed[spec.rating_col].astype(np.float64) if spec.rating_col else 1.0),
            "timestamp": (
                _timestamps(raw[spec.time_col], path, spec.time_col) if spec.time_col else 0
            ),
        }
    )
    ratings["timestamp"] = ratings["timestamp"].astype(np.int64)
    if ratings.empty:
        raise tfdata.DataError(f"{path}: the file has no data rows")
    if spec.items_path is not None:
        items = read_items_file(
            spec, sep=None if names[1] is None else sep, encoding=encoding, names=names[1]
        )
    else:
        ids = pd.unique(ratings["item"])
        items = pd.DataFrame(
            {"item": ids, "title": ids, "year": np.nan, "genres": ""}, columns=ITEM_COLUMNS
        )
    digest = tfdata.sha256_file(path)
    step = f"data: user file {path} ({len(ratings)} interactions, sha256 {digest[:12]}…)"
    log.info(step)
    source = tfdata.DataSource(
        dataset=path.stem,
        kind="real",
        origin="user_file",
        paths={path.name: str(path)},
        sha256={path.name: digest},
        steps=(step,),
    )
    return Interactions(
        ratings,
        items,
        source,
        has_ratings=spec.rating_col is not None,
        has_time=spec.time_col is not None,
    )


def _read_text_table(path: Path, sep: str, encoding: str, names: list[str] | None) -> pd.DataFrame:
    try:
        return pd.read_csv(
            path,
            sep=re.escape(sep) if len(sep) > 1 else sep,
            engine="python" if len(sep) > 1 else "c",
            header=None if names else 0,
            names=names,
            dtype=str,
            keep_default_na=False,
            encoding=encoding,
        )
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise tfdata.DataError(f"{path}: cannot read with separator {sep!r}: {exc}") from None


def _require_columns(path: Path, raw: pd.DataFrame, wanted: Mapping[str, str], sep: str) -> None:
    found = [str(c) for c in raw.columns]
    for option, column in wanted.items():
        if column not in raw.columns:
            raise tfdata.DataError(
                f"{path}: column {column!r} ({option}) not found; read with separator "
                f"{sep!r} the file's columns are {found[:20]}"
            )


def _timestamps(values: pd.Series, path: Path, column: str) -> pd.Series:
    """Unix seconds, or any date/time pandas parses (converted to seconds)."""
    text = values.astype(str).str.strip()
    numeric = pd.to_numeric(text, errors="coerce")
    if numeric.notna().all():
        return numeric.astype(np.int64)
    parsed = pd.to_datetime(text, errors="coerce", utc=True)
    bad = parsed.isna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise tfdata.DataError(
            f"{path}: column {column!r}, row {row + 1}: not a timestamp: {values.iloc[row]!r}"
        )
    return (parsed.astype("int64") // 1_000_000_000).astype(np.int64)


def read_items_file(
    spec: RatingsFile,
    *,
    sep: str | None = None,
    encoding: str = "utf-8",
    names: list[str] | None = None,
) -> pd.DataFrame:
    """An item catalogue: the id column, a title and optional ``|``-separated genres."""
    path = spec.items_path
    assert path is not None
    if not path.is_file():
        raise tfdata.DataError(f"{path}: no such file (--items)")
    sep = sep or sniff_separator(path, encoding)
    raw = _read_text_table(path, sep, encoding, names)
    id_col = spec.items_id_col or spec.item_col
    _require_columns(path, raw, {"item id": id_col, "title": spec.title_col}, sep)
    titles = raw[spec.title_col].astype(str)
    genres_col = spec.genres_col if spec.genres_col in raw.columns else None
    genres = (
        raw[genres_col].astype(str).replace("(no genres listed)", "")
        if genres_col
        else pd.Series([""] * len(raw))
    )
    return pd.DataFrame(
        {
            "item": raw[id_col].astype(str).str.strip(),
            "title": titles,
            "year": title_years(titles),
            "genres": genres.to_numpy(),
        }
    )


# --------------------------------------------------------------------------- synthetic twin


def make_synthetic(n_users: int, n_items: int, seed: int) -> dict[str, pd.DataFrame]:
    """MovieLens-100K-shaped ``u.data`` and ``u.item`` frames with structure to learn.

    Items get one to three genres and a Zipf-like popularity; each user has a taste over
    the genres (a Dirichlet draw) and rates at least 20 items, chosen with probability
    ∝ popularity × exp(3 × taste · genres); the rating grows with the same affinity.
    Timestamps increase over each user's sequence. The numbers are not comparable with
    published ones.
    """
    rng = np.random.default_rng(seed)
    n_genres = len(GENRES) - 1  # no "unknown"
    item_genres = np.zeros((n_items, n_genres), dtype=np.int64)
    for i in range(n_items):
        picks = rng.choice(n_genres, size=int(rng.integers(1, 4)), replace=False)
        item_genres[i, picks] = 1
    popularity = 1.0 / np.arange(1, n_items + 1) ** 0.9
    popularity = popularity[rng.permutation(n_items)]
    tastes = rng.dirichlet(np.full(n_genres, 0.3), size=n_users)
    affinity = tastes @ (item_genres / item_genres.sum(axis=1, keepdims=True)).T
    counts = np.clip(rng.lognormal(3.8, 0.8, n_users).astype(np.int64), 20, n_items // 3)
    users, items, ratings, stamps = [], [], [], []
    start = 874_724_710  # MovieLens 100K's first timestamp (1997-09-20)
    for u in range(n_users):
        weights = popularity * np.exp(3.0 * affinity[u] * n_genres / 3)
        chosen = rng.choice(n_items, size=counts[u], replace=False, p=weights / weights.sum())
        score = affinity[u, chosen] * n_genres + rng.normal(0, 0.6, len(chosen))
        stars = np.clip(np.round(2.5 + score), 1, 5).astype(np.int64)
        times = start + np.cumsum(rng.integers(60, 86_400, len(chosen)))
        users.append(np.full(len(chosen), u + 1))
        items.append(chosen + 1)
        ratings.append(stars)
        stamps.append(times)
    data = pd.DataFrame(
        {
            "user_id": np.concatenate(users),
            "item_id": np.concatenate(items),
            "rating": np.concatenate(ratings),
            "timestamp": np.concatenate(stamps),
        }
    )
    data = data.iloc[rng.permutation(len(data))].reset_index(drop=True)
    years = rng.integers(1930, 1999, n_items)
    item_frame: dict[str, Any] = {
        "item_id": np.arange(1, n_items + 1),
        "title": [f"Synthetic Movie {i + 1:04d} ({years[i]})" for i in range(n_items)],
        "release_date": [f"01-Jan-{y}" for y in years],
        "video_release_date": np.full(n_items, np.nan, dtype=object),
        "imdb_url": np.full(n_items, np.nan, dtype=object),
        "unknown": np.zeros(n_items, dtype=np.int64),
    }
    for g, name in enumerate(GENRES[1:]):
        item_frame[name] = item_genres[:, g]
    frame = pd.DataFrame(item_frame)
    for col in ("title", "release_date"):
        frame[col] = frame[col].astype(object)
    return {"u.data": data, "u.item": frame}
