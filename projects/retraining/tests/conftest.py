"""Fixtures for the retraining tests: a small simulated world (600 customers, a 10-day
training window), batches landed in a lake, a real Prefect server (``prefect server
start`` on loopback, once per session) with each test's own PREFECT_HOME, a moto S3
server, and one champion trained by the flow for the monitoring and API tests."""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from retraining.config import Checks, RetrainingConfig, Scenario, Window
from tenfold.flows import PrefectServer
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
def prefect_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrefectServer]:
    """``prefect server start`` on 127.0.0.1 and a free port (sqlite in its own
    PREFECT_HOME), once for the session, stopped by its process id."""
    from tenfold.flows import local_server

    with local_server(tmp_path_factory.mktemp("prefect-server")) as server:
        yield server


@pytest.fixture
def prefect(prefect_server: PrefectServer, tmp_path: Path) -> Iterator[PrefectServer]:
    """The session's server as this test's Prefect API, with the test's own PREFECT_HOME
    (nothing is read from or written to ~/.prefect)."""
    from tenfold.flows import client_env

    with client_env(prefect_server.api_url, tmp_path / "prefect-home"):
        yield prefect_server


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
    prefect_server: PrefectServer,
    module_tracking: Path,
    world: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[RetrainingConfig, Any]:
    """A lake with the history landed and one retrain flow run done: v1 is the
    champion."""
    from retraining.flows import retrain
    from tenfold.flows import client_env

    lake_dir = tmp_path_factory.mktemp("lake")
    cfg = small_config(lake_dir)
    land_days(Lake(str(lake_dir)), world, range(HISTORY_DAYS))
    with client_env(prefect_server.api_url, tmp_path_factory.mktemp("prefect-home")):
        outcome = retrain(config=cfg)
    assert outcome.champion == "1", outcome
    return cfg, outcome


def day_rows(world: Any, index: int) -> pd.DataFrame:
    rows: pd.DataFrame = world.inputs.loc[world.day == index]
    return rows


def date_of(world: Any, index: int) -> dt.date:
    day: dt.date = world.date(index)
    return day
