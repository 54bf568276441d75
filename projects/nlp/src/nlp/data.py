"""The only module of the nlp project that reads files.

``load`` returns the BBC News frame (``category``, ``text``), or a user's own labelled
text CSV, together with where it came from. Resolution is tenfold's (data dir → cache →
download → synthetic twin) with one BBC-specific step: no host serves the exact CSV, so
when downloads are allowed it is assembled into the cache from an archive of the
original per-article files, and accepted only if its sha256 matches the manifest.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import logging
import os
import re
import tarfile
import tempfile
import tomllib
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from nlp.config import NlpConfig
from tenfold import data as tfdata
from tenfold import paths

log = logging.getLogger("nlp.data")

# bbc/<category>/<NNN>.txt anywhere inside an archive (the mirror nests it one level down)
_ARTICLE = re.compile(r"(?:^|/)bbc/([a-z]+)/(\d{3})\.txt$")


# --------------------------------------------------------------------------- loading


def load(cfg: NlpConfig) -> tuple[pd.DataFrame, tfdata.DataSource]:
    """BBC News (real or the synthetic corpus), or ``cfg.data_path`` when given."""
    if cfg.data_path is not None:
        return read_labelled_csv(cfg.data_path, cfg)
    if not _available(cfg) and not os.environ.get("TENFOLD_OFFLINE"):
        assemble_into_cache(cfg)
    return tfdata.load_table(
        cfg.dataset,
        cfg.data_file,
        synthetic=lambda: make_synthetic(cfg.synthetic_docs, cfg.seed),
    )


def _available(cfg: NlpConfig) -> bool:
    """A real copy where tenfold.data looks first (data dir, then cache); checked quietly,
    tenfold.data logs the resolution itself."""
    places = [paths.cache_dir() / cfg.dataset / cfg.data_file]
    data_dir = paths.data_dir()
    if data_dir is not None:
        places += [data_dir / cfg.dataset / cfg.data_file, data_dir / cfg.data_file]
    return any(p.is_file() for p in places)


def read_labelled_csv(path: Path, cfg: NlpConfig) -> tuple[pd.DataFrame, tfdata.DataSource]:
    """A user's own corpus (``run --data``): a text column and a label column, any others
    ignored. Returned with the BBC column names so every later stage is the same."""
    frame, source = tfdata.read_user_csv(path)
    wanted = (cfg.text_column, cfg.label_column)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise tfdata.DataError(
            f"{path}: missing column(s) {missing}; found {list(frame.columns)[:30]} "
            "(choose them with --text-column / --label-column)"
        )
    # pandas guessed types; labels like 0/1 become text, blanks stay blank
    raw = frame[list(wanted)].astype("string").fillna("").astype(object)
    checked = tfdata.parse_columns(
        raw, [tfdata.ColumnSpec(c, "str") for c in wanted], label=str(path)
    )
    out = pd.DataFrame({"category": checked[cfg.label_column], "text": checked[cfg.text_column]})
    return out, source


def read_articles(path: Path, text_column: str = "text") -> pd.DataFrame:
    """Articles to classify (``predict --input``): a text column, an optional ``id``."""
    columns = [tfdata.ColumnSpec(text_column, "str")]
    return _articles(tfdata.read_csv_checked(path, columns), text_column)


def article_chunks(path: Path, text_column: str = "text") -> Iterator[tfdata.Chunk]:
    """:func:`read_articles` in chunks of rows, for files of any size."""
    columns = [tfdata.ColumnSpec(text_column, "str")]
    for chunk in tfdata.iter_csv_checked(path, columns, chunk_rows=ARTICLES_PER_CHUNK):
        yield dataclasses.replace(chunk, frame=_articles(chunk.frame, text_column))


# articles are long: fewer of them per chunk than table rows
ARTICLES_PER_CHUNK = 10_000


def _articles(frame: pd.DataFrame, text_column: str) -> pd.DataFrame:
    out = pd.DataFrame({"text": frame[text_column]})
    if "id" in frame.columns:
        out.insert(0, "id", frame["id"])
    return out


# --------------------------------------------------------------------------- assembling


def assemble_into_cache(cfg: NlpConfig) -> Path | None:
    """Build ``bbc-text.csv`` in the cache from the first archive that gives the pinned
    bytes. Network failures are logged and leave the cache as it was (the caller falls
    back to the synthetic corpus); different bytes are an error, never used."""
    spec = tfdata.Manifest.load()[cfg.dataset].file(cfg.data_file)
    target = paths.cache_dir() / cfg.dataset / cfg.data_file
    for url in assembly_archives(cfg):
        try:
            with tempfile.TemporaryDirectory(prefix="nlp-bbc-") as tmp:
                archive = Path(tmp) / Path(url.split("?")[0]).name
                _fetch(url, archive)
                assemble(archive, target, expected_sha256=spec.sha256)
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            log.info("data: could not fetch %s (%s)", url, getattr(exc, "reason", exc))
            continue
        log.info("data: %s assembled from %s into %s, sha256 verified", cfg.data_file, url, target)
        return target
    return None


def assembly_archives(cfg: NlpConfig) -> list[str]:
    """The manifest's ``assemble.archives`` for the dataset file, in order."""
    path = paths.manifest_path()
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    entry = raw["datasets"][cfg.dataset]["files"][cfg.data_file]
    return list(entry.get("assemble", {}).get("archives", []))


