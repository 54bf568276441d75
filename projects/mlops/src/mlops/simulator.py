"""The traffic simulator: applicants replayed over simulated days, drift injected on
purpose from a chosen day, true outcomes arriving days later.

Applicants are drawn (seeded, with replacement) from the rows the model never saw in
training (the test split), so before the drift a day looks like the training data. From
``drift_day`` on, the market moves (see :class:`mlops.config.SimulationConfig`): a young
segment, cut credit limits, repayment delays reported a month longer. Every applicant
keeps the real outcome of the client it was drawn from; it is reported
``label_delay_days`` after the application, as a lender learns of a default.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlops.config import MODEL_INPUTS, PAY_STATUS, SimulationConfig


@dataclass(frozen=True)
class Day:
    """One simulated day: the applications (API request bodies) and their outcomes."""

    index: int
    date: dt.date
    drifted: bool
    requests: list[dict[str, Any]]
    outcomes: pd.DataFrame  # application_id, defaulted


def day_date(sim: SimulationConfig, index: int) -> dt.date:
    return dt.date.fromisoformat(sim.start_date) + dt.timedelta(days=index)


def simulate_day(
    pool: pd.DataFrame, y: np.ndarray, sim: SimulationConfig, index: int, seed: int
) -> Day:
    """Day ``index`` (its own seeded generator: any day can be rebuilt alone)."""
    rng = np.random.default_rng([seed, index])
    n = sim.requests_per_day
    drifted = index >= sim.drift_day
    if drifted:
        young = np.flatnonzero(pool["AGE"].to_numpy() <= 27)
        n_young = round(sim.young_share * n)
        rows = np.concatenate([rng.choice(young, n_young), rng.choice(len(pool), n - n_young)])
    else:
        rows = rng.choice(len(pool), n)
    frame = pool.iloc[rows][list(MODEL_INPUTS)].reset_index(drop=True).copy()
    if drifted:
        frame["LIMIT_BAL"] = np.maximum(
            np.round(frame["LIMIT_BAL"].to_numpy() * sim.limit_scale / 10_000) * 10_000, 10_000
        )
        later = rng.random(n) < sim.delay_share
        for column in PAY_STATUS:
            values = frame[column].to_numpy()
            frame[column] = np.where(later, np.minimum(values + sim.delay_shift, 8), values)
    date = day_date(sim, index)
    ids = [f"D{index:03d}-{k:05d}" for k in range(n)]
    records = frame.astype(float).to_dict("records")
    requests = [
        {"application_id": ids[k], "application_date": date.isoformat(), **_numbers(record)}
        for k, record in enumerate(records)
    ]
    outcomes = pd.DataFrame({"application_id": ids, "defaulted": y[rows].astype(int)})
    return Day(index, date, drifted, requests, outcomes)


def _numbers(record: Mapping[Any, Any]) -> dict[str, Any]:
    """Integers where the API expects integers (statuses, age, education)."""
    integers = {*PAY_STATUS, "AGE", "EDUCATION"}
    return {str(k): int(v) if k in integers else float(v) for k, v in record.items()}


@dataclass
class Sent:
    """What sending a day's requests saw."""

    ok: int = 0
    failed: int = 0
    versions: dict[str, int] = field(default_factory=dict)
    statuses: dict[int, int] = field(default_factory=dict)


async def _send(base_url: str, requests: list[dict[str, Any]], concurrency: int) -> Sent:
    import httpx

    sent = Sent()
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    for body in requests:
        queue.put_nowait(body)

    async def worker(client: httpx.AsyncClient) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            try:
                answer = await client.post("/v1/predict", json=body)
            except httpx.HTTPError:
                sent.failed += 1
                continue
            sent.statuses[answer.status_code] = sent.statuses.get(answer.status_code, 0) + 1
            if answer.status_code != 200:
                sent.failed += 1
                continue
            sent.ok += 1
            version = str(answer.json().get("model_version"))
            sent.versions[version] = sent.versions.get(version, 0) + 1

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        await asyncio.gather(*(worker(client) for _ in range(concurrency)))
    return sent


def send(base_url: str, requests: list[dict[str, Any]], concurrency: int = 16) -> Sent:
    """POST every request to ``/v1/predict`` with ``concurrency`` clients."""
    return asyncio.run(_send(base_url, requests, concurrency))
