"""The gate never promotes a worse model: the library's rule over many pairs, and a
challenger that scores worse than the champion on the same validation rows, registered
and gated by ``promote_if_better`` exactly as the flow does it, kept out of service with
the decision in the audit history and on its training run."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.base import clone

from retraining import pipeline
from retraining.features import window_of
from retraining.fraud_target import FraudTarget
from retraining.interface import PERIOD_COLUMN
from retraining.scenario import batch_of
from tenfold import promotion
from tenfold.data import DataSource
from tenfold.promotion import Gate, ValidationSet, decide
from tenfold.storage import Watermark

from .conftest import HISTORY_DAYS, SMALL


def test_decide_never_promotes_a_worse_or_equal_score() -> None:
    """The library's rule for a lower-is-better metric, over many random pairs."""
    gate = Gate("cost", False, 50.0, ValidationSet("v", "0", 1))
    rng = np.random.default_rng(0)
    for champion, challenger in rng.uniform(0, 10_000, (2000, 2)):
        promoted = decide(gate, float(challenger), float(champion)).promote
        assert promoted == (champion - challenger > 50.0)
    assert not decide(gate, math.nan, 100.0).promote
    assert not decide(gate, 100.0, 100.0).promote


def history_of(world: Any, target: FraudTarget, days: range) -> pd.DataFrame:
    """The days' batches as the flow keeps them: each checked and parsed by the batch
    contract, stamped with its day."""
    frames = []
    for index in days:
        day = world.date(index)
        raw = batch_of(world, index).to_csv(index=False).encode()
        verdict, frame = pipeline.inspect_batch(
            target, f"incoming/fraud/{day}.csv", raw, Watermark()
        )
        assert frame is not None, verdict.reasons
        frames.append(frame.assign(**{PERIOD_COLUMN: pd.Timestamp(day)}))
    return pd.concat(frames, ignore_index=True)


@pytest.mark.usefixtures("isolated_tracking")
def test_a_worse_challenger_is_kept_out_of_service(world: Any) -> None:
    target = FraudTarget(SMALL)
    source = DataSource(dataset="fraud batches", kind="synthetic", origin="lake")
    # v1: the champion, trained on the window that closes one day before the challenger's
    first = history_of(world, target, range(HISTORY_DAYS))
    champion = target.build_challenger(first, window_of(first, SMALL, target), source)
    v1 = pipeline.register(target, champion)
    assert pipeline.gate(target, champion, v1).promoted  # no champion yet

    history = history_of(world, target, range(HISTORY_DAYS + 1))
    window = window_of(history, SMALL, target)
    result = target.build_challenger(history, window, source)
    # the same pipeline, fitted on the training days with their labels shuffled: it has
    # learned nothing, and its threshold no longer fits it
    split = result.data.periods.split
    shuffled = np.random.default_rng(1).permutation(split.y_train)
    candidate = result.best
    bad = dataclasses.replace(candidate, model=clone(candidate.model).fit(split.X_train, shuffled))
    result.candidates[result.best_name] = bad

    registration = pipeline.register(target, result, {"window": window.describe()})
    decision = pipeline.gate(target, result, registration)

    assert not decision.promoted
    assert decision.challenger_score is not None
    assert decision.champion_score is not None
    assert decision.challenger_score > decision.champion_score  # worse: costs more
    assert "not better" in decision.reason
    client = MlflowClient()
    model = registration.model_name
    assert client.get_model_version_by_alias(model, "champion").version == 1
    last = promotion.history(model)[-1]
    assert (last.action, last.version, last.champion) == ("keep", registration.version, "1")
    assert last.validation_set == decision.validation_set
    assert decision.validation_set.startswith(
        f"fraud validation period {window.validation_start}..{window.validation_end}"
    )
    run = client.get_run(registration.run_id).data
    assert run.tags["retraining.decision"] == "kept"
    assert run.metrics["gate_challenger_score"] == pytest.approx(decision.challenger_score)
    flow = client.download_artifacts(registration.run_id, "retraining/flow.json")
    assert json.loads(Path(flow).read_text(encoding="utf-8")) == {"window": window.describe()}
