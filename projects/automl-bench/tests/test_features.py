"""Feature steps: no look-ahead inside an engine, nothing learned from test rows."""

from __future__ import annotations

import numpy as np
import pandas as pd

from automl_bench.data import make_cmapss_twin, make_credit_twin
from automl_bench.features import CreditFeatures, EngineHistory, TabularEncoder, fit_tfidf


def engines() -> pd.DataFrame:
    return make_cmapss_twin(6, seed=2)["train_FD001.txt"]


def test_engine_history_never_looks_ahead() -> None:
    frame = engines()
    full = EngineHistory(window=5, baseline=10).fit(frame).transform(frame)
    for unit, cycles in ((1, 8), (2, 40)):
        early = frame[(frame["unit"] == unit) & (frame["cycle"] <= cycles)]
        alone = EngineHistory(window=5, baseline=10).fit(early).transform(early)
        pd.testing.assert_frame_equal(alone, full.loc[early.index])


def test_engine_history_drift_is_zero_at_the_first_cycle() -> None:
    frame = engines()
    out = EngineHistory().fit(frame).transform(frame)
    first = out[frame["cycle"] == 1].filter(like="_drift")
    assert np.allclose(first.to_numpy(), 0.0)


def test_credit_features() -> None:
    frame = make_credit_twin(50, seed=0)
    out = CreditFeatures().fit(frame).transform(frame)
    expected = frame["BILL_AMT1"] / frame["LIMIT_BAL"]
    assert np.allclose(out["credit_use"], expected)
    delays = frame[["PAY_0", "PAY_2", "PAY_3", "PAY_4", "PAY_5", "PAY_6"]]
    assert (out["months_in_arrears"] == (delays > 0).sum(axis=1)).all()


def test_encoder_target_encodes_ids_by_cross_fitting() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 200, 2000).astype(str).astype(object)
    y = rng.integers(0, 2, 2000)  # labels unrelated to the ids
    X = pd.DataFrame(
        {
            "id": ids,
            "colour": rng.choice(["a", "b"], 2000).astype(object),
            "x": rng.normal(size=2000),
        }
    )
    encoder = TabularEncoder(kind="binary", random_state=0)
    train = encoder.fit_transform(X, y)
    assert list(train.columns) == ["x", "colour__code", "id__frequency", "id"]
    # cross-fitted: a row's own label does not leak into its encoding, so the encoded id
    # carries (almost) no signal about a random label
    assert abs(np.corrcoef(train["id"], y)[0, 1]) < 0.1
    unseen = encoder.transform(X.assign(id="never-seen", colour="c"))
    assert unseen["colour__code"].isna().all()
    assert (unseen["id__frequency"] == 0).all()


def test_tfidf_vocabulary_comes_from_training_texts_only() -> None:
    train = pd.Series(
        ["market shares rise", "market shares fall", "goal in the final", "final goal"]
    )
    test = pd.Series(["zebra zebra market"])
    X_train, X_test, names = fit_tfidf(train, test)
    assert "tfidf_zebra" not in names
    assert X_train.shape[1] == X_test.shape[1] == len(names)
