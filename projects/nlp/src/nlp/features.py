"""Text features: the article text step, TF-IDF n-grams, sentence embeddings, and the
token contributions that explain a TF-IDF decision.

Every step is a scikit-learn transformer inside the Pipeline (``text`` → ``features`` →
``model``), so cross-validation refits all of it per fold. The sentence embedder learns
nothing; it records which weights it was fitted with and refuses any others later.
torch and sentence-transformers are imported only when an embedding is computed: the
TF-IDF path runs without them.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import CountVectorizer, TfidfTransformer, TfidfVectorizer
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.utils.validation import check_is_fitted

from nlp.config import NlpConfig
from tenfold import paths

# the encoder (verified weights, offline load) lives in the library, shared with recsys;
# its names stay importable from here
from tenfold.embeddings import DEEP_HINT as DEEP_HINT
from tenfold.embeddings import ENCODE_LOCK as _ENCODE_LOCK
from tenfold.embeddings import EXPECTED_WEIGHTS_SHA256 as EXPECTED_WEIGHTS_SHA256
from tenfold.embeddings import WEIGHTS_PACKAGE as WEIGHTS_PACKAGE
from tenfold.embeddings import DenseUnavailable as DenseUnavailable
from tenfold.embeddings import WeightsError as WeightsError
from tenfold.embeddings import dense_available as dense_available
from tenfold.embeddings import embedding_dimension as embedding_dimension
from tenfold.embeddings import load_encoder as load_encoder
from tenfold.embeddings import vectors_identity
from tenfold.embeddings import verified_weights as verified_weights
from tenfold.embeddings import weights_dir as weights_dir

# --------------------------------------------------------------------------- article text

_SPACE = re.compile(r"\s+")
_WORD = re.compile(r"[a-z0-9]+")


def clean_text(text: str) -> str:
    """NFKC-normalised (so "ﬁ" and "fi", full-width and ASCII digits are one token) with
    whitespace runs collapsed: layout carries no topic."""
    return _SPACE.sub(" ", unicodedata.normalize("NFKC", text)).strip()


def texts_of(X: Any, column: str = "text") -> list[str]:
    """The texts of a DataFrame column, a Series, a sequence of strings or one string."""
    if isinstance(X, pd.DataFrame):
        if column not in X.columns:
            raise ValueError(f"input needs a {column!r} column; found {list(X.columns)}")
        values: Iterable[Any] = X[column].tolist()
    elif isinstance(X, str):
        values = [X]
    elif isinstance(X, pd.Series | np.ndarray):
        values = X.tolist()
    else:
        values = X
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in values]


def _text_input_tags(tags: Any) -> Any:
    """Tags of a step that takes texts (like scikit-learn's vectorizers): strings, not a
    numeric 2-D array."""
    tags.input_tags.string = True
    tags.input_tags.two_d_array = False
    return tags


class ArticleText(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Selects the text column and cleans it; stateless (usable unfitted)."""

    def __init__(self, column: str = "text") -> None:
        self.column = column

    def fit(self, X: Any, y: Any = None) -> ArticleText:
        return self

    def transform(self, X: Any) -> list[str]:
        return [clean_text(t) for t in texts_of(X, self.column)]

    def __sklearn_is_fitted__(self) -> bool:
        return True

    def __sklearn_tags__(self) -> Any:
        tags = _text_input_tags(super().__sklearn_tags__())
        tags.requires_fit = False
        return tags


def near_duplicate_key(text: str) -> str:
    """Lower-cased alphanumeric tokens: BBC News holds ~100 pairs of articles that differ
    only in punctuation or layout, and they must not straddle a train/test split."""
    return " ".join(_WORD.findall(text.lower()))


def near_duplicate_groups(texts: Sequence[str]) -> np.ndarray:
    """One group id per text; near-duplicates share theirs."""
    codes, _ = pd.factorize(pd.Series([near_duplicate_key(t) for t in texts]))
    return np.asarray(codes)


# --------------------------------------------------------------------------- TF-IDF


def tfidf_features(cfg: NlpConfig) -> FeatureUnion:
    """Word n-grams (topic words, names, phrases like "interest rates") and character
    n-grams within word boundaries (inflections, rare names, typos): each block is
    L2-normalised on its own, with sublinear term frequency."""
    return FeatureUnion(
        [
            (
                "word",
                TfidfVectorizer(
                    ngram_range=cfg.word_ngrams,
                    min_df=cfg.min_df,
                    sublinear_tf=True,
                    strip_accents="unicode",
                ),
            ),
            (
                "char",
                TfidfVectorizer(
                    analyzer="char_wb",
                    ngram_range=cfg.char_ngrams,
                    min_df=cfg.min_df,
                    sublinear_tf=True,
                ),
            ),
        ]
    )


class FoldTfidf:
    """Per-fold TF-IDF features from one count of the corpus.

    Fitting ``tfidf_features`` on a fold's training rows means: count n-grams, keep those
    in at least ``min_df`` training documents, take idf from the training rows, apply
    sublinear tf and L2-normalise each block. Counting is what costs (character n-grams);
    it is a per-document function, so it is done once here for all rows and every fold
    only selects and weighs: the same matrices as refitting the vectorizers per fold
    (a test checks), never a statistic of a validation row in its own features.
    """

    def __init__(self, cfg: NlpConfig, texts: Sequence[str]) -> None:
        self.blocks: list[tuple[TfidfVectorizer, Any]] = []
        counting = set(CountVectorizer().get_params())
        for _, vectorizer in tfidf_features(cfg).transformer_list:
            params = {k: v for k, v in vectorizer.get_params().items() if k in counting}
            counter = CountVectorizer(**{**params, "min_df": 1, "dtype": np.int64})
            self.blocks.append((vectorizer, counter.fit_transform(texts).tocsr()))

    def fold(self, train_rows: np.ndarray, valid_rows: np.ndarray) -> tuple[Any, Any]:
        """(training, validation) features of one fold, fitted on ``train_rows`` only."""
        train_parts, valid_parts = [], []
        for vectorizer, counts in self.blocks:
            train = counts[train_rows]
            train.sum_duplicates()
            train.eliminate_zeros()
            min_docs = vectorizer.min_df
            if isinstance(min_docs, float):
                min_docs = min_docs * len(train_rows)
            frequency = np.bincount(train.indices, minlength=train.shape[1])
            keep = np.flatnonzero(frequency >= min_docs)
            weigh = TfidfTransformer(
                norm=vectorizer.norm,
                use_idf=vectorizer.use_idf,
                smooth_idf=vectorizer.smooth_idf,
                sublinear_tf=vectorizer.sublinear_tf,
            ).fit(train[:, keep])
            train_parts.append(weigh.transform(train[:, keep]))
            valid_parts.append(weigh.transform(counts[valid_rows][:, keep]))
        return sp.hstack(train_parts).tocsr(), sp.hstack(valid_parts).tocsr()


@dataclass(frozen=True)
class TokenWeight:
    """One n-gram's share of a decision: tf-idf value × the class's coefficient."""

    token: str
    kind: Literal["word", "char"]
    weight: float

    @property
    def readable(self) -> str:
        # char n-grams keep their boundary spaces; show them
        return self.token if self.kind == "word" else repr(self.token)


class TokenExplainer:
    """Per-document token contributions of a fitted TF-IDF pipeline.

    For a linear model the score of class k is ``b_k + Σ_j x_j · w_kj``; the terms
    ``x_j · w_kj`` of the document's non-zero tf-idf values are exactly what drove it.
    Feature names are computed once (they are ~200k strings).
    """

    def __init__(self, pipeline: Pipeline) -> None:
        model = pipeline.named_steps["model"]
        coef = np.asarray(model.coef_, dtype=float)
        if coef.shape[0] == 1:  # binary: one row for the positive class
            coef = np.vstack([-coef, coef])
        self.coef = coef
        self.classes = [str(c) for c in model.classes_]
        names = pipeline.named_steps["features"].get_feature_names_out()
        self.kinds = np.array([n.split("__", 1)[0] for n in names])
        self.tokens = np.array([n.split("__", 1)[1] for n in names], dtype=object)

    def contributions(
        self, features: Any, row: int, toward: str, against: str | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(feature indices, contributions) of one row of the features matrix, toward
        class ``toward`` (minus class ``against``: what tipped one over the other)."""
        x = features.getrow(row)
        weights = self.coef[self.classes.index(toward), x.indices]
        if against is not None:
            weights = weights - self.coef[self.classes.index(against), x.indices]
        return x.indices, x.data * weights

    def top(
        self,
        features: Any,
        row: int,
        toward: str,
        *,
        against: str | None = None,
        k: int = 8,
        kind: Literal["word", "char"] | None = None,
    ) -> list[TokenWeight]:
        """The ``k`` largest positive contributions, optionally of one n-gram kind."""
        indices, contrib = self.contributions(features, row, toward, against)
        if kind is not None:
            keep = self.kinds[indices] == kind
            indices, contrib = indices[keep], contrib[keep]
        # ties broken by feature index, so the order is stable
        order = np.lexsort((indices, -contrib))[:k]
        return [
            TokenWeight(str(self.tokens[indices[i]]), self.kinds[indices[i]], float(contrib[i]))
            for i in order
            if contrib[i] > 0
        ]

    def top_terms(self, class_name: str, k: int = 10) -> list[tuple[str, float]]:
        """The class's largest word-n-gram coefficients (a global view of the model)."""
        coef = self.coef[self.classes.index(class_name)]
        words = np.flatnonzero(self.kinds == "word")
        order = words[np.lexsort((words, -coef[words]))][:k]
        return [(str(self.tokens[i]), float(coef[i])) for i in order]


# --------------------------------------------------------------------------- embeddings


class EmbeddingCache:
    """Embeddings by (weights, max length, text sha256): each article is embedded once
    however many folds, trials and reports use it.

    With a ``folder`` the vectors also persist there (one ``.npz`` per weights and max
    length), so a second run, the reproducibility test or CI's next job re-reads them
    instead of spending minutes of CPU. The key holds the weights' sha256, so other
    weights never see these vectors.
    """

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = folder
        self._vectors: dict[tuple[str, int, str], np.ndarray] = {}
        self._on_disk: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._vectors)

    def get(self, key: tuple[str, int, str]) -> np.ndarray | None:
        self._load(key[0], key[1])
        return self._vectors.get(key)

    def put(self, key: tuple[str, int, str], vector: np.ndarray) -> None:
        with self._lock:
            self._vectors.setdefault(key, vector)

    def file_for(self, weights_sha256: str, max_seq_length: int) -> Path | None:
        if self.folder is None:
            return None
        return self.folder / f"all-minilm-l6-v2-{weights_sha256[:16]}-{max_seq_length}.npz"

    def _load(self, sha: str, length: int) -> None:
        path = self.file_for(sha, length)
        if path is None or (sha, length) in self._on_disk:
            return
        with self._lock:
            self._on_disk.add((sha, length))
            if not path.is_file():
                return
            try:
                with np.load(path, allow_pickle=False) as stored:
                    keys, vectors = stored["keys"], stored["vectors"]
            except (OSError, ValueError, KeyError):  # a damaged cache is recomputed
                return
            for text_key, vector in zip(keys.tolist(), vectors, strict=True):
                self._vectors.setdefault((sha, length, str(text_key)), vector)

    def save(self, sha: str, length: int) -> Path | None:
        """Write this (weights, length)'s vectors to the folder (atomically)."""
        path = self.file_for(sha, length)
        if path is None:
            return None
        with self._lock:
            items = sorted((k[2], v) for k, v in self._vectors.items() if k[:2] == (sha, length))
        if not items:
            return None
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.stem}.part.npz")
        np.savez(
            partial,
            keys=np.array([k for k, _ in items]),
            vectors=np.vstack([v for _, v in items]).astype(np.float32),
        )
        partial.replace(path)
        return path


