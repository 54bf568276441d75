"""The evaluation protocols: recommenders' stratified split and a time-ordered split.

``stratified_split`` reproduces the Microsoft recommenders benchmark's
``python_stratified_split(data, ratio=0.75, filter_by="user", seed=42)``: one uniform
number per row drawn in file order (``np.random.seed(seed); np.random.rand(n)``, here
from a private ``RandomState`` with the same stream), rows sorted by user then that
number, and a row goes to training when its rank within the user, divided by the user's
count, is at most ``ratio``. Same file, same seed: the same 74,646 / 25,354 rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Split:
    """Training and test interactions (row order of the input kept within each part)."""

    train: pd.DataFrame
    test: pd.DataFrame
    name: str

    def describe(self) -> dict[str, int]:
        return {
            "train_rows": len(self.train),
            "test_rows": len(self.test),
            "test_users": int(self.test["user"].nunique()),
        }


def _within_user_rank(frame: pd.DataFrame, *order: np.ndarray) -> np.ndarray:
    """Each row's rank within its user (1-based) by the ``order`` keys (the first one
    decides, the next break its ties), divided by the user's count, aligned with
    ``frame``'s rows."""
    positions = np.lexsort((*reversed(order), frame["user"].to_numpy()))
    users = frame["user"].to_numpy()[positions]
    sorted_frame = pd.Series(users)
    rank = sorted_frame.groupby(sorted_frame, sort=False).cumcount().to_numpy() + 1
    count = sorted_frame.groupby(sorted_frame, sort=False).transform("size").to_numpy()
    out = np.empty(len(frame))
    out[positions] = rank / count
    return out


def stratified_split(
    interactions: pd.DataFrame, *, ratio: float = 0.75, seed: int = 42, name: str = "stratified"
) -> Split:
    """Per-user random split: about ``ratio`` of each user's rows train, the rest test."""
    if not 0 < ratio < 1:
        raise ValueError(f"ratio must be between 0 and 1, got {ratio}")
    draws = np.random.RandomState(seed).rand(len(interactions))
    relative = _within_user_rank(interactions, draws)
    in_train = relative <= ratio
    return Split(interactions[in_train], interactions[~in_train], name)


def time_split(
    interactions: pd.DataFrame, *, test_fraction: float = 0.2, name: str = "time"
) -> Split:
    """Per-user chronological split: each user's last ``test_fraction`` of interactions
    (by timestamp, file order breaking ties) are the test part."""
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    stamps = interactions["timestamp"].to_numpy()
    # the file position breaks ties between equal timestamps, deterministically
    relative = _within_user_rank(interactions, stamps, np.arange(len(interactions)))
    in_train = relative <= 1 - test_fraction
    return Split(interactions[in_train], interactions[~in_train], name)


def validation_split(train: pd.DataFrame, *, ratio: float, seed: int) -> Split:
    """The tuning split, carved from the training part only (never from test)."""
    return stratified_split(train, ratio=ratio, seed=seed + 1, name="validation")
