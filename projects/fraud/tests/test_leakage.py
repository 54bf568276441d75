"""No leakage: the split is time-ordered with a delay gap, CV folds are too, and SMOTE
only ever sees the training rows of the fold being fitted."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any, ClassVar

import numpy as np
import pytest
from imblearn.over_sampling import SMOTE

from fraud import train
from fraud.config import Boosting, FraudConfig
from tenfold.pipelines import Split


def split_days(periods: train.Periods) -> tuple[np.ndarray, np.ndarray]:
    return periods.meta_train["day"].to_numpy(), periods.meta_test["day"].to_numpy()


def test_split_is_time_ordered_with_a_gap(small_prepared, small_cfg: FraudConfig) -> None:  # type: ignore[no-untyped-def]
    prepared, periods = small_prepared
    p = small_cfg.protocol
    train_days, test_days = split_days(periods)
    assert train_days.min() >= prepared.meta["day"].min() + p.burn_in
    assert test_days.min() - train_days.max() >= p.delay
    assert test_days.max() - test_days.min() <= p.test
    assert len(periods.split.y_train) + len(periods.split.y_test) < len(prepared.y)  # burn-in, gap


def test_cv_folds_are_time_ordered_with_a_gap(small_prepared, small_cfg: FraudConfig) -> None:  # type: ignore[no-untyped-def]
    _, periods = small_prepared
    day = periods.meta_train["day"].to_numpy()
    previous_end = -np.inf
    for fit, valid in periods.folds:
        assert day[valid].min() - day[fit].max() >= small_cfg.protocol.delay
        assert day[valid].min() > previous_end  # blocks move forward, never overlap
        previous_end = day[valid].max()
        assert not set(fit) & set(valid)
    # expanding window: each fold trains on everything before its gap
    sizes = [len(fit) for fit, _ in periods.folds]
    assert sizes == sorted(sizes)


class SpySmote(SMOTE):
    """SMOTE that records which rows (identified by a unique amount) it resampled."""

    seen: ClassVar[list[set[float]]] = []
    lock: ClassVar[threading.Lock] = threading.Lock()

    def fit_resample(self, X: Any, y: Any, **params: Any) -> Any:
        with self.lock:
            self.seen.append(set(np.asarray(X)[:, 0].tolist()))  # column 0 is tx_amount
        return super().fit_resample(X, y, **params)


def test_smote_never_sees_validation_or_test_rows(
    small_prepared, small_cfg: FraudConfig, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    prepared, periods = small_prepared
    # a unique amount per training row tells which rows reached the sampler
    X_train = periods.split.X_train.assign(tx_amount=np.arange(len(periods.split.y_train)) + 0.5)
    X_test = periods.split.X_test.assign(tx_amount=-1.0)
    periods = dataclasses.replace(
        periods, split=Split(X_train, X_test, periods.split.y_train, periods.split.y_test)
    )
    cfg = dataclasses.replace(small_cfg, boosting=Boosting(n_estimators=10))
    monkeypatch.setattr(train, "SMOTE", SpySmote)
    SpySmote.seen.clear()
    candidate = train.fit_candidate("lightgbm_smote", prepared, periods, cfg)

    expected = [{i + 0.5 for i in fit} for fit, _ in periods.folds]
    expected.append({i + 0.5 for i in range(len(X_train))})  # the final fit: all training days
    assert sorted(SpySmote.seen, key=len) == expected
    for (_, valid), seen in zip(periods.folds, sorted(SpySmote.seen, key=len), strict=False):
        assert not seen & {i + 0.5 for i in valid}
    assert all(-1.0 not in seen for seen in SpySmote.seen)
    # samplers only run in fit: scoring the test rows resamples nothing
    calls = len(SpySmote.seen)
    candidate.model.predict_proba(X_test)
    assert len(SpySmote.seen) == calls
