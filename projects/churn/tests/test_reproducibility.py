"""Same seed, same lock → the same metrics.json bytes; and the committed real-data results
are what the code produces today."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from churn.__main__ import app
from churn.config import PROJECT_DIR

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


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.usefixtures("isolated_tracking")
def test_committed_results_are_reproduced(tmp_path: Path, data_dir: Path) -> None:
    produced = run(tmp_path / "reports")
    assert produced == COMMITTED.read_bytes(), (
        "re-training with the default config no longer gives the committed "
        "projects/churn/reports/metrics.json; if the change is intended, run `make churn` "
        "with TENFOLD_DATA_DIR set and commit the new results"
    )
