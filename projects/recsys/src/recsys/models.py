"""The recommenders, behind one small interface.

Each is fitted on an :class:`~recsys.features.InteractionMatrix` and scores every
catalogue item for given users (rows of that matrix); :func:`top_k` turns scores into
ranked lists without the items a user already has. Libraries do the fitting:
implicit (ALS, BPR), cornac (EASE), scikit-surprise (SVD on the ratings); popularity,
content profiles and the hybrid blend are a few lines of numpy on top.

Each model's ``random_state`` is the config's seed; everything runs on one thread
(BLAS included, see :func:`single_threaded`), so the same data gives the same lists.
"""

from __future__ import annotations

import contextlib
import functools
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.features import InteractionMatrix


class Recommender(Protocol):
    name: str

    def fit(self, data: InteractionMatrix, ratings: pd.DataFrame | None = None) -> Any: ...

    def score(self, rows: np.ndarray) -> np.ndarray:
        """Scores (len(rows) × n_items) of the users at ``rows`` of the fitted matrix."""
        ...


@contextlib.contextmanager
def single_threaded() -> Iterator[None]:
    """One BLAS thread: implicit asks for it, and it makes float sums machine-independent."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1):
        yield


def top_k(
    scores: np.ndarray, seen: sp.csr_matrix | None, k: int, *, allowed: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best items per row (positions, scores), best first, without the items
    ``seen`` marks (a CSR matrix whose rows match ``scores``') and, when given, only
    among ``allowed`` items. Ties go to the lower item position (stable)."""
    scores = np.array(scores, dtype=np.float64, copy=True)
    if seen is not None and seen.nnz:
        rows, cols = seen.nonzero()
        scores[rows, cols] = -np.inf
    if allowed is not None:
        scores[:, ~allowed] = -np.inf
    k = min(k, scores.shape[1])
    if k < scores.shape[1]:
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        part = _lowest_positions_at_the_cut(scores, part, k)
    else:
        part = np.tile(np.arange(scores.shape[1]), (scores.shape[0], 1))
    picked = np.take_along_axis(scores, part, axis=1)
    # sort by score, then by item position (a deterministic tie-break)
    order = np.lexsort((part, -picked), axis=1)
    items = np.take_along_axis(part, order, axis=1)
    values = np.take_along_axis(picked, order, axis=1)
    return items, values


def _lowest_positions_at_the_cut(scores: np.ndarray, part: np.ndarray, k: int) -> np.ndarray:
    """``argpartition`` keeps *some* of the items tied with the k-th score: where more
    are tied than fit, keep the lowest positions (the stable order), so a top-k list
    never depends on the selection algorithm and is the prefix of every longer one."""
    cut = np.take_along_axis(scores, part, axis=1).min(axis=1)
    tied = (scores == cut[:, None]).sum(axis=1)
    kept = (np.take_along_axis(scores, part, axis=1) == cut[:, None]).sum(axis=1)
    for row in np.flatnonzero(tied > kept):
        above = np.flatnonzero(scores[row] > cut[row])
        at_cut = np.flatnonzero(scores[row] == cut[row])[: k - len(above)]
        part[row] = np.concatenate([above, at_cut])
    return part


def scores_in_batches(
    model: Recommender, rows: np.ndarray, batch: int = 2048
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(rows, scores)`` for a large number of users, a block at a time (memory)."""
    for start in range(0, len(rows), batch):
        block = rows[start : start + batch]
        yield block, model.score(block)


# --------------------------------------------------------------------------- baselines


@dataclass
class Popularity:
    """Items by how many users interacted with them in training."""

    name: str = "popularity"
    counts_: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def fit(self, data: InteractionMatrix, ratings: pd.DataFrame | None = None) -> Popularity:
        self.counts_ = data.item_counts().astype(np.float64)
        return self

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.tile(self.counts_, (len(rows), 1))


# --------------------------------------------------------------------------- implicit


class _ImplicitFactors:
    """An implicit model fitted on binary interactions; scores are factor dot products."""

    user_factors_: np.ndarray
    item_factors_: np.ndarray
    # scored in float64: float32 products differ in their last bits between BLAS kernels
    # (AVX-512 or AVX2), enough to swap two near-tied items on another machine
    dtype: ClassVar[type[np.floating[Any]]] = np.float64

    def _model(self) -> Any:
        raise NotImplementedError

    def fit(self, data: InteractionMatrix, ratings: pd.DataFrame | None = None) -> Any:
        with single_threaded():
            model = self._model()
            model.fit(data.binary(), show_progress=False)
        self.user_factors_ = np.asarray(model.user_factors, dtype=self.dtype)
        self.item_factors_ = np.asarray(model.item_factors, dtype=self.dtype)
        return self

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.user_factors_[rows] @ self.item_factors_.T)


@dataclass
class ImplicitALS(_ImplicitFactors):
    """implicit's ALS on binary interactions with confidence 1 + alpha (Hu et al. 2008),
    each least-squares step solved exactly (Cholesky) in float64.

    implicit's default (three conjugate-gradient steps from the last iterate, float32)
    amplifies the last-bit differences between BLAS kernels over the iterations: the same
    seed gave item factors 0.1 % apart on OpenBLAS's AVX-512 and AVX2 kernels, enough to
    move validation P@10 and so the tuning. The exact float64 solve keeps the two within
    1e-13 (2-10x slower to fit, seconds on MovieLens-100k).
    """

    factors: int = 32
    regularization: float = 0.1
    alpha: float = 2.0
    iterations: int = 15
    random_state: int = 42
    name: str = "als"

    def _model(self) -> Any:
        from implicit.cpu.als import AlternatingLeastSquares

        return AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=1,
            dtype=self.dtype,
            use_cg=False,
        )


@dataclass
class ImplicitBPR(_ImplicitFactors):
    """implicit's Bayesian personalised ranking (Rendle et al. 2009), item bias included."""

    factors: int = 64
    learning_rate: float = 0.01
    regularization: float = 0.01
    iterations: int = 100
    random_state: int = 42
    name: str = "bpr"

    def _model(self) -> Any:
        from implicit.cpu.bpr import BayesianPersonalizedRanking

        return BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=1,
        )


