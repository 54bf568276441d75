"""The flow's pure steps: the rolling window's dates, what becomes of each object, and
the simulator's new pattern (which must leave the default simulation untouched)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd

from fraud.config import AccountTakeover, Simulation
from fraud.simulator import simulate
from retraining.config import RetrainingConfig, Window
from retraining.fraud_target import FraudTarget
from retraining.interface import window_for
from retraining.pipeline import inspect_batch, plan
from retraining.scenario import batch_of, broken
from tenfold.storage import Processed, Watermark, sha256_bytes

D = dt.date


def test_window_counts_back_from_the_newest_batch() -> None:
    cfg = dataclasses.replace(
        RetrainingConfig(), window=Window(train_days=21, gap_days=2, validation_days=7)
    )
    days = [D(2018, 4, 1) + dt.timedelta(days=i) for i in range(80)]
    window = window_for(days, cfg, lookback_days=37)
    assert window is not None
    assert window.validation_end == D(2018, 6, 19)
    assert window.validation_start == D(2018, 6, 13)  # the last 7 days
    assert window.train_end == D(2018, 6, 10)  # 2 gap days before them
    assert window.train_start == D(2018, 5, 21)
    assert window.start == D(2018, 4, 14)  # 37 days of look-back for the features
    assert (window.train_days, window.gap_days, window.validation_days) == (21, 2, 7)
    # a history that does not reach back that far gives no window
    assert window_for(days[14:], cfg, lookback_days=37) is None
    assert window_for([], cfg, lookback_days=0) is None


def test_what_becomes_of_each_object(world) -> None:  # type: ignore[no-untyped-def]
    target = FraudTarget(RetrainingConfig())  # the production contract
    # a day with frauds: the small test population has days without any, which the
    # production contract's label-rate floor quarantines
    index = next(i for i in range(5, 40) if batch_of(world, i)["tx_fraud"].sum() > 0)
    batch = batch_of(world, index)
    raw = batch.to_csv(index=False).encode()
    key = f"incoming/fraud/{world.date(index)}.csv"
    verdict, frame = inspect_batch(target, key, raw, Watermark())
    assert (verdict.outcome, verdict.rows, verdict.period) == (
        "accepted",
        len(batch),
        str(world.date(index)),
    )
    assert frame is not None
    assert len(frame) == len(batch)

    seen = Watermark().record(verdict.processed())
    again, frame = inspect_batch(target, key.replace(".csv", ".v2.csv"), raw, seen)
    assert (again.outcome, again.reasons, frame) == ("duplicate", (f"same bytes as {key}",), None)

    bad_raw = broken(batch, 42).to_csv(index=False).encode()
    bad, frame = inspect_batch(target, key, bad_raw, Watermark())
    assert bad.outcome == "quarantined"
    assert frame is None
    assert bad.reasons[0] == "150 rows, fewer than the 200 a batch must have"
    assert bad.reasons[1].startswith("column 'tx_amount':")
    assert bad.sha256 == sha256_bytes(bad_raw)

    named, _ = inspect_batch(target, "incoming/fraud/latest.csv", raw, Watermark())
    assert named.outcome == "quarantined"
    assert "YYYY-MM-DD" in named.reasons[0]


def test_nothing_to_train_without_a_new_accepted_batch() -> None:
    cfg = RetrainingConfig()
    quarantined = Processed("incoming/fraud/2018-07-01.csv", "s", "quarantined")
    assert plan([], None, cfg) == "no new accepted batch: nothing to retrain on"
    from retraining.pipeline import BatchVerdict

    verdicts = [BatchVerdict(quarantined.key, "2018-07-01", "s", "quarantined", ("x",))]
    assert plan(verdicts, None, cfg) == "no new accepted batch: nothing to retrain on"
    accepted = [BatchVerdict(quarantined.key, "2018-07-01", "s", "accepted")]
    assert plan(accepted, None, cfg) is not None
    assert "not enough history" in str(plan(accepted, None, cfg))


def test_account_takeover_adds_frauds_and_changes_nothing_else() -> None:
    base = Simulation(n_days=20).scaled(150)
    pattern = dataclasses.replace(base, account_takeover=AccountTakeover(start_day=12))
    plain, with_pattern = simulate(base, 7), simulate(pattern, 7)
    takeover = with_pattern[with_pattern["tx_fraud_scenario"] == 4]
    assert len(takeover) > 50
    assert takeover["tx_time_days"].min() >= 12
    assert (takeover["tx_fraud"] == 1).all()
    assert (takeover["tx_datetime"].dt.hour <= 5).all()
    assert with_pattern["tx_datetime"].is_monotonic_increasing
    assert with_pattern["transaction_id"].tolist() == list(range(len(with_pattern)))
    # every other transaction is the default simulation's, unchanged
    others = with_pattern[with_pattern["tx_fraud_scenario"] != 4].drop(columns="transaction_id")
    pd.testing.assert_frame_equal(
        others.reset_index(drop=True), plain.drop(columns="transaction_id").reset_index(drop=True)
    )
    # the amounts look like the customers' own, not five times them (scenario 3's mark)
    usual = plain[plain["tx_fraud_scenario"] == 0].groupby("customer_id")["tx_amount"].mean()
    ratio = takeover["tx_amount"].to_numpy() / usual.reindex(takeover["customer_id"]).to_numpy()
    assert 0.6 < np.nanmedian(ratio) < 1.6
