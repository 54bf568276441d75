"""The 30-day scenario of ``make retraining``: the retraining machinery on a month of
simulated card transactions.

The fraud simulator makes ``history_days + days`` days of transactions for a small
population, with its scenario 4 (accounts taken over at night) switched on from day
``pattern_day`` of the month. The lake starts empty; the history lands as daily
batches and the first ``retrain`` run trains and promotes v1. Then, for each day of the
month, in the order a bank lives it:

1. the day's transactions are scored by the model in service (its dollar cost at its
   threshold is what the day costs; the same rows scored by v1 are what never
   retraining would have cost), and the inputs it scored are logged to the lake;
2. the day's batch lands in ``incoming/`` (on ``broken_day`` a broken export);
3. the ``monitor`` flow reports that day's drift and alerts when it is drifted;
4. the ``retrain`` flow validates the batch (quarantining a broken one), trains a
   challenger on the new window and lets the gate decide.

Both flows are the real Prefect flows (:mod:`retraining.flows`), against the Prefect
API the caller provides. Nothing here depends on the clock: the same seed and lock give
the same decisions and the same metrics, byte for byte.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from fraud.config import AccountTakeover, FraudConfig, Simulation
from fraud.data import frame_sha256
from fraud.simulator import COLUMNS, simulate
from fraud.train import cost_at, prepare
from retraining import data, pipeline
from retraining.config import RetrainingConfig
from retraining.flows import monitor, retrain
from tenfold.storage import Lake

TAKEOVER = 4  # the simulator's scenario number of the new pattern


@dataclass(frozen=True)
class World:
    """The simulated transactions, their model inputs and labels, and the calendar."""

    transactions: pd.DataFrame
    inputs: pd.DataFrame
    y: np.ndarray
    amount: np.ndarray
    day: np.ndarray  # day index of every transaction
    start: dt.date

    def date(self, index: int) -> dt.date:
        return self.start + dt.timedelta(days=index)


def simulation(cfg: RetrainingConfig) -> Simulation:
    s = cfg.scenario
    takeover = AccountTakeover(
        start_day=s.history_days + s.pattern_day - 1,
        per_day=s.takeovers_per_day,
        days=s.takeover_days,
        tx_per_day=s.takeover_tx_per_night,
    )
    world = Simulation(n_days=s.history_days + s.days, account_takeover=takeover)
    return world.scaled(s.customers)


def make_world(cfg: RetrainingConfig) -> World:
    """Simulate the whole period once, and compute every transaction's model inputs
    from the complete log (what the bank's feature store serves at scoring time)."""
    sim = simulation(cfg)
    transactions = simulate(sim, cfg.seed)
    fraud_cfg = dataclasses.replace(FraudConfig(), simulation=sim, seed=cfg.seed)
    prepared = prepare(transactions, fraud_cfg)
    return World(
        transactions,
        prepared.X,
        prepared.y,
        prepared.meta["amount"].to_numpy(),
        transactions["tx_time_days"].to_numpy(),
        dt.date.fromisoformat(sim.start_date),
    )


def batch_of(world: World, index: int) -> pd.DataFrame:
    batch: pd.DataFrame = world.transactions.loc[world.day == index, list(COLUMNS)]
    return batch


def broken(batch: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A broken export: it stopped after 150 rows and lost a fifth of the amounts."""
    rng = np.random.default_rng(seed)
    cut = batch.head(150).copy()
    cut["tx_amount"] = cut["tx_amount"].astype(object)
    cut.loc[rng.random(len(cut)) < 0.2, "tx_amount"] = ""
    return cut


def land(
    lake: Lake, layout: data.Layout, date: dt.date, batch: pd.DataFrame, *, suffix: str = ""
) -> str:
    """What the producer does: one CSV object per day under ``incoming/`` (a
    re-delivery of a day gets a suffix: ``2018-06-09.v2.csv``)."""
    return lake.write_text(layout.batch(date, suffix), batch.to_csv(index=False))


def reset(lake: Lake, layout: data.Layout, model_name: str) -> None:
    """Start from an empty lake and no registered model (the scenario's own)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from tenfold import tracking

    for prefix in (
        layout.incoming,
        f"curated/{layout.project}",
        f"{layout.quarantine}/{layout.incoming}",
        layout.inference,
        layout.drift,
        f"state/{layout.project}",
    ):
        for obj in lake.list(prefix):
            lake.delete(obj.key)
    tracking.configure()
    with contextlib.suppress(MlflowException):  # none yet
        MlflowClient().delete_registered_model(model_name)


class Scorer:
    """Registered versions loaded once each; a day's cost at a version's threshold."""

    def __init__(self, model_name: str, fraud_cfg: FraudConfig) -> None:
        self.model_name = model_name
        self.cfg = fraud_cfg
        self.models: dict[str, tuple[Any, float]] = {}

    def cost(self, version: str, X: pd.DataFrame, y: np.ndarray, amount: np.ndarray) -> float:
        from tenfold.tracking import load_sklearn_model

        if version not in self.models:
            record = load_sklearn_model(f"models:/{self.model_name}/{version}")
            self.models[version] = (record.model, float(record.metadata["decision_threshold"]))
        model, threshold = self.models[version]
        proba = model.predict_proba(X)[:, 1]
        return cost_at(y, proba, amount, threshold, self.cfg)


Progress = Callable[[int, int, str], None]


def run(
    cfg: RetrainingConfig, *, progress: Progress | None = None, stop_after: int | None = None
) -> dict[str, Any]:
    """Run the scenario; return its metrics document (see :func:`document`).

    ``stop_after`` ends it after that many days of the month (the same world is
    simulated, so those days are the full run's own: what the reproducibility test
    re-computes)."""
    from retraining.interface import target_for

    report = progress or (lambda done, total, what: None)
    # the scenario's transactions are simulated, whatever the lake would hold otherwise
    cfg = dataclasses.replace(cfg, data_kind="synthetic")
    s = cfg.scenario
    last = s.days if stop_after is None else min(stop_after, s.days)
    target = target_for(cfg)
    model_name = pipeline.registered_name(target, cfg)
    lake = data.open_lake(cfg)
    layout = data.Layout(cfg.project)
    reset(lake, layout, model_name)
    report(0, last + 1, "simulating transactions")
    world = make_world(cfg)
    fraud_cfg = dataclasses.replace(FraudConfig(), seed=cfg.seed)
    scorer = Scorer(model_name, fraud_cfg)

    for index in range(s.history_days):
        land(lake, layout, world.date(index), batch_of(world, index))
    report(0, last + 1, f"history of {s.history_days} days landed; first training")
    first = retrain(config=cfg)
    initial = first.champion
    if initial is None:
        raise RuntimeError(f"the first retraining promoted nothing: {first.note}")
    report(1, last + 1, f"v{initial} in service")

    days: list[dict[str, Any]] = []
    serving = initial
    for day in range(1, last + 1):
        index = s.history_days + day - 1
        date = world.date(index)
        rows = world.day == index
        X, y, amount = world.inputs.loc[rows], world.y[rows], world.amount[rows]
        scenario = world.transactions.loc[rows, "tx_fraud_scenario"].to_numpy()
        costs = {
            "serving": scorer.cost(serving, X, y, amount),
            "never_retrained": scorer.cost(initial, X, y, amount),
            "no_model": float(amount[y == 1].sum()),
        }
        data.write_inference(lake, layout, date, X)
        batch = batch_of(world, index)
        land(lake, layout, date, broken(batch, cfg.seed) if day == s.broken_day else batch)
        if day == s.broken_day + 1:  # the producer re-delivers yesterday's batch, fixed
            yesterday = index - 1
            land(lake, layout, world.date(yesterday), batch_of(world, yesterday), suffix=".v2")
        monitored = monitor(config=cfg, periods=[date.isoformat()])
        outcome = retrain(config=cfg)
        days.append(day_record(day, date, serving, costs, y, scenario, monitored, outcome))
        serving = outcome.champion or serving
        report(day + 1, last + 1, f"{date}: {days[-1]['decision']}")
    return document(cfg, world, initial, days)


def day_record(
    day: int,
    date: dt.date,
    serving: str,
    costs: Mapping[str, float],
    y: np.ndarray,
    scenario: np.ndarray,
    monitored: list[pipeline.MonitorOutcome],
    outcome: pipeline.RetrainOutcome,
) -> dict[str, Any]:
    """One row of the decisions table (plain values: it goes to metrics.json)."""
    drift = monitored[0] if monitored else None
    own = [b for b in outcome.batches if b.period == date.isoformat()]
    batch = own[-1] if own else None
    redelivered = [b for b in outcome.batches if b.period != date.isoformat()]
    gate = None if outcome.reused else outcome.gate
    if outcome.gate is None:
        decision = "not trained"
    elif gate is None:
        decision = "unchanged"
    else:
        decision = "promoted" if gate.promoted else "rejected"
    return {
        "day": day,
        "date": date.isoformat(),
        "transactions": len(y),
        "frauds": int(y.sum()),
        "takeover_frauds": int((scenario == TAKEOVER).sum()),
        "serving": serving,
        "cost": dict(costs),
        "batch": batch.outcome if batch else "missing",
        "batch_reasons": list(batch.reasons) if batch else [],
        "redelivered": [f"{b.period} ({b.outcome})" for b in redelivered],
        "drift_share": drift.drift_share if drift else None,
        "drifted": bool(drift and drift.drifted),
        "drifted_columns": list(drift.drifted_columns) if drift else [],
        "alert": bool(drift and drift.drifted),
        "challenger": outcome.version if gate is not None else None,
        "challenger_cost": gate.challenger_score if gate else None,
        "champion_cost": gate.champion_score if gate else None,
        "decision": decision,
        "reason": gate.reason if gate else outcome.note,
        "champion_after": outcome.champion,
    }


def document(
    cfg: RetrainingConfig, world: World, initial: str, days: list[dict[str, Any]]
) -> dict[str, Any]:
    """The scenario's metrics: the setting, one record per day, counts and costs."""
    s, w = cfg.scenario, cfg.window
    total = {k: sum(d["cost"][k] for d in days) for k in ("serving", "never_retrained", "no_model")}
    saved = total["never_retrained"] - total["serving"]
    drifted = [d for d in days if d["drifted"]]
    first_pattern = world.date(s.history_days + s.pattern_day - 1)
    after = [d for d in drifted if d["date"] >= first_pattern.isoformat()]
    first_alert = after[0]["date"] if after else None
    return {
        "data": {
            "kind": cfg.data_kind,
            "dataset": f"fraud-simulator (account takeover from day {s.pattern_day} of the month)",
            "sha256": {"transactions": frame_sha256(world.transactions)},
            "customers": s.customers,
            "history_days": s.history_days,
            "days": s.days,
            "transactions": len(world.transactions),
            "transactions_in_month": int(sum(d["transactions"] for d in days)),
            "frauds_in_month": int(sum(d["frauds"] for d in days)),
            "takeover_frauds_in_month": int(sum(d["takeover_frauds"] for d in days)),
            "first_day": days[0]["date"] if days else None,
            "pattern_starts": first_pattern.isoformat(),
            "broken_batch": world.date(s.history_days + s.broken_day - 1).isoformat(),
        },
        "protocol": {
            "seed": cfg.seed,
            "model": f"fraud's LightGBM ({cfg.trees} trees), threshold at min out-of-fold cost",
            "window": {
                "train_days": w.train_days,
                "gap_days": w.gap_days,
                "validation_days": w.validation_days,
                "lookback_days": 37,
            },
            "gate": "validation-period cost ($) at each model's own threshold, lower is "
            f"better; the challenger must beat the champion by more than ${cfg.promotion_margin:g}",
            "drift": "Evidently DataDriftPreset per day against the champion's training rows; "
            "alert when at least drift_threshold of the monitored columns drift",
            "drift_threshold": cfg.monitoring.drift_share,
            "review_cost": FraudConfig().economics.review_cost,
        },
        "initial_version": initial,
        # keyed by date: a part of the month compares with the same days of the whole
        "days": {d["date"]: d for d in days},
        "counts": {
            "retrainings": sum(d["decision"] in ("promoted", "rejected") for d in days),
            "promotions": sum(d["decision"] == "promoted" for d in days),
            "rejections": sum(d["decision"] == "rejected" for d in days),
            "rejected_worse": sum(
                d["decision"] == "rejected"
                and d["challenger_cost"] is not None
                and d["champion_cost"] is not None
                and d["challenger_cost"] > d["champion_cost"]
                for d in days
            ),
            "quarantines": sum(d["batch"] == "quarantined" for d in days),
            "alerts": len(drifted),
            "alerts_before_pattern": len(drifted) - len(after),
        },
        "drift": {
            "first_alert": first_alert,
            "days_from_pattern_to_alert": None
            if first_alert is None
            else (dt.date.fromisoformat(first_alert) - first_pattern).days,
        },
        "cost": {
            "with_retraining": total["serving"],
            "never_retraining": total["never_retrained"],
            "no_model": total["no_model"],
            "saved_by_retraining": saved,
            "saved_share": saved / total["never_retrained"] if total["never_retrained"] else 0.0,
        },
    }
