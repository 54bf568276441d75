"""Same seed, same lock → the same metrics.json bytes; and the committed real-data results
are what the code produces today."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from churn.__main__ import app
from churn.config import PROJECT_DIR
from tenfold.testing import assert_reproduces, output_has

runner = CliRunner()
COMMITTED = PROJECT_DIR / "reports" / "metrics.json"


def run(reports: Path, *extra: str) -> bytes:
    result = runner.invoke(app, ["run", "--reports-dir", str(reports), *extra])
    assert result.exit_code == 0, result.output
    found = list(reports.rglob("metrics.json"))
    assert len(found) == 1, found
    return found[0].read_bytes()


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_same_seed_same_bytes(tmp_path: Path) -> None:
    first = run(tmp_path / "a", "--trials", "6", "--cv-folds", "3")
    second = run(tmp_path / "b", "--trials", "6", "--cv-folds", "3")
    assert first == second
    assert b'"kind": "synthetic"' in first
    # an offline run registers under its own name: the published churn@champion is untouched
    registry = MlflowClient()
    assert [m.name for m in registry.search_registered_models()] == ["churn-synthetic"]
    champion = registry.get_model_version_by_alias("churn-synthetic", "champion")
    challenger = registry.get_model_version_by_alias("churn-synthetic", "challenger")
    assert (str(champion.version), str(challenger.version)) == ("1", "2")  # equal: not better


@pytest.mark.repro
@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.usefixtures("isolated_tracking")
def test_committed_results_are_reproduced(tmp_path: Path, data_dir: Path) -> None:
    produced = run(tmp_path / "reports")
    assert_reproduces(produced, COMMITTED, remake="TENFOLD_DATA_DIR=../shared/datasets make churn")


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_evaluate_stage_rebuilds_the_training_from_mlflow(tmp_path: Path) -> None:
    """`train` then `evaluate --run-id` (models, thresholds, out-of-fold scores read back
    from exactly that MLflow run) gives the same metrics as `run` in one process."""
    options = ["--trials", "4", "--cv-folds", "3"]
    together = run(tmp_path / "run", *options)
    trained = runner.invoke(app, ["train", *options])
    assert trained.exit_code == 0, trained.output
    run_id = re.search(r"--run-id ([0-9a-f]{32})", trained.output.replace("\n", ""))
    assert run_id is not None, trained.output
    result = runner.invoke(
        app,
        ["evaluate", "--run-id", run_id[1], "--reports-dir", str(tmp_path / "eval"), *options],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval" / "synthetic" / "metrics.json").read_bytes() == together
    # the challenger scored the same as the champion on the test split: not promoted
    assert output_has(result, "stays @challenger, champion v1 kept")
    wrong = runner.invoke(app, ["evaluate", "--run-id", run_id[1], "--trials", "5"])
    assert wrong.exit_code == 2
    assert output_has(wrong, "n_trials=4 (now 5)")