_ACTIVE_CACHES: list[EmbeddingCache] = []


def embedding_cache_dir() -> Path:
    """Where embeddings persist: the data cache (git-ignored), beside the datasets."""
    return paths.cache_dir() / "embeddings"


@contextlib.contextmanager
def embedding_cache(persist: bool = True) -> Iterator[EmbeddingCache]:
    """Cache embeddings inside the block (training, evaluation), on disk too unless
    ``persist`` is false. Serving runs without one: a service must not grow with every
    text it is sent, nor look faster than it is."""
    if _ACTIVE_CACHES:  # nested (train inside run): one cache for the whole run
        yield _ACTIVE_CACHES[-1]
        return
    cache = EmbeddingCache(embedding_cache_dir() if persist else None)
    _ACTIVE_CACHES.append(cache)
    try:
        yield cache
    finally:
        _ACTIVE_CACHES.remove(cache)


def _text_key(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


Progress = Callable[[int, int], None]


class SentenceEmbedder(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """all-MiniLM-L6-v2 sentence embeddings (384 floats, unit length, mean pooling).

    Texts longer than ``max_seq_length`` word pieces are truncated. ``fit`` learns
    nothing from the data; it records the weights' sha256, and ``transform`` refuses to
    run with any other weights.
    """

    def __init__(self, max_seq_length: int = 256, batch_size: int = 32) -> None:
        self.max_seq_length = max_seq_length
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEmbedder:
        encoder = load_encoder(self.max_seq_length)
        self.weights_sha256_ = verified_weights(weights_dir())
        self.embedding_dim_ = embedding_dimension(encoder)
        return self

    def transform(self, X: Any) -> np.ndarray:
        check_is_fitted(self, "weights_sha256_")
        if verified_weights(weights_dir()) != self.weights_sha256_:  # pragma: no cover
            raise WeightsError("the installed weights differ from those this model was fitted with")
        return self.embed(texts_of(X))

    def __sklearn_tags__(self) -> Any:
        return _text_input_tags(super().__sklearn_tags__())

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> np.ndarray:
        """Embeddings of ``texts``; with an active cache, each distinct text once.

        Missing texts are encoded in first-seen order, so a run always builds the same
        batches and gets the same floats.
        """
        cache = _ACTIVE_CACHES[-1] if _ACTIVE_CACHES else None
        if cache is None:
            return self._encode(list(texts), progress)
        sha = vectors_identity()
        keys = [(sha, self.max_seq_length, _text_key(t)) for t in texts]
        todo: dict[tuple[str, int, str], str] = {}
        for key, text in zip(keys, texts, strict=True):
            if cache.get(key) is None:
                todo.setdefault(key, text)
        if todo:
            vectors = self._encode(list(todo.values()), progress)
            for key, vector in zip(todo, vectors, strict=True):
                cache.put(key, vector)
            cache.save(sha, self.max_seq_length)
        elif progress is not None:
            progress(len(texts), len(texts))
        cached = [cache.get(key) for key in keys]
        return np.vstack([v for v in cached if v is not None]).astype(np.float32, copy=False)

    def _encode(self, texts: list[str], progress: Progress | None, chunk: int = 256) -> np.ndarray:
        encoder = load_encoder(self.max_seq_length)
        parts = []
        for start in range(0, len(texts), chunk):
            block = texts[start : start + chunk]
            # one forward pass at a time: torch already spreads one over every core, and
            # concurrent requests (the API's thread pool) would only thrash the threads
            with _ENCODE_LOCK:
                parts.append(
                    encoder.encode(
                        block,
                        batch_size=self.batch_size,
                        show_progress_bar=False,
                        convert_to_numpy=True,
                        normalize_embeddings=True,
                    )
                )
            if progress is not None:
                progress(start + len(block), len(texts))
        if not parts:
            return np.zeros((0, embedding_dimension(encoder)), dtype=np.float32)
        return np.vstack(parts).astype(np.float32, copy=False)