# --------------------------------------------------------------------------- cornac


def cornac_dataset(coo: sp.coo_matrix, seed: int) -> Any:
    """A cornac Dataset of a user × item matrix, every user and catalogue item at its own
    position as cornac's index, so cornac's outputs come back in catalogue order (an item
    nobody has gets a zero row and column)."""
    import cornac

    n_users, n_items = coo.shape
    return cornac.data.Dataset(
        num_users=n_users,
        num_items=n_items,
        uid_map={str(u): u for u in range(n_users)},
        iid_map={str(i): i for i in range(n_items)},
        uir_tuple=(
            coo.row.astype(np.int64),
            coo.col.astype(np.int64),
            coo.data.astype(np.float64),
        ),
        seed=seed,
    )


@dataclass
class EASE:
    """cornac's EASE (Steck 2019): a closed-form item-item model, ``B`` = the ridge
    regression of every item on all others with a zero diagonal; ``score = x_u · B``.
    The matrix it learns is kept in our item order, so any user's history can be scored
    at request time (a row times ``B``)."""

    lamb: float = 500.0
    positive_only: bool = False
    random_state: int = 42
    name: str = "ease"

    def fit(self, data: InteractionMatrix, ratings: pd.DataFrame | None = None) -> EASE:
        import cornac

        binary = data.binary().tocoo()
        train_set = cornac_dataset(binary, self.random_state)
        model = cornac.models.EASE(
            lamb=self.lamb, posB=self.positive_only, verbose=False, seed=self.random_state
        )
        with single_threaded():
            model.fit(train_set)
        B = np.asarray(model.B, dtype=np.float32)
        self.B_ = B
        self.history_ = data.binary()
        return self

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.history_[rows] @ self.B_)


# --------------------------------------------------------------------------- surprise


@contextlib.contextmanager
def surprise_home() -> Iterator[None]:
    """Importing scikit-surprise creates ``~/.surprise_data`` unless told elsewhere."""
    folder = os.environ.get("SURPRISE_DATA_FOLDER")
    if folder is None:
        os.environ["SURPRISE_DATA_FOLDER"] = str(Path(tempfile.gettempdir()) / "surprise_data")
    yield


