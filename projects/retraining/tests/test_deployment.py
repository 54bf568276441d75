"""The retrain flow as a Prefect deployment with an interval schedule, on a real local
Prefect server: deployed to a process work pool, run by a worker (a separate process,
as on the EC2 host), polling the lake it was given."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from retraining import flows
from retraining.data import Layout
from tenfold.flows import PrefectServer, deploy_to_pool, run_worker_once, wait_for_flow_run
from tenfold.storage import Lake, load_watermark

from .conftest import land_days


@pytest.mark.slow
@pytest.mark.service
@pytest.mark.usefixtures("isolated_tracking")
def test_a_deployment_runs_on_the_local_prefect_server(
    prefect: PrefectServer, tmp_path: Path, world: Any
) -> None:
    from prefect import get_client
    from prefect.deployments import run_deployment

    lake_dir = tmp_path / "lake"
    landed = land_days(Lake(str(lake_dir)), world, range(3))
    every = dt.timedelta(hours=1)
    deployment_id = deploy_to_pool(
        Path(flows.__file__).parent,
        "flows.py:retrain",
        name="fraud-test",
        work_pool="retraining-test",
        every=every,
        parameters={"lake": str(lake_dir), "project": "fraud"},
    )
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment(deployment_id)
    assert deployment.name == "fraud-test"
    assert [s.schedule.interval for s in deployment.schedules] == [every]  # type: ignore[union-attr]
    assert deployment.parameters == {"lake": str(lake_dir), "project": "fraud"}

    # what the schedule does every hour, now: a run the pool's worker picks up
    run = run_deployment(deployment_id, timeout=0)
    worker = run_worker_once(
        "retraining-test", env={"PREFECT_API_URL": prefect.api_url}, timeout=600
    )
    final = wait_for_flow_run(run.id, timeout=120)  # type: ignore[union-attr]
    assert final.state is not None
    assert final.state.is_completed(), worker.stdout[-3000:] + worker.stderr[-3000:]
    # the run polled the lake: every landed object is now in the watermark
    watermark = load_watermark(Lake(str(lake_dir)), Layout("fraud").watermark)
    assert sorted(p.key for p in watermark.objects) == sorted(
        key.removeprefix(f"{lake_dir}/") for key in landed
    )


def test_the_worker_serves_both_flows_on_interval_schedules() -> None:
    """What ``python -m retraining deploy`` serves (the worker image's command)."""
    hour = dt.timedelta(hours=1)
    retrain, monitor = flows.deployments(
        "s3://tenfold-lake/tenfold", "fraud", retrain_every=hour, monitor_every=6 * hour
    )
    parameters = {"lake": "s3://tenfold-lake/tenfold", "project": "fraud"}
    for deployment, flow_name, every in (
        (retrain, "retrain", hour),
        (monitor, "monitor", 6 * hour),
    ):
        assert (deployment.name, deployment.flow_name) == ("fraud", flow_name)
        # found by module path: runs wherever the package is installed (the image's venv)
        assert deployment.entrypoint == f"retraining.flows.{flow_name}"
        assert [s.schedule.interval for s in deployment.schedules] == [every]  # type: ignore[union-attr]
        assert deployment.parameters == parameters
