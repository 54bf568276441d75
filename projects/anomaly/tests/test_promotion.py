"""Training, read-back and the promotion gate: the best detector is registered as
challenger and promoted only when its leave-one-series-out NAB score beats the
champion's; a separate ``evaluate`` of a logged training reports what ``run`` reports."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sklearn.base import clone
from typer.testing import CliRunner

from anomaly import data, evaluate, train
from anomaly.__main__ import app
from anomaly.config import AnomalyConfig, DetectorConfig
from tenfold import promotion
from tenfold.testing import output_has
from tenfold.tracking import ModelRecord

runner = CliRunner()
# the statistical detectors only: seconds on the synthetic twin
FAST = ["--no-cmapss", "--detector", "zscore", "--detector", "iqr"]


@pytest.fixture
def small(small_cfg: DetectorConfig, tmp_path: Path) -> AnomalyConfig:
    return dataclasses.replace(
        AnomalyConfig(),
        detectors=("zscore", "iqr"),
        detector=small_cfg,
        synthetic_rows=1200,
        run_cmapss=False,
        reports_dir=tmp_path / "reports",
    )


def record(model: object, version: str = "1") -> ModelRecord:
    """A model as the registry hands it to the gate's scorer."""
    return ModelRecord(
        model=model,
        uri=f"models:/anomaly-synthetic/{version}",
        name="anomaly-synthetic",
        version=version,
        run_id=None,
        trained_at=None,
        metrics={},
        metadata={},
    )


@pytest.mark.usefixtures("offline")
def test_the_gate_scores_a_model_with_each_series_held_out(small: AnomalyConfig) -> None:
    result = train.train(small, data.load(small))
    gate, score = evaluate.promotion_gate(result, small)
    assert gate.higher_is_better
    assert gate.margin == small.promotion_margin
    assert gate.validation_set.rows == sum(s.n_rows for s in result.data.corpus.series.values())
    run = result.data
    for name in run.detectors:
        model = run.model(champion=name)
        assert score(record(model)) == pytest.approx(run.loso_choices[name].normalised, abs=1e-9)
    # another configuration runs its own detectors: a seed the statistical detectors do
    # not use gives the same scores by that path, a shorter window other ones
    other_seed = clone(run.model()).set_params(seed=small.seed + 1).fit()
    assert score(record(other_seed)) == pytest.approx(score(record(run.model())), abs=1e-9)
    narrower = dataclasses.replace(small, detector=dataclasses.replace(small.detector, window=10))
    assert score(record(train.train(narrower, data.load(narrower)).data.model())) != score(
        record(run.model())
    )


@pytest.mark.slow
@pytest.mark.usefixtures("offline", "isolated_tracking")
def test_run_then_train_and_evaluate_through_the_gate(tmp_path: Path) -> None:
    """``run`` registers the best detector and promotes it (no champion yet); ``train``
    registers the same detectors as a new challenger, and ``evaluate`` reads that
    training back, reports exactly what ``run`` reported and keeps the champion (the
    same score is not better by the margin)."""
    ran = runner.invoke(app, ["run", *FAST, "--reports-dir", str(tmp_path / "run")])
    assert ran.exit_code == 0, ran.output
    trained = runner.invoke(app, ["train", *FAST])
    assert trained.exit_code == 0, trained.output
    assert output_has(trained, "registered as anomaly-synthetic v2 @challenger")
    evaluated = runner.invoke(app, ["evaluate", *FAST, "--reports-dir", str(tmp_path / "eval")])
    assert evaluated.exit_code == 0, evaluated.output
    produced = (tmp_path / "eval" / "synthetic" / "metrics.json").read_bytes()
    assert produced == (tmp_path / "run" / "synthetic" / "metrics.json").read_bytes()
    audit = promotion.history("anomaly-synthetic")
    assert [(r.action, r.version, r.champion) for r in audit] == [
        ("promote", "1", "1"),
        ("keep", "2", "1"),
    ]
    assert audit[0].reason == "no champion yet"
    assert audit[1].challenger_score == audit[1].champion_score
    assert audit[1].metric == evaluate.GATE_METRIC
    assert "each series held out" in str(audit[1].validation_set)
    # evaluate with other options than any training's is refused, naming why
    other = runner.invoke(app, ["evaluate", "--no-cmapss", "--detector", "zscore"])
    assert other.exit_code == 2
    assert output_has(other, "no finished training with these options")
