"""The committed real-data results are what the code produces today, byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlops.__main__ import app
from mlops.config import PROJECT_DIR
from tenfold.testing import assert_reproduces, run_metrics

COMMITTED = PROJECT_DIR / "reports" / "metrics.json"


@pytest.mark.repro
@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.usefixtures("isolated_tracking")
def test_committed_results_are_reproduced(tmp_path: Path, data_dir: Path) -> None:
    produced = run_metrics(app, tmp_path / "reports")
    assert_reproduces(produced, COMMITTED, remake="TENFOLD_DATA_DIR=../shared/datasets make mlops")


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_offline_run_uses_the_twin_and_registers_its_own_name(tmp_path: Path) -> None:
    from mlflow import MlflowClient

    produced = run_metrics(app, tmp_path / "reports", "--trials", "2")
    assert b'"kind": "synthetic"' in produced
    champion = MlflowClient().get_model_version_by_alias("mlops-synthetic", "champion")
    assert str(champion.version) == "1"
