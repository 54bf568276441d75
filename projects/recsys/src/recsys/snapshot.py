"""What serving needs, computed once at training time: the :class:`Snapshot`.

A snapshot holds, for one model version, the top-N items of every known user (seen
items excluded), the most similar items of every catalogue item, the popularity order
(the cold-start answer) and the titles. :class:`ServingModel` is the registered MLflow
artifact: the snapshot plus the fitted system and the users' histories, so the same
recommendations can also be computed at request time (the latency benchmark's
baseline, and a check that the precomputed lists are what the model says), and the
system's unfitted recipe.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import scipy.sparse as sp

from recsys.features import InteractionMatrix
from recsys.models import Recommender, scores_in_batches, top_k


class Scored(NamedTuple):
    """One recommended item (a tuple: cheap to build, a request makes a hundred)."""

    item: str
    score: float


@dataclass
class Snapshot:
    """Precomputed lists of one model version (positions into ``items``)."""

    users: pd.Index
    items: pd.Index
    titles: np.ndarray  # one per item
    user_top: np.ndarray  # n_users × top_n item positions, −1 = none
    user_scores: np.ndarray  # n_users × top_n
    similar_top: np.ndarray  # n_items × similar_n
    similar_scores: np.ndarray
    popular: np.ndarray  # item positions, most popular first
    popular_counts: np.ndarray

    def for_user(self, user: str) -> list[Scored] | None:
        row = self.users.get_indexer(pd.Index([user]))[0]
        if row < 0:
            return None
        return self._entries(self.user_top[row], self.user_scores[row])

    def similar(self, item: str) -> list[Scored] | None:
        col = self.items.get_indexer(pd.Index([item]))[0]
        if col < 0:
            return None
        return self._entries(self.similar_top[col], self.similar_scores[col])

    def most_popular(self) -> list[Scored]:
        return self._entries(self.popular, self.popular_counts.astype(np.float64))

    def title_map(self) -> dict[str, str]:
        return dict(zip(self.items.astype(str), self.titles.astype(str), strict=True))

    @property
    def item_ids(self) -> np.ndarray:
        """The item ids as a numpy array of str (indexing a pandas Index per element is
        ~100× slower, which the writer of 100,000 lists would feel)."""
        cached: np.ndarray | None = self.__dict__.get("_item_ids")
        if cached is None:
            cached = np.asarray(self.items.astype(str), dtype=object)
            self.__dict__["_item_ids"] = cached
        return cached

    def _entries(self, positions: np.ndarray, scores: np.ndarray) -> list[Scored]:
        keep = positions >= 0
        ids = self.item_ids[positions[keep]]
        return [
            Scored(i, round(s, 6)) for i, s in zip(ids.tolist(), scores[keep].tolist(), strict=True)
        ]

    def top_frame(self, users: pd.Series, k: int) -> pd.DataFrame:
        """Batch: the top ``k`` of every user of ``users`` (one row per user and rank:
        ``user_id, rank, item_id, title, score, cold_start``), whole columns at a time;
        an unknown user gets the most popular items, flagged as a cold start."""
        ids = users.astype(str).to_numpy()
        rows = self.users.get_indexer(pd.Index(ids))
        known = rows >= 0
        width = min(k, self.user_top.shape[1])
        popular = np.full(width, -1, dtype=np.int64)
        popular_scores = np.zeros(width, dtype=np.float64)
        head = min(width, len(self.popular))
        popular[:head] = self.popular[:head]
        popular_scores[:head] = self.popular_counts[:head]
        safe = np.where(known, rows, 0)
        top = np.where(known[:, None], self.user_top[safe, :width], popular[None, :])
        scores = np.where(known[:, None], self.user_scores[safe, :width], popular_scores[None, :])
        positions = top.ravel()
        keep = positions >= 0
        return pd.DataFrame(
            {
                "user_id": np.repeat(ids, width)[keep],
                "rank": np.tile(np.arange(1, width + 1), len(ids))[keep],
                "item_id": self.item_ids[positions[keep]],
                "title": self.titles.astype(str)[positions[keep]],
                "score": np.round(scores.ravel()[keep].astype(np.float64), 6),
                "cold_start": np.repeat(~known, width)[keep],
            }
        )

    def user_rows(self) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
        """(user id, item ids, scores) of every user, for the bulk writer."""
        ids = self.item_ids
        for row, user in enumerate(self.users.astype(str)):
            positions = self.user_top[row]
            keep = positions >= 0
            yield user, ids[positions[keep]], self.user_scores[row][keep]


def precompute_user_lists(
    model: Recommender, data: InteractionMatrix, top_n: int
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``top_n`` unseen items of every user of ``data``, block by block."""
    n_users = data.matrix.shape[0]
    top = np.full((n_users, top_n), -1, dtype=np.int32)
    scores = np.zeros((n_users, top_n), dtype=np.float32)
    seen = data.binary()
    for rows, block in scores_in_batches(model, np.arange(n_users)):
        items, values = top_k(block, seen[rows], top_n)
        finite = np.isfinite(values)
        width = items.shape[1]
        top[rows, :width] = np.where(finite, items, -1)
        scores[rows, :width] = np.where(finite, values, 0.0)
    return top, scores


