"""History features read only the past; the Pipeline step is stateless."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from fraud.features import (
    DERIVED_COLUMNS,
    HISTORY_COLUMNS,
    FraudFeatures,
    derive,
    history_features,
)

DAY = 86_400


def log(rows: list[tuple[float, int, int, float, int]]) -> pd.DataFrame:
    """(day, customer, terminal, amount, fraud) rows as a transaction log."""
    days, customer, terminal, amount, fraud = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "tx_time_seconds": (np.asarray(days) * DAY).astype(np.int64),
            "customer_id": customer,
            "terminal_id": terminal,
            "tx_amount": amount,
            "tx_fraud": fraud,
        }
    )


def test_windows_by_hand() -> None:
    frame = log(
        [
            (0.0, 1, 9, 10.0, 0),
            (0.5, 1, 9, 20.0, 1),
            (2.0, 1, 5, 30.0, 0),
            (8.5, 2, 9, 40.0, 0),
        ]
    )
    out = history_features(frame)
    # the customer's own earlier transactions, never the current one
    assert out["customer_nb_tx_1day"].tolist() == [0, 1, 0, 0]
    assert out["customer_avg_amount_1day"].tolist() == [0.0, 10.0, 0.0, 0.0]
    assert out["customer_nb_tx_7day"].tolist() == [0, 1, 2, 0]
    assert out["customer_avg_amount_7day"].tolist() == [0.0, 10.0, 15.0, 0.0]
    # terminal 9 at day 8.5 sees (8.5 - 7 - w, 1.5]: for w = 1 nothing, for w = 7 both
    # of its day-0 transactions, one of them fraud
    assert out.loc[3, "terminal_nb_tx_1day"] == 0
    assert out.loc[3, "terminal_risk_1day"] == 0.0
    assert out.loc[3, "terminal_nb_tx_7day"] == 2
    assert out.loc[3, "terminal_risk_7day"] == 0.5
    # nothing is ever known about a terminal in its first 7 days
    assert (out.loc[:2, [c for c in HISTORY_COLUMNS if c.startswith("terminal")]] == 0).all().all()


def test_no_feature_uses_a_later_transaction(small_frame: pd.DataFrame) -> None:
    """Perturb one transaction (amount and label): no feature of any transaction at or
    before its time moves; later ones of the same customer do (so the test can fail)."""
    frame = small_frame.iloc[:30_000].copy()
    k = 20_000
    before = history_features(frame)
    changed = frame.copy()
    changed.loc[k, "tx_amount"] = frame.loc[k, "tx_amount"] * 10 + 1000
    changed.loc[k, "tx_fraud"] = 1 - frame.loc[k, "tx_fraud"]
    after = history_features(changed)
    t = frame.loc[k, "tx_time_seconds"]
    earlier = frame["tx_time_seconds"] <= t
    pd.testing.assert_frame_equal(before[earlier], after[earlier])
    later_same_customer = (~earlier) & (frame["customer_id"] == frame.loc[k, "customer_id"])
    assert (before[later_same_customer] != after[later_same_customer]).any().any()


def test_a_label_is_only_used_after_the_delay(small_frame: pd.DataFrame) -> None:
    frame = small_frame.iloc[:30_000].copy()
    k = 10_000
    flipped = frame.copy()
    flipped.loc[k, "tx_fraud"] = 1 - frame.loc[k, "tx_fraud"]
    risk = [c for c in HISTORY_COLUMNS if "risk" in c]
    before, after = history_features(frame)[risk], history_features(flipped)[risk]
    t = frame.loc[k, "tx_time_seconds"]
    within_delay = frame["tx_time_seconds"] < t + 7 * DAY
    pd.testing.assert_frame_equal(before[within_delay], after[within_delay])
    same_terminal_later = (~within_delay) & (frame["terminal_id"] == frame.loc[k, "terminal_id"])
    assert (before[same_terminal_later] != after[same_terminal_later]).any().any()


def test_weekend_night_and_relative_amount() -> None:
    out = derive(
        {
            # 2018-04-01 was a Sunday; night is midnight to 6:59
            "tx_datetime": np.array(
                ["2018-04-01T06:59:59", "2018-04-02T07:00:00", "2018-04-07T23:00:00"],
                dtype="datetime64[s]",
            ),
            "tx_amount": [50.0, 100.0, 10.0],
            "customer_avg_amount_30day": [25.0, 0.0, 20.0],
        }
    )
    assert out["tx_during_weekend"].tolist() == [1.0, 0.0, 1.0]
    assert out["tx_during_night"].tolist() == [1.0, 0.0, 0.0]
    ratio = out["amount_vs_customer_avg_30day"]
    assert ratio[0] == 2.0
    assert np.isnan(ratio[1])  # no spending history: left to the imputer
    assert ratio[2] == 0.5


def test_transformer_is_stateless_and_serving_agrees(small_model) -> None:  # type: ignore[no-untyped-def]
    _, periods = small_model
    X = periods.split.X_test.head(50)
    step = FraudFeatures()
    assert step.get_params() == {}
    a = step.fit(periods.split.X_train.head(10)).transform(X)
    b = clone(step).fit(periods.split.X_train).transform(X)
    pd.testing.assert_frame_equal(a, b)  # nothing learnt from the rows
    mapped = step.transform_columns({c: X[c].to_numpy() for c in X.columns})
    for name in DERIVED_COLUMNS:
        np.testing.assert_array_equal(mapped[name], a[name].to_numpy())
    assert list(step.get_feature_names_out()[-3:]) == list(DERIVED_COLUMNS)


def test_transformer_names_missing_columns(small_model) -> None:  # type: ignore[no-untyped-def]
    _, periods = small_model
    with pytest.raises(ValueError, match=r"needs column\(s\) \['tx_amount'\]"):
        FraudFeatures().fit(periods.split.X_train.drop(columns=["tx_amount"]))
