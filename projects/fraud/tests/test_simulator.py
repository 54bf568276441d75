"""The transaction simulator follows the handbook's design and is seeded."""

from __future__ import annotations

import numpy as np
import pandas as pd

from fraud.config import Simulation
from fraud.simulator import COLUMNS, simulate, terminals_in_reach

SMALL = Simulation().scaled(300)


def test_schema_order_and_rate(small_frame: pd.DataFrame) -> None:
    assert tuple(small_frame.columns) == COLUMNS
    assert small_frame["tx_datetime"].is_monotonic_increasing
    assert small_frame["transaction_id"].tolist() == list(range(len(small_frame)))
    # "well under 1 %" fraud, and every scenario present
    assert 0.002 < small_frame["tx_fraud"].mean() < 0.01
    assert set(small_frame["tx_fraud_scenario"]) == {0, 1, 2, 3}
    assert (small_frame["tx_fraud"] == (small_frame["tx_fraud_scenario"] > 0)).all()
    assert small_frame["tx_time_days"].max() == SMALL.n_days - 1


def test_seeded() -> None:
    small = Simulation().scaled(100)
    pd.testing.assert_frame_equal(simulate(small, 3), simulate(small, 3))
    assert not simulate(small, 3).equals(simulate(small, 4))


def test_scenario_rules(small_frame: pd.DataFrame) -> None:
    frame = small_frame
    scenario = frame["tx_fraud_scenario"]
    # (1) every amount above the threshold is fraud (scenario 3 may have made it so)
    assert frame.loc[frame["tx_amount"] > SMALL.amount_threshold, "tx_fraud"].all()
    assert (frame.loc[scenario == 1, "tx_amount"] > SMALL.amount_threshold).all()
    # (2) a compromised terminal's frauds span at most the compromise period(s) and it
    # has no genuine transaction in between
    for _, rows in frame[scenario == 2].groupby("terminal_id"):
        days = rows["tx_time_days"]
        between = frame[
            (frame["terminal_id"] == rows["terminal_id"].iloc[0])
            & frame["tx_time_days"].between(days.min(), days.max())
        ]
        if days.max() - days.min() < SMALL.terminal_compromise_days:
            assert (between["tx_fraud_scenario"] >= 2).all()
    # (3) leaked-card frauds cost about five times the customer's usual amount
    genuine = frame[scenario == 0].groupby("customer_id")["tx_amount"].mean()
    leaked = frame[scenario == 3]
    ratio = leaked["tx_amount"].to_numpy() / genuine.reindex(leaked["customer_id"]).to_numpy()
    assert 3.5 < np.nanmedian(ratio) < 7


def test_customers_only_use_terminals_in_reach() -> None:
    customers = pd.DataFrame({"x": [0.0, 50.0], "y": [0.0, 50.0]})
    terminals = pd.DataFrame({"x": [1.0, 4.0, 49.0, 80.0], "y": [1.0, 4.0, 52.0, 80.0]})
    offsets, reachable = terminals_in_reach(customers, terminals, radius=5.0)
    assert reachable[offsets[0] : offsets[1]].tolist() == [0]  # (4, 4) is 5.66 away
    assert reachable[offsets[1] : offsets[2]].tolist() == [2]