@dataclass
class SurpriseSVD:
    """scikit-surprise's SVD (Funk-style, biased) fitted on the explicit ratings; items
    are ranked by predicted rating, the recommenders benchmark's rating-based baseline."""

    n_factors: int = 100
    n_epochs: int = 20
    lr_all: float = 0.005
    reg_all: float = 0.02
    random_state: int = 42
    name: str = "svd"

    def fit(self, data: InteractionMatrix, ratings: pd.DataFrame | None = None) -> SurpriseSVD:
        if ratings is None:
            raise ValueError("SVD needs the ratings")
        with surprise_home():
            from surprise import SVD, Dataset, Reader

        scale = (float(ratings["rating"].min()), float(ratings["rating"].max()))
        reader = Reader(rating_scale=scale if scale[0] < scale[1] else (0.0, 1.0))
        frame = pd.DataFrame(
            {
                "u": data.users.get_indexer(pd.Index(ratings["user"])),
                "i": data.items.get_indexer(pd.Index(ratings["item"])),
                "r": ratings["rating"].to_numpy(),
            }
        )
        trainset = Dataset.load_from_df(frame, reader).build_full_trainset()
        algo = SVD(
            n_factors=self.n_factors,
            n_epochs=self.n_epochs,
            lr_all=self.lr_all,
            reg_all=self.reg_all,
            random_state=self.random_state,
        )
        algo.fit(trainset)
        n_users, n_items = data.matrix.shape
        users = np.array([trainset.to_raw_uid(u) for u in range(trainset.n_users)], dtype=np.int64)
        items = np.array([trainset.to_raw_iid(i) for i in range(trainset.n_items)], dtype=np.int64)
        self.user_factors_ = np.zeros((n_users, self.n_factors), dtype=np.float64)
        self.user_bias_ = np.zeros(n_users, dtype=np.float64)
        self.item_factors_ = np.zeros((n_items, self.n_factors), dtype=np.float64)
        # an item nobody rated in training gets no bias and no factors: last in line
        self.item_bias_ = np.full(n_items, -np.inf, dtype=np.float64)
        self.user_factors_[users] = algo.pu
        self.user_bias_[users] = algo.bu
        self.item_factors_[items] = algo.qi
        self.item_bias_[items] = algo.bi
        self.global_mean_ = float(trainset.global_mean)
        return self

    def score(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(
            self.global_mean_
            + self.user_bias_[rows, None]
            + self.item_bias_[None, :]
            + self.user_factors_[rows] @ self.item_factors_.T
        )


# --------------------------------------------------------------------------- content


@dataclass
class ContentProfile:
    """Content-based: a user's profile is the sum of the vectors of the items they have
    (weighted by how much more than their own average they liked them, when there are
    ratings), and an item's score is its cosine with that profile."""

    vectors: Any  # n_items × d, rows unit length (dense or sparse)
    name: str = "content"
    use_ratings: bool = True

    def fit(self, data: InteractionMatrix, ratings: pd.DataFrame | None = None) -> ContentProfile:
        weights = data.matrix.tocsr(copy=True).astype(np.float64)
        if self.use_ratings and ratings is not None:
            # centre each user's weights on their mean, floor at a small positive value
            # so a disliked item pulls less, never away
            means = np.asarray(weights.sum(axis=1)).ravel() / np.maximum(weights.getnnz(axis=1), 1)
            weights.data = np.maximum(
                weights.data - np.repeat(means, np.diff(weights.indptr)) + 1.0, 0.1
            )
        else:
            weights.data[:] = 1.0
        profiles = weights @ self.vectors
        profiles = np.asarray(profiles.todense() if sp.issparse(profiles) else profiles)
        norms = np.linalg.norm(profiles, axis=1, keepdims=True)
        self.profiles_ = np.asarray(profiles / np.maximum(norms, 1e-12), dtype=np.float64)
        return self

    @functools.cached_property
    def _scoring_vectors(self) -> Any:
        """The item vectors in float64 (converted once, not per scored block), as the factor
        models score: a float32 product's last bits depend on the BLAS kernel."""
        return self.vectors if sp.issparse(self.vectors) else np.asarray(self.vectors, np.float64)

    def score(self, rows: np.ndarray) -> np.ndarray:
        scores = self._scoring_vectors @ self.profiles_[rows].T
        return np.asarray(scores).T


def standardised(scores: np.ndarray) -> np.ndarray:
    """Per-row z-scores over the finite entries (−inf stays −inf): scores of different
    models become comparable before they are blended."""
    finite = np.isfinite(scores)
    safe = np.where(finite, scores, np.nan).astype(np.float64, copy=False)
    mean = np.nanmean(safe, axis=1, keepdims=True)
    std = np.nanstd(safe, axis=1, keepdims=True)
    out = (safe - mean) / np.where(std > 0, std, 1.0)
    return np.where(finite, out, -np.inf)


@dataclass
class Hybrid:
    """A weighted blend of models' per-user z-scores, e.g. 0.6 · EASE + 0.2 · ALS +
    0.2 · content; the weights (summing to 1) are tuned on validation."""

    components: list[tuple[Any, float]]
    name: str = "hybrid"

    def fit(self, data: InteractionMatrix, ratings: pd.DataFrame | None = None) -> Hybrid:
        for model, _ in self.components:
            model.fit(data, ratings)
        return self

    def score(self, rows: np.ndarray) -> np.ndarray:
        total: np.ndarray | None = None
        for model, weight in self.components:
            if weight == 0:
                continue
            part = weight * standardised(model.score(rows))
            total = part if total is None else total + part
        if total is None:
            raise ValueError("a hybrid needs one component with a positive weight")
        return total


# --------------------------------------------------------------------------- item similarity


def item_similarity(data: InteractionMatrix, content: Any, *, content_weight: float) -> np.ndarray:
    """Item × item similarity for "similar items": the cosine of the items' columns of
    the interaction matrix (who watched both) blended with the content cosine. An item
    nobody has interacted with has a zero collaborative column, so its neighbours are
    its content neighbours: the new-item cold start."""
    from sklearn.preprocessing import normalize

    columns = normalize(data.binary().T.tocsr())
    collaborative = np.asarray((columns @ columns.T).todense(), dtype=np.float32)
    similar = content @ content.T
    similar = np.asarray(similar.todense() if sp.issparse(similar) else similar, dtype=np.float32)
    counts = data.item_counts()
    w = np.where(counts > 0, content_weight, 1.0).astype(np.float32)[:, None]
    blended = (1 - w) * collaborative + w * similar
    np.fill_diagonal(blended, -np.inf)
    return np.asarray(blended)
