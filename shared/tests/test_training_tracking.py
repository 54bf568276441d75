"""A training logged to MLflow and read back by run id: what `train` writes, `evaluate`
finds again, exactly that run, and only when it is a finished training of the same
config and data."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.linear_model import LogisticRegression

from tenfold import tracking
from tenfold.data import DataError, DataSource
from tenfold.training import Candidate, ProjectConfig, TrainResult
from tenfold.tuning import TuningResult

SOURCE = DataSource(dataset="toy", kind="real", origin="cache", sha256={"toy.csv": "cd34"})


@dataclass(frozen=True)
class ToyConfig(ProjectConfig):
    experiment: str = "toy"
    model_name: str = "toy"
    reports_dir: Path = Path("reports")
    n_trials: int = 3


def toy_training(C: float = 0.5) -> TrainResult[Candidate, None]:
    X = pd.DataFrame({"a": np.arange(20.0)})
    y = (X["a"] > 9).astype(int).to_numpy()
    trials = pd.DataFrame(
        {
            "number": [0, 1, 2],
            "value": [0.7, np.nan, 0.9],
            "state": ["COMPLETE", "PRUNED", "COMPLETE"],
        }
    )
    tuned = Candidate(
        name="lr",
        model=LogisticRegression(C=C).fit(X, y),
        params={"C": C, "class_weight": None, "penalty": "l2"},
        metric="roc_auc",
        fold_scores=[0.8, 1.0],
        oof=pd.DataFrame({"oof_proba": [0.1, 0.30000000000000004], "y": [0, 1]}),
        metadata={"decision_threshold": 0.3},
        metrics={"decision_threshold": 0.3},
        tuning=TuningResult({"C": C}, 0.9, 3, 1, trials),
    )
    plain = dataclasses.replace(tuned, name="plain", tuning=None, fold_scores=[0.6, 0.7])
    return TrainResult({"lr": tuned, "plain": plain}, "lr", None, SOURCE, X.head(3))


@pytest.mark.usefixtures("isolated_tracking")
def test_a_training_round_trips_by_run_id() -> None:
    result = toy_training()
    run_id = tracking.log_training(result, config=ToyConfig())
    assert result.run_id == run_id
    assert result.candidates["lr"].model_uri is not None

    back = tracking.read_training(ToyConfig(), SOURCE, run_id=run_id)
    assert (back.run_id, back.best_name, set(back.candidates)) == (run_id, "lr", {"lr", "plain"})
    lr = back.candidates["lr"]
    # typed params (MLflow keeps strings), exact out-of-fold floats, fold scores in order
    assert lr.params == {"C": 0.5, "class_weight": None, "penalty": "l2"}
    assert lr.oof["oof_proba"].tolist() == [0.1, 0.30000000000000004]
    assert lr.fold_scores == [0.8, 1.0]
    assert lr.cv_score == pytest.approx(0.9)
    assert lr.metadata["decision_threshold"] == 0.3
    assert lr.tuning is not None
    assert (lr.tuning.n_trials, lr.tuning.n_pruned, lr.tuning.best_score) == (3, 1, 0.9)
    assert back.candidates["plain"].tuning is None
    np.testing.assert_allclose(
        lr.model.predict_proba(result.input_example),
        result.candidates["lr"].model.predict_proba(result.input_example),
    )
    client = MlflowClient()
    parent = client.get_run(run_id)
    (study,) = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{run_id}' and tags.`tenfold.stage` = 'tuning'",
    )
    assert study.data.tags["tenfold.candidate"] == "lr"
    history = client.get_metric_history(study.info.run_id, "trial_score")
    assert [(m.step, m.value) for m in history] == [(0, 0.7), (2, 0.9)]
    assert parent.data.metrics["cv_roc_auc.plain"] == pytest.approx(0.65)


@pytest.mark.usefixtures("isolated_tracking")
def test_without_a_run_id_the_newest_finished_training_of_these_inputs() -> None:
    first = tracking.log_training(toy_training(), config=ToyConfig())
    other = tracking.log_training(toy_training(C=2.0), config=ToyConfig(n_trials=9))
    assert tracking.read_training(ToyConfig(), SOURCE).run_id == first
    assert tracking.read_training(ToyConfig(n_trials=9), SOURCE).run_id == other
    # output folders are not training inputs: another --reports-dir finds the same run
    moved = ToyConfig(reports_dir=Path("elsewhere"))
    assert tracking.read_training(moved, SOURCE).run_id == first
    # a training still running is never picked up
    tracking.configure()
    with mlflow.start_run(run_name="train", tags={"tenfold.stage": "train"}) as running:
        mlflow.set_tag("tenfold.inputs_sha256", tracking.inputs_sha256(ToyConfig(), SOURCE))
        assert tracking.read_training(ToyConfig(), SOURCE).run_id == first
        with pytest.raises(DataError, match="has not finished"):
            tracking.read_training(ToyConfig(), SOURCE, run_id=running.info.run_id)


@pytest.mark.usefixtures("isolated_tracking")
def test_reading_back_refuses_other_options_other_data_and_other_runs() -> None:
    run_id = tracking.log_training(toy_training(), config=ToyConfig())
    with pytest.raises(DataError, match=r"n_trials=3 \(now 5\)"):
        tracking.read_training(ToyConfig(n_trials=5), SOURCE, run_id=run_id)
    moved = dataclasses.replace(SOURCE, sha256={"toy.csv": "ffff"})
    with pytest.raises(DataError, match="trained on other data"):
        tracking.read_training(ToyConfig(), moved, run_id=run_id)
    with pytest.raises(DataError, match="no finished training with these options"):
        tracking.read_training(ToyConfig(), moved)
    with pytest.raises(DataError, match="not 'toy-custom'"):
        tracking.read_training(ToyConfig(experiment="toy-custom"), SOURCE, run_id=run_id)
    child = tracking.read_training(ToyConfig(), SOURCE, run_id=run_id).candidates["lr"].run_id
    assert child is not None
    with pytest.raises(DataError, match="not a training run"):
        tracking.read_training(ToyConfig(), SOURCE, run_id=child)
    with pytest.raises(DataError, match="no MLflow run 'nope'"):
        tracking.read_training(ToyConfig(), SOURCE, run_id="nope")
