"""The CLI end to end on the synthetic twin (offline), and its user-facing errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recsys.__main__ import app
from tenfold.testing import output_has

runner = CliRunner()


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_run_on_the_twin_registers_recsys_synthetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_STORE", "memory")
    result = runner.invoke(
        app,
        [
            "run",
            "--trial-scale",
            "0.05",
            "--no-minilm",
            "--synthetic-users",
            "80",
            "--reports-dir",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert output_has(result, "SYNTHETIC twin")
    metrics = json.loads((tmp_path / "synthetic" / "metrics.json").read_text())
    assert metrics["data"]["kind"] == "synthetic"
    assert set(metrics["models"]) >= {"popularity", "als", "bpr", "ease", "svd", "hybrid"}
    assert (tmp_path / "synthetic" / "accuracy.png").is_file()
    from mlflow import MlflowClient

    names = {m.name for m in MlflowClient().search_registered_models()}
    assert names == {"recsys-synthetic"}  # never the real champion's name


def test_missing_column_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "r.csv"
    path.write_text("userId,movieId\n1,2\n")
    result = runner.invoke(app, ["run", "--ratings", str(path), "--user-col", "user"])
    assert result.exit_code == 2
    assert output_has(result, "column 'user' (--user-col) not found")


def test_unknown_dataset(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--dataset", "movielens-5k"])
    assert result.exit_code == 2
    assert output_has(result, "is not one of")
