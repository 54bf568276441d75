"""The retrain flow, run by a real Prefect server, on a folder and on a real
S3-compatible server (moto) with the same code: bad batches quarantined with their
reasons, a challenger gated, the same data twice giving no new version, storage errors
retried (and only those)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import fsspec
import pytest
from fsspec.implementations.local import LocalFileSystem
from mlflow import MlflowClient

from retraining.data import Layout
from retraining.flows import retrain
from retraining.scenario import batch_of, broken, land
from tenfold import promotion
from tenfold.storage import Lake
from tenfold.testing import S3Server

from .conftest import HISTORY_DAYS, land_days, small_config

LAYOUT = Layout("fraud")


@pytest.fixture(params=["folder", "s3"])
def lake_url(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """The lake as its URL: a folder, or a prefix of a bucket on moto_server reached
    through the AWS environment variables (as in production, minus the endpoint)."""
    if request.param == "folder":
        yield str(tmp_path / "lake")
        return
    server: S3Server = request.getfixturevalue("s3")
    for name, value in server.env.items():
        monkeypatch.setenv(name, value)
    yield f"s3://tenfold-lake/{tmp_path.name}"


@pytest.mark.slow
@pytest.mark.service
@pytest.mark.usefixtures("prefect", "isolated_tracking")
def test_retrain_flow_on_folder_and_s3(lake_url: str, world: Any) -> None:
    cfg = small_config(lake_url)
    model = cfg.model_name
    lake = Lake(lake_url)
    land_days(lake, world, range(HISTORY_DAYS))
    # the next day's export is broken
    bad_day = world.date(HISTORY_DAYS)
    land(lake, LAYOUT, bad_day, broken(batch_of(world, HISTORY_DAYS), cfg.seed))

    first = retrain(config=cfg)
    assert first.count("accepted") == HISTORY_DAYS
    (bad,) = [b for b in first.batches if b.outcome == "quarantined"]
    assert bad.key == LAYOUT.batch(bad_day)
    assert bad.reasons[0].startswith("column 'tx_amount': ")  # a fifth of the amounts lost
    reason = lake.read_json(f"quarantine/{bad.key}.reason.json")
    assert reason["reasons"] == list(bad.reasons)
    assert not lake.exists(bad.key)
    assert lake.exists(f"quarantine/{bad.key}")
    assert first.gate is not None
    assert first.gate.promoted
    assert first.gate.reason == "no champion yet"
    assert first.champion == "1"
    assert lake.exists(LAYOUT.reference("1"))

    # the producer re-delivers the day and the next one lands: a challenger is gated
    land(lake, LAYOUT, bad_day, batch_of(world, HISTORY_DAYS), suffix=".v2")
    land_days(lake, world, range(HISTORY_DAYS + 1, HISTORY_DAYS + 2))
    second = retrain(config=cfg)
    assert [b.outcome for b in second.batches] == ["accepted", "accepted"]
    assert second.version == "2"
    assert second.gate is not None
    assert second.gate.validation_set.startswith("fraud validation period")
    assert second.gate.champion_score is not None  # the champion re-scored on the same rows
    history = promotion.history(model)
    assert [r.version for r in history] == ["1", "2"]
    assert history[-1].validation_rows
    assert history[-1].metric == "validation cost ($)"

    # the same data again: nothing new, no new version, no new audit record
    third = retrain(config=cfg)
    assert third.batches == ()
    assert third.reused
    assert third.version == "2"
    # the same bytes under another name: a duplicate, still no new version
    land(
        lake,
        LAYOUT,
        world.date(HISTORY_DAYS + 1),
        batch_of(world, HISTORY_DAYS + 1),
        suffix=".copy",
    )
    fourth = retrain(config=cfg)
    assert [b.outcome for b in fourth.batches] == ["duplicate"]
    assert fourth.reused
    assert fourth.version == "2"
    versions = MlflowClient().search_model_versions(f"name = '{model}'")
    assert sorted(str(v.version) for v in versions) == ["1", "2"]
    assert len(promotion.history(model)) == 2
    # the watermark lists every object and what became of it
    marks = json.loads(lake.read_text(LAYOUT.watermark))["objects"]
    outcomes = {m["key"].rsplit("/", 1)[1]: m["outcome"] for m in marks}
    assert outcomes[f"{bad_day}.csv"] == "quarantined"
    assert outcomes[f"{bad_day}.v2.csv"] == "accepted"
    assert outcomes[f"{world.date(HISTORY_DAYS + 1)}.copy.csv"] == "duplicate"


class FlakyFileSystem(LocalFileSystem):
    """A local folder behind the ``flaky://`` protocol whose first read of each object
    named in ``fail_once`` drops the connection (as a throttled or reset S3 request)."""

    protocol = ("flaky",)
    fail_once: ClassVar[set[str]] = set()
    reads: ClassVar[dict[str, int]] = {}

    @classmethod
    def _strip_protocol(cls, path: Any) -> Any:
        return super()._strip_protocol(str(path).removeprefix("flaky://"))

    def cat_file(self, path: Any, start: Any = None, end: Any = None, **kwargs: Any) -> Any:
        name = str(path).rsplit("/", 1)[-1]
        self.reads[name] = self.reads.get(name, 0) + 1
        if name in self.fail_once and self.reads[name] == 1:
            raise ConnectionResetError("connection reset by peer")
        return super().cat_file(path, start, end, **kwargs)


@pytest.mark.service
@pytest.mark.usefixtures("prefect", "isolated_tracking")
def test_a_storage_error_is_retried(tmp_path: Path, world: Any) -> None:
    fsspec.register_implementation("flaky", FlakyFileSystem, clobber=True)
    folder = tmp_path / "lake"
    land_days(Lake(str(folder)), world, range(3))
    name = f"{world.date(1)}.csv"
    FlakyFileSystem.fail_once = {name}
    FlakyFileSystem.reads = {}
    outcome = retrain(config=small_config(f"flaky://{folder}"))
    # the read failed once, the task retried it, and the batch went through
    assert FlakyFileSystem.reads[name] == 2
    assert [b.outcome for b in outcome.batches] == ["accepted"] * 3
    assert "not enough history" in outcome.note


@pytest.mark.service
@pytest.mark.usefixtures("prefect")
def test_only_transient_storage_errors_are_retried() -> None:
    from prefect import flow, task

    from tenfold.flows import STORAGE_RETRIES
    from tenfold.storage import StorageError

    attempts: dict[str, int] = {}

    def failing(kind: str) -> None:
        attempts[kind] = attempts.get(kind, 0) + 1
        if kind == "throttled":
            raise StorageError("read s3://b/k: SlowDown")
        if kind == "denied":
            raise StorageError("read s3://b/k: access denied", transient=False)
        raise FileNotFoundError("s3://b/k: no such object")

    step = task(failing, **{**STORAGE_RETRIES, "retry_delay_seconds": 0})

    @flow
    def run(kind: str) -> None:
        step(kind)

    for kind in ("throttled", "denied", "missing"):
        with pytest.raises(OSError, match="s3://b/k"):
            run(kind)
    # 1 try + 3 retries on a transient error; a permanent one or a missing key fails at once
    assert attempts == {"throttled": 4, "denied": 1, "missing": 1}
