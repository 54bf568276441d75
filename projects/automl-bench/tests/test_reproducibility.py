"""The iteration-budgeted profile gives the same bytes: CI re-runs one committed cell."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from automl_bench.__main__ import app
from automl_bench.config import PROJECT_DIR
from tenfold.testing import assert_reproduces

COMMITTED = PROJECT_DIR / "reports" / "repro" / "cell-breast-cancer-manual-fold0.json"


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking")
def test_committed_repro_cell_is_reproduced(tmp_path: Path) -> None:
    out = tmp_path / "cell.json"
    result = CliRunner().invoke(
        app,
        [
            "cell",
            "--profile",
            "repro",
            "--dataset",
            "breast-cancer",
            "--framework",
            "manual",
            "--fold",
            "0",
            "--output",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert_reproduces(
        out.read_bytes(),
        COMMITTED,
        remake="python -m automl_bench cell --profile repro --dataset breast-cancer "
        f"--framework manual --fold 0 --output {COMMITTED.relative_to(PROJECT_DIR.parents[1])}",
    )
