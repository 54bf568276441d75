"""CLI: bad input is one clear line (exit 2), never a traceback; the contract's commands."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from automl_bench.__main__ import app
from tenfold.testing import output_has

runner = CliRunner()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "--datasets", "imagenet"], "unknown dataset(s) ['imagenet']"),
        (["train", "--frameworks", "h2o"], "unknown framework(s) ['h2o']"),
        (["train", "--profile", "huge"], "unknown profile 'huge'"),
        (["run", "--target", "y"], "--target and --task need --csv"),
    ],
)
def test_bad_options_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert output_has(result, f"error: {message}")
    assert "Traceback" not in result.output


def test_csv_needs_a_target(tmp_path: Path) -> None:
    path = tmp_path / "d.csv"
    pd.DataFrame({"x": [1, 2], "y": [0, 1]}).to_csv(path, index=False)
    result = runner.invoke(app, ["run", "--csv", str(path)])
    assert result.exit_code == 2
    assert output_has(result, "--csv needs --target")


@pytest.mark.usefixtures("isolated_tracking")
def test_evaluate_without_stored_cells_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--profile", "repro", "--reports-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert output_has(result, "no stored cells for profile 'repro'")
