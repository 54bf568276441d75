"""The CLI end to end on the synthetic twin (offline), and its user-facing errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from recsys.__main__ import app
from tenfold.testing import assert_predict_guards_its_files, output_has

runner = CliRunner()


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_run_on_the_twin_registers_recsys_synthetic(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One training, then what follows it: the gate promoted the first model of its name,
    ``evaluate`` read back from MLflow writes the same reports, ``predict`` serves the
    registered lists."""
    monkeypatch.setenv("RECSYS_STORE", "memory")
    options = ["--trial-scale", "0.05", "--no-minilm", "--synthetic-users", "80"]
    result = runner.invoke(app, ["run", *options, "--reports-dir", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert output_has(result, "SYNTHETIC twin")
    assert output_has(result, "recsys-synthetic v1 promoted to @champion (no champion yet)")
    written = tmp_path / "run" / "synthetic"
    metrics = json.loads((written / "metrics.json").read_text())
    assert metrics["data"]["kind"] == "synthetic"
    assert set(metrics["models"]) >= {"popularity", "als", "bpr", "ease", "svd", "hybrid"}
    assert (written / "accuracy.png").is_file()
    from mlflow import MlflowClient

    client = MlflowClient()
    names = {m.name for m in client.search_registered_models()}
    assert names == {"recsys-synthetic"}  # never the real champion's name
    version = client.get_model_version_by_alias("recsys-synthetic", "champion")
    assert version.tags["candidate"] == metrics["champion"]

    training = ["--run-id", version.tags["training_run"]]
    again = runner.invoke(
        app, ["evaluate", *options, *training, "--reports-dir", str(tmp_path / "again")]
    )
    assert again.exit_code == 0, again.output
    assert output_has(again, "v1 is already the champion")
    reread = tmp_path / "again" / "synthetic"
    assert (reread / "metrics.json").read_bytes() == (written / "metrics.json").read_bytes()

    users = tmp_path / "users.csv"
    users.write_text("user_id\n1\nnobody\n")
    out = tmp_path / "lists.csv"
    model = ["--model-uri", "models:/recsys-synthetic@champion"]
    predicted = runner.invoke(app, ["predict", "--input", str(users), "--output", str(out), *model])
    assert predicted.exit_code == 0, predicted.output
    assert output_has(predicted, "top-10 of 2 users")
    import pandas as pd

    lists = pd.read_csv(out, dtype={"user_id": str, "item_id": str})
    assert lists.groupby("user_id")["rank"].max().to_dict() == {"1": 10, "nobody": 10}
    assert lists.loc[lists["user_id"] == "nobody", "cold_start"].all()
    assert not lists.loc[lists["user_id"] == "1", "cold_start"].any()


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


def test_predict_guards_its_files(tmp_path: Path) -> None:
    assert_predict_guards_its_files(app, tmp_path)
