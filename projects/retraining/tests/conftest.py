"""Fixtures for the retraining tests: a small simulated world (600 customers, a 10-day
training window), batches landed in a lake, Prefect's test harness once per session,
a moto S3 server, and one trained champion shared by the monitoring and API tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retraining.config import Checks, RetrainingConfig, Scenario, Window
from tenfold.storage import Lake
from tenfold.testing import S3Server, moto_s3

# 37 look-back + 10 training + 3 validation days: the shortest history a window needs
HISTORY_DAYS = 50
SMALL = RetrainingConfig(
    window=Window(train_days=10, gap_days=0, validation_days=3),
    # 600 customers make ~1,200 transactions and ~4 frauds a day: some days have none
    checks=Checks(min_rows=100, label_rate=(0.0, 0.2)),
    scenario=Scenario(customers=600, history_days=HISTORY_DAYS, days=6, pattern_day=3),
    trees=20,
    promotion_margin=0.0,
    experiment="retraining-test",
    model_name="retraining-test",
    monitoring=dataclasses.replace(RetrainingConfig().monitoring, reference_rows=2000),
)


def small_config(lake: Path | str, **changes: Any) -> RetrainingConfig:
    return dataclasses.replace(SMALL, lake=str(lake), **changes)


@pytest.fixture(scope="session")
def world():  # type: ignore[no-untyped-def]
    """The small world's transactions, features and calendar (simulated once)."""
    from retraining.scenario import make_world

    return make_world(SMALL)


def land_days(lake: Lake, world: Any, days: range, *, suffix: str = "") -> list[str]:
    from retraining.data import Layout
    from retraining.scenario import batch_of, land

    layout = Layout("fraud")
    return [land(lake, layout, world.date(i), batch_of(world, i), suffix=suffix) for i in days]


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Flows run against Prefect's test harness (a temporary sqlite API), started once
    for the session, with its own PREFECT_HOME."""
    patch = pytest.MonkeyPatch()
    patch.setenv("PREFECT_HOME", str(tmp_path_factory.mktemp("prefect-home")))
    patch.setenv("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    patch.setenv("PREFECT_LOGGING_LEVEL", "WARNING")
    patch.delenv("PREFECT_API_URL", raising=False)
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=300):
        yield
    patch.undo()


@pytest.fixture(scope="session")
def s3() -> Iterator[S3Server]:
    """moto_server on loopback for the session, with a bucket; its AWS variables are set
    by the tests that use it (the code under test reads them like any AWS client)."""
    with moto_s3() as server:
        server.create_bucket("tenfold-lake")
        yield server


@pytest.fixture(scope="module")
def module_tracking(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A private MLflow store for a whole module (the root ``isolated_tracking`` is per
    test)."""
    state = tmp_path_factory.mktemp("mlflow-state")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TENFOLD_STATE_DIR", str(state))
        patch.delenv("MLFLOW_TRACKING_URI", raising=False)
        patch.delenv("MLFLOW_REGISTRY_URI", raising=False)
        yield state


@pytest.fixture(scope="module")
def champion(
    prefect_harness: None,
    module_tracking: Path,
    world: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RetrainingConfig, Any]:
    """A lake with the history landed and one retrain run done: v1 is the champion."""
    from retraining.flows import retrain

    lake_dir = tmp_path_factory.mktemp("lake")
    cfg = small_config(lake_dir)
    land_days(Lake(str(lake_dir)), world, range(HISTORY_DAYS))
    outcome = retrain(config=cfg)
    assert outcome.champion == "1", outcome
    return cfg, outcome


def day_rows(world: Any, index: int) -> pd.DataFrame:
    rows: pd.DataFrame = world.inputs.loc[world.day == index]
    return rows


def date_of(world: Any, index: int) -> dt.date:
    day: dt.date = world.date(index)
    return day