def _fetch(url: str, target: Path, timeout: float = 30.0) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "tenfold-nlp/0.1"})
    with urllib.request.urlopen(request, timeout=timeout) as response, target.open("wb") as out:
        while chunk := response.read(1 << 16):
            out.write(chunk)


def articles_in(archive: Path) -> Iterator[tuple[str, int, bytes]]:
    """(category, file number, raw bytes) of every ``bbc/<category>/<NNN>.txt``."""
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in zf.namelist():
                if match := _ARTICLE.search(name):
                    yield match[1], int(match[2]), zf.read(name)
        return
    try:
        with tarfile.open(archive) as tf:
            for member in tf:
                match = _ARTICLE.search(member.name)
                fh = tf.extractfile(member) if match and member.isfile() else None
                if match and fh is not None:
                    yield match[1], int(match[2]), fh.read()
    except tarfile.TarError as exc:
        raise tfdata.DataError(f"{archive.name}: neither a zip nor a tar archive ({exc})") from None


def assemble(archive: Path, target: Path, *, expected_sha256: str) -> Path:
    """Write one CSV row per article (category alphabetical, then file number), the text
    exactly as in the file: UTF-8, or Latin-1 for the one file that is not UTF-8."""
    articles = sorted(articles_in(archive))
    if not articles:
        raise tfdata.DataError(f"{archive.name}: no bbc/<category>/<NNN>.txt files inside")
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["category", "text"])
    for category, _, raw in articles:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
        writer.writerow([category, text])
    content = buffer.getvalue().encode("utf-8")
    actual = hashlib.sha256(content).hexdigest()
    if actual != expected_sha256:
        raise tfdata.DataError(
            f"{archive.name}: the assembled {target.name} ({len(articles)} articles) has sha256 "
            f"{actual}, expected {expected_sha256}; not used"
        )
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    partial.write_bytes(content)
    partial.replace(target)
    return target


# --------------------------------------------------------------------------- synthetic


TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "business": (
        "shares", "profit", "market", "bank", "economy", "investors", "sales", "firm",
        "growth", "prices", "deal", "company", "oil", "dollar", "rates", "quarter",
    ),
    "entertainment": (
        "film", "music", "award", "star", "band", "album", "actor", "festival",
        "director", "show", "singer", "oscar", "box", "office", "chart", "comedy",
    ),
    "politics": (
        "minister", "election", "party", "government", "labour", "tory", "vote", "mps",
        "blair", "campaign", "policy", "parliament", "leader", "tax", "bill", "lords",
    ),
    "sport": (
        "match", "team", "win", "coach", "cup", "players", "season", "injury",
        "goal", "championship", "club", "final", "league", "race", "victory", "squad",
    ),
    "tech": (
        "software", "users", "mobile", "internet", "computer", "technology", "digital",
        "phone", "games", "broadband", "online", "network", "virus", "data", "microsoft",
        "gadget",
    ),
}  # fmt: skip
COMMON_WORDS = (
    "the", "said", "year", "new", "people", "last", "also", "would", "told", "first",
    "time", "two", "world", "week", "could", "make", "more", "after", "over", "now",
    "uk", "us", "report", "plans", "next", "months", "expected", "set", "says", "news",
)  # fmt: skip
# BBC's class shares (business 510, entertainment 386, politics 417, sport 511, tech 401)
CLASS_SHARES = {
    "business": 0.229,
    "entertainment": 0.174,
    "politics": 0.187,
    "sport": 0.230,
    "tech": 0.180,
}


def make_synthetic(n_docs: int, seed: int) -> pd.DataFrame:
    """A small generated corpus with BBC's columns and class shares, for smoke runs only.

    Each article has a headline, a blank line and a few paragraphs; a word is drawn from
    its own topic's list (25 %), another topic's (10 %: some articles are ambiguous, as
    real ones are) or common news words. A classifier can learn it, but its numbers say
    nothing about BBC News.
    """
    rng = np.random.default_rng(seed)
    topics = list(CLASS_SHARES)
    labels = rng.choice(topics, size=n_docs, p=list(CLASS_SHARES.values()))
    texts = []
    for label in labels:
        others = [t for t in topics if t != label]

        def word(topic: str = str(label), others: list[str] = others) -> str:
            roll = rng.random()
            if roll < 0.25:
                return str(rng.choice(TOPIC_WORDS[topic]))
            if roll < 0.35:
                return str(rng.choice(TOPIC_WORDS[str(rng.choice(others))]))
            return str(rng.choice(COMMON_WORDS))

        headline = " ".join(word() for _ in range(rng.integers(3, 7))).capitalize()
        paragraphs = []
        for _ in range(rng.integers(2, 5)):
            sentences = [
                " ".join(word() for _ in range(rng.integers(6, 14))).capitalize() + "."
                for _ in range(rng.integers(1, 4))
            ]
            paragraphs.append(" ".join(sentences))
        texts.append(headline + "\n\n" + "\n\n".join(paragraphs) + "\n")
    return pd.DataFrame({"category": labels.astype(object), "text": texts})
