"""The flow is generic over the project it retrains: churn plugs in through the same
interface (:class:`retraining.interface.Retrainable`), with no time inside its rows,
daily cohorts of customers as batches and ROC-AUC as the gate's metric."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from churn.data import make_synthetic
from retraining.config import Checks
from retraining.data import Layout
from retraining.flows import retrain
from retraining.scenario import land
from tenfold import promotion
from tenfold.storage import Lake

from .conftest import small_config

COHORT = 150  # customers a day
START = dt.date(2024, 3, 1)


@pytest.mark.slow
@pytest.mark.service
@pytest.mark.usefixtures("prefect", "isolated_tracking")
def test_the_flow_retrains_churn_through_the_same_interface(tmp_path: Path) -> None:
    # churn's own batch contract (the fraud-sized test bounds would refuse its churn rate)
    cfg = small_config(tmp_path / "lake", project="churn", checks=Checks())
    days = cfg.window.train_days + cfg.window.validation_days
    customers = make_synthetic((days + 1) * COHORT, cfg.seed)
    lake, layout = Lake(cfg.lake), Layout("churn")

    def cohort(day: int) -> pd.DataFrame:
        return customers.iloc[day * COHORT : (day + 1) * COHORT]

    for day in range(days):
        land(lake, layout, START + dt.timedelta(days=day), cohort(day))
    first = retrain(config=cfg)
    assert first.count("accepted") == days
    assert first.gate is not None
    assert first.gate.promoted
    assert first.gate.metric == "validation ROC-AUC"
    assert first.champion == "1"

    # the next cohort arrives without its Contract column: quarantined, nothing trained
    next_day = START + dt.timedelta(days=days)
    land(lake, layout, next_day, cohort(days).drop(columns="Contract"))
    second = retrain(config=cfg)
    (bad,) = second.batches
    assert bad.outcome == "quarantined"
    assert bad.reasons[0].startswith("missing column(s) ['Contract']")
    assert (second.version, second.reused) == ("1", True)

    # re-delivered whole: a challenger on the moved window, gated against v1 on its rows
    land(lake, layout, next_day, cohort(days), suffix=".v2")
    third = retrain(config=cfg)
    assert third.version == "2"
    assert third.gate is not None
    assert third.gate.champion_score is not None
    assert third.gate.validation_set == f"churn validation cohorts ({3 * COHORT:,} customers)"
    history = promotion.history(cfg.model_name)
    assert [(r.version, r.metric) for r in history] == [
        ("1", "validation ROC-AUC"),
        ("2", "validation ROC-AUC"),
    ]
