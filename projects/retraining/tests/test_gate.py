"""The gate never promotes a worse model: a challenger that scores worse than the
champion on the same validation rows is registered, gated by the library's
``promote_if_better``, and kept out of service, with the decision in the audit history."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
from mlflow import MlflowClient
from sklearn.base import clone

from retraining import data, pipeline
from retraining.interface import target_for
from tenfold import promotion
from tenfold.promotion import Gate, ValidationSet, decide


def test_decide_never_promotes_a_worse_or_equal_score() -> None:
    """The library's rule for a lower-is-better metric, over many random pairs."""
    gate = Gate("cost", False, 50.0, ValidationSet("v", "0", 1))
    rng = np.random.default_rng(0)
    for champion, challenger in rng.uniform(0, 10_000, (2000, 2)):
        promoted = decide(gate, float(challenger), float(champion)).promote
        assert promoted == (champion - challenger > 50.0)
    assert not decide(gate, math.nan, 100.0).promote
    assert not decide(gate, 100.0, 100.0).promote


@pytest.mark.usefixtures("prefect_harness")
def test_a_worse_challenger_is_kept_out_of_service(champion: tuple[Any, Any]) -> None:
    cfg, _ = champion
    target = target_for(cfg)
    lake = data.open_lake(cfg)
    layout = data.Layout(cfg.project)
    from tenfold.storage import load_watermark

    watermark = load_watermark(lake, layout.watermark)
    window = data.require_window(cfg, target, watermark)
    history = data.read_history(lake, layout, watermark, window)
    source = data.window_source(cfg, lake, watermark, window)
    result = target.build_challenger(history, window, source)
    # the same pipeline, fitted on the training days with their labels shuffled: it has
    # learned nothing, and its threshold no longer fits it
    split = result.data.periods.split
    shuffled = np.random.default_rng(1).permutation(split.y_train)
    candidate = result.best
    bad = dataclasses.replace(candidate, model=clone(candidate.model).fit(split.X_train, shuffled))
    result.candidates[result.best_name] = bad

    registration = pipeline.register(target, result)
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
    run = client.get_run(registration.run_id).data
    assert run.tags["retraining.decision"] == "kept"
    assert run.metrics["gate_challenger_score"] == pytest.approx(decision.challenger_score)
