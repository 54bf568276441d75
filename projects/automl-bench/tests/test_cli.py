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
        (["run", "--target", "y"], "--target, --task and --id need --data (or --csv)"),
        (["evaluate", "--task", "ranking"], "--target, --task and --id need --data"),
    ],
)
def test_bad_options_are_one_line(args: list[str], message: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert output_has(result, f"error: {message}")
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--data needs --target (the column to predict)"),
        (["--target", "y", "--task", "ranking"], "--task 'ranking': use binary, multiclass"),
        (["--target", "y", "--datasets", "digits"], "the CSV is the grid's one dataset"),
    ],
)
def test_a_user_csv_needs_a_target_and_is_the_only_dataset(
    tmp_path: Path, args: list[str], message: str
) -> None:
    path = tmp_path / "d.csv"
    pd.DataFrame({"x": [1, 2], "y": [0, 1]}).to_csv(path, index=False)
    result = runner.invoke(app, ["run", "--csv", str(path), *args])
    assert result.exit_code == 2
    assert output_has(result, message)


def test_a_user_csv_is_its_own_grid_with_its_own_reports_and_name(tmp_path: Path) -> None:
    from automl_bench.__main__ import BenchOptions
    from automl_bench.config import BenchConfig
    from tenfold.training import model_name_for

    path = tmp_path / "loans.csv"
    pd.DataFrame({"x": [1, 2], "y": [0, 1]}).to_csv(path, index=False)
    cfg = BenchOptions(data_path=path, target="y", task="binary").apply(BenchConfig())
    assert cfg.datasets == ("csv-loans",)
    assert cfg.experiment == "automl-bench-custom"
    assert model_name_for(cfg.model_name, cfg.data_path) == "automl_bench-loans"


@pytest.mark.usefixtures("isolated_tracking")
def test_evaluate_without_stored_cells_says_so(tmp_path: Path) -> None:
    result = runner.invoke(app, ["evaluate", "--profile", "repro", "--reports-dir", str(tmp_path)])
    assert result.exit_code == 2
    assert output_has(result, "no stored cells for profile 'repro'")
