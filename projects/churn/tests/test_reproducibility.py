"""Same seed, same lock → the same metrics.json bytes; and the committed real-data results
are what the code produces today."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn.__main__ import app
from churn.config import PROJECT_DIR
from tenfold.testing import assert_reproduces

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
    """`train` then `evaluate` (models, thresholds, out-of-fold scores read back from the
    MLflow runs) gives the same metrics as `run` in one process."""
    options = ["--trials", "4", "--cv-folds", "3"]
    together = run(tmp_path / "run", *options)
    result = runner.invoke(app, ["evaluate", "--reports-dir", str(tmp_path / "eval"), *options])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "eval" / "synthetic" / "metrics.json").read_bytes() == together