def precompute_similar(similarity: np.ndarray, similar_n: int) -> tuple[np.ndarray, np.ndarray]:
    items, values = top_k(similarity, None, similar_n)
    finite = np.isfinite(values) & (values > 0)
    return np.where(finite, items, -1).astype(np.int32), np.where(finite, values, 0).astype(
        np.float32
    )


@dataclass
class ServingModel:
    """The registered artifact: the snapshot, what recomputes it per request, and the
    system's recipe (unfitted, its chosen parameters), which evaluation and the
    promotion gate refit on the training part of a split."""

    snapshot: Snapshot
    recommender: Any  # fitted on every interaction
    history: sp.csr_matrix  # users × items, binary: what each user already has
    system: str
    top_n: int
    recipe: Recommender | None = None

    def fresh(self) -> Recommender:
        """The system unfitted (a copy of the recipe: fitting it leaves this one as it is)."""
        if self.recipe is None:
            raise ValueError(f"this {self.system} serving model carries no recipe to refit")
        return copy.deepcopy(self.recipe)

    def compute_for_user(self, user: str, k: int, exclude: Sequence[str] = ()) -> list[Scored]:
        """The system's top ``k`` for a known user, computed now (no precomputed list)."""
        snap = self.snapshot
        row = snap.users.get_indexer(pd.Index([user]))[0]
        if row < 0:
            raise KeyError(user)
        scores = self.recommender.score(np.array([row]))
        seen = self.history[row]
        if exclude:
            extra = snap.items.get_indexer(pd.Index(list(exclude)))
            extra = extra[extra >= 0]
            if len(extra):
                seen = seen + sp.csr_matrix(
                    (np.ones(len(extra)), (np.zeros(len(extra), dtype=int), extra)),
                    shape=seen.shape,
                )
        items, values = top_k(scores, seen, k)
        return [
            Scored(str(snap.items[i]), round(float(v), 6))
            for i, v in zip(items[0], values[0], strict=True)
            if np.isfinite(v)
        ]

    def predict(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Batch: ``user_id`` column → the precomputed top-N as space-separated ids
        (what MLflow's signature records; unknown users get the popular items)."""
        snap = self.snapshot
        popular = " ".join(e.item for e in snap.most_popular()[: self.top_n])
        out = []
        for user in frame["user_id"].astype(str):
            entries = snap.for_user(user)
            out.append(popular if entries is None else " ".join(e.item for e in entries))
        return pd.DataFrame({"user_id": frame["user_id"].astype(str), "items": out})
