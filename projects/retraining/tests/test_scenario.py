"""The 30-day scenario: its counts and costs from the day records, the README and the
timeline from the committed metrics, and the reproducibility check CI can afford: the
first cycle (the first training and day 1) re-computed must equal the committed part of
``reports/metrics.json`` byte for byte."""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from retraining.config import PROJECT_DIR, RetrainingConfig, Scenario
from retraining.evaluate import results_table, scenario_days, timeline_figure
from retraining.scenario import World, document
from tenfold.reports import read_section
from tenfold.repro import read_metrics
from tenfold.testing import assert_reproduces_sample

COMMITTED = PROJECT_DIR / "reports" / "metrics.json"


def day(number: int, decision: str, **values: Any) -> dict[str, Any]:
    """A day record as :func:`retraining.scenario.day_record` writes it."""
    record: dict[str, Any] = {
        "day": number,
        "date": (dt.date(2018, 6, 4) + dt.timedelta(days=number)).isoformat(),
        "transactions": 100,
        "frauds": 2,
        "takeover_frauds": 0,
        "serving": "1",
        "cost": {"serving": 100.0, "never_retrained": 100.0, "no_model": 500.0},
        "batch": "accepted",
        "batch_reasons": [],
        "redelivered": [],
        "drift_share": 0.0,
        "drifted": False,
        "drifted_columns": [],
        "alert": False,
        "challenger": None,
        "challenger_cost": None,
        "champion_cost": None,
        "decision": decision,
        "reason": "",
        "champion_after": "1",
    }
    record.update(values)
    return record


def test_counts_and_costs_come_from_the_days() -> None:
    cfg = dataclasses.replace(
        RetrainingConfig(), scenario=Scenario(days=4, history_days=2, pattern_day=3)
    )
    world = World(
        transactions=pd.DataFrame({"tx_amount": [1.0]}),
        inputs=pd.DataFrame(),
        y=np.zeros(1),
        amount=np.ones(1),
        day=np.zeros(1),
        start=dt.date(2018, 6, 3),
    )
    days = [
        # an alert before the new pattern (day 3, 2018-06-07) is counted apart
        day(1, "promoted", challenger="2", challenger_cost=50.0, champion_cost=90.0,
            drifted=True, alert=True, drift_share=0.2),
        day(2, "unchanged", batch="quarantined", batch_reasons=["150 rows"]),
        day(3, "rejected", challenger="3", challenger_cost=95.0, champion_cost=90.0,
            cost={"serving": 80.0, "never_retrained": 300.0, "no_model": 500.0}),
        day(4, "rejected", challenger="4", challenger_cost=60.0, champion_cost=90.0,
            drifted=True, alert=True, drift_share=0.3),
    ]  # fmt: skip
    metrics = document(cfg, world, "1", days)
    assert metrics["counts"] == {
        "retrainings": 3,
        "promotions": 1,
        "rejections": 2,
        "rejected_worse": 1,  # day 4's challenger was better, only not by the margin
        "quarantines": 1,
        "alerts": 2,
        "alerts_before_pattern": 1,
    }
    assert metrics["drift"] == {"first_alert": "2018-06-08", "days_from_pattern_to_alert": 1}
    assert metrics["cost"]["with_retraining"] == 380.0
    assert metrics["cost"]["never_retraining"] == 600.0
    assert metrics["cost"]["saved_by_retraining"] == 220.0
    assert list(metrics["days"]) == [d["date"] for d in days]


def test_the_readme_shows_the_committed_results() -> None:
    metrics = read_metrics(COMMITTED)
    readme = (PROJECT_DIR / "README.md").read_text(encoding="utf-8")
    assert read_section(readme, "results") == results_table(metrics).strip()
    assert f"**${metrics['cost']['saved_by_retraining']:,.0f}**" in readme


def test_the_timeline_shows_every_decision() -> None:
    metrics = read_metrics(COMMITTED)
    figure = timeline_figure(metrics)
    versions, gate, drift, cost = figure.axes
    promoted, rejected = versions.collections[:2]
    counts = metrics["counts"]
    assert len(promoted.get_offsets()) == counts["promotions"]
    assert len(rejected.get_offsets()) == counts["rejections"]
    champion_cost, challenger_cost = gate.get_lines()[:2]  # then the pattern's start
    gated = counts["retrainings"]
    assert len(champion_cost.get_xdata()) == len(challenger_cost.get_xdata()) == gated
    red = to_rgba("tab:red")
    assert len(drift.patches) == len(scenario_days(metrics))
    assert sum(bar.get_facecolor() == red for bar in drift.patches) == counts["alerts"]
    assert [line.get_label() for line in cost.get_lines()][:3] == [
        "never retrained (v1)",
        "with retraining",
        "no model",
    ]


@pytest.mark.slow
@pytest.mark.service
@pytest.mark.repro
@pytest.mark.usefixtures("prefect", "isolated_tracking")
def test_the_first_cycle_reproduces_the_committed_sample(tmp_path: Path) -> None:
    from retraining import scenario

    cfg = dataclasses.replace(RetrainingConfig(), lake=str(tmp_path / "lake"))
    metrics = scenario.run(cfg, stop_after=1)
    (first,) = metrics["days"]
    sample = {
        "data": {
            "sha256": metrics["data"]["sha256"],
            "pattern_starts": metrics["data"]["pattern_starts"],
        },
        "initial_version": metrics["initial_version"],
        "days": {first: metrics["days"][first]},
    }
    assert_reproduces_sample(sample, COMMITTED, remake="make retraining")
