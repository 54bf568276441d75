"""Small, fast fixtures for the mlops tests: a synthetic frame, a quickly fitted
scorecard, and a served predictor built from it (no registry needed)."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest

from mlops.config import MlopsConfig
from mlops.data import make_synthetic
from mlops.scorecard import CalibratedScorecard
from mlops.serve import ScorecardPredictor
from mlops.train import make_pipeline, prepare, split, xgboost
from tenfold.benchmark import free_port, wait_ready
from tenfold.explain import encoded_mean
from tenfold.serving import ModelCard
from tenfold.testing import PostgresServer, postgres, postgres_available


@pytest.fixture(scope="session")
def cfg() -> MlopsConfig:
    return dataclasses.replace(MlopsConfig(), seed=7, cv_folds=3)


@pytest.fixture(scope="session")
def synthetic_frame() -> Any:
    return make_synthetic(3000, seed=7)


@pytest.fixture(scope="session")
def small_model(synthetic_frame: Any, cfg: MlopsConfig) -> tuple[CalibratedScorecard, Any]:
    """A small calibrated XGBoost scorecard on the twin (not the published model)."""
    data = split(prepare(synthetic_frame, cfg), cfg)
    pipeline = make_pipeline(xgboost(cfg, n_estimators=40, max_depth=3), scale=False)
    model = CalibratedScorecard(pipeline, cv=3, random_state=7).fit(data.X_train, data.y_train)
    return model, data


@pytest.fixture(scope="session")
def predictor(small_model: tuple[CalibratedScorecard, Any]) -> ScorecardPredictor:
    model, data = small_model
    card = ModelCard(name="mlops", version="1", run_id="test")
    return ScorecardPredictor(
        model, card=card, background_mean=encoded_mean(model.pipeline_, data.X_train)
    )


# --------------------------------------------------------------------------- services


@pytest.fixture
def pg() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL cluster (fsync on: the durability tests crash it)."""
    if not postgres_available():
        pytest.skip("Debian's postgresql is not installed (.ci/run installs it)")
    with postgres(fsync=True) as server:
        yield server


@contextmanager
def running(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port in a thread; its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        wait_ready(port, timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@dataclass
class Load:
    """What a load run saw: each response's status, request id and model version."""

    answers: list[tuple[int, str, str | None]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def ok_ids(self) -> list[str]:
        return [rid for status, rid, _ in self.answers if status == 200]


async def _load(base: str, seconds: float, concurrency: int, body: dict[str, Any]) -> Load:
    import httpx

    seen = Load()
    deadline = time.monotonic() + seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                r = await client.post("/v1/predict", json=body)
            except httpx.HTTPError as exc:
                seen.errors.append(repr(exc))
                continue
            version = r.json().get("model_version") if r.status_code == 200 else None
            seen.answers.append((r.status_code, r.headers.get("x-request-id", ""), version))

    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return seen


def load_for(base: str, seconds: float, body: dict[str, Any], concurrency: int = 8) -> Load:
    return asyncio.run(_load(base, seconds, concurrency, body))
