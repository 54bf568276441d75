"""Features: the user × item matrix and the movies' content vectors.

- :class:`InteractionMatrix`: users and items as positions of two fixed indexes (the
  item index is the whole catalogue, so an item nobody rated in training still has a
  column and content neighbours), weights in a CSR matrix.
- Content: one text per movie from its metadata ("Toy Story. 1995, 1990s. Animation,
  Children's, Comedy."), embedded by TF-IDF (word uni/bigrams plus genre and decade
  tokens) or by all-MiniLM-L6-v2 sentence embeddings (the opt-in extra, through
  :mod:`tenfold.embeddings`). Rows are L2-normalised, so a dot product is a cosine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

_ARTICLE = re.compile(r"^(?P<rest>.+), (?P<article>The|A|An|Les|La|Le|Il|Das|Der|Die|El)$")
_YEAR = re.compile(r"\s*\(\d{4}\)\s*$")


@dataclass(frozen=True)
class InteractionMatrix:
    """``matrix[u, i]`` = weight of user ``users[u]`` on item ``items[i]``."""

    matrix: sp.csr_matrix
    users: pd.Index
    items: pd.Index

    @classmethod
    def build(
        cls,
        interactions: pd.DataFrame,
        items: pd.Index,
        *,
        users: pd.Index | None = None,
        weights: np.ndarray | None = None,
    ) -> InteractionMatrix:
        """One row per user (``users`` or those in ``interactions``), one column per
        catalogue item; a repeated (user, item) pair keeps its largest weight."""
        users = users if users is not None else pd.Index(pd.unique(interactions["user"]))
        rows = users.get_indexer(pd.Index(interactions["user"]))
        cols = items.get_indexer(pd.Index(interactions["item"]))
        if (rows < 0).any() or (cols < 0).any():
            raise ValueError("interactions name users or items outside the given indexes")
        values = np.ones(len(interactions)) if weights is None else np.asarray(weights, float)
        pairs = pd.DataFrame({"r": rows, "c": cols, "v": values})
        frame = pairs.groupby(["r", "c"], sort=True, as_index=False)["v"].max()
        matrix = sp.csr_matrix(
            (frame["v"].to_numpy(np.float32), (frame["r"], frame["c"])),
            shape=(len(users), len(items)),
        )
        return cls(matrix, users, items)

    def binary(self) -> sp.csr_matrix:
        out = self.matrix.copy()
        out.data[:] = 1.0
        return out

    def item_counts(self) -> np.ndarray:
        """Interactions per item (users who interacted)."""
        return np.asarray((self.matrix > 0).sum(axis=0)).ravel()


def catalogue_index(items: pd.DataFrame, interactions: pd.DataFrame) -> pd.Index:
    """Every item of the catalogue, then any item seen only in the interactions."""
    known = pd.Index(items["item"].astype(str))
    seen = pd.Index(pd.unique(interactions["item"]))
    extra = seen[~seen.isin(known)]
    return known.append(extra) if len(extra) else known


# --------------------------------------------------------------------------- content


def readable_title(title: str) -> str:
    """ "Shawshank Redemption, The (1994)" → "The Shawshank Redemption"."""
    bare = _YEAR.sub("", str(title)).strip()
    match = _ARTICLE.match(bare)
    return f"{match['article']} {match['rest']}" if match else bare


def item_texts(items: pd.DataFrame) -> list[str]:
    """One sentence per movie from title, year, decade and genres."""
    texts = []
    for title, year, genres in zip(items["title"], items["year"], items["genres"], strict=True):
        parts = [readable_title(title) + "."]
        if isinstance(year, float) and not np.isnan(year):
            parts.append(f"{int(year)}, {int(year) // 10 * 10}s.")
        names = [g for g in str(genres).split("|") if g and g != "unknown"]
        if names:
            parts.append(", ".join(names) + ".")
        texts.append(" ".join(parts))
    return texts


def _genre_and_decade_tokens(items: pd.DataFrame) -> list[str]:
    tokens = []
    for year, genres in zip(items["year"], items["genres"], strict=True):
        words = [
            "genre_" + re.sub(r"\W", "", g).lower() for g in str(genres).split("|") if g.strip()
        ]
        if isinstance(year, float) and not np.isnan(year):
            words.append(f"decade_{int(year) // 10 * 10}")
        tokens.append(" ".join(words))
    return tokens


def tfidf_content(items: pd.DataFrame, *, title_weight: float = 0.5) -> sp.csr_matrix:
    """L2-normalised TF-IDF rows: genre and decade tokens, plus title words and bigrams
    weighted by ``title_weight`` (titles share few words; genres carry most of the taste).

    Fitted on the catalogue alone (no interactions), so it leaks nothing from test.
    """
    tags = TfidfVectorizer(token_pattern=r"\S+", lowercase=False).fit_transform(
        _genre_and_decade_tokens(items)
    )
    titles = [readable_title(t) for t in items["title"]]
    blocks = [normalize(tags)]
    try:
        words = TfidfVectorizer(
            ngram_range=(1, 2), min_df=2, stop_words="english", sublinear_tf=True
        ).fit_transform(titles)
        blocks.append(title_weight * normalize(words))
    except ValueError:  # a tiny catalogue with no title word shared by two movies
        pass
    return normalize(sp.hstack(blocks).tocsr())


def minilm_content(items: pd.DataFrame) -> np.ndarray:
    """all-MiniLM-L6-v2 embeddings of :func:`item_texts` (unit length, 384 floats).

    Needs the opt-in extra (``make nlp-deep``); raises
    :class:`tenfold.embeddings.DenseUnavailable` without it.
    """
    import hashlib

    from tenfold import paths
    from tenfold.embeddings import encode, vectors_identity

    texts = item_texts(items)
    # a run, the reproducibility test and CI's next job re-read the vectors instead of
    # spending minutes of CPU: keyed by the weights, torch's kernels and the texts
    key = hashlib.sha256(
        (vectors_identity() + "\n" + "\n".join(texts)).encode("utf-8")
    ).hexdigest()[:24]
    cached = paths.cache_dir() / "embeddings" / f"recsys-minilm-{key}.npy"
    if cached.is_file():
        stored: np.ndarray = np.load(cached, allow_pickle=False)
        if stored.shape[0] == len(texts):
            return stored
    vectors = encode(texts, max_seq_length=64, batch_size=64)
    cached.parent.mkdir(parents=True, exist_ok=True)
    partial = cached.with_name(f".{cached.stem}.part.npy")
    np.save(partial, vectors)
    partial.replace(cached)
    return vectors
