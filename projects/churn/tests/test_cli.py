"""The CLI on another churn CSV (schema inferred) and on bad input (no traceback)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from churn.__main__ import app
from tenfold.testing import assert_predict_guards_its_files, output_has

runner = CliRunner()


def bank_churn_csv(path: Path, n: int = 400) -> Path:
    """A differently shaped churn file: other names, a numeric column stored as text."""
    rng = np.random.default_rng(0)
    age = rng.integers(18, 90, n)
    products = rng.integers(1, 5, n)
    country = rng.choice(["France", "Spain", "Germany"], n)
    logit = 0.06 * (age - 45) + 0.8 * (country == "Germany") - 0.5 * (products == 2)
    frame = pd.DataFrame(
        {
            "RowId": np.arange(n),
            "Age": age,
            "Balance": [f"{v:.2f}" if i % 17 else " " for i, v in enumerate(rng.gamma(2, 4e4, n))],
            "Geography": country,
            "NumOfProducts": products,
            "Exited": (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int),
        }
    )
    frame.to_csv(path, index=False)
    return path


@pytest.mark.usefixtures("isolated_tracking")
def test_train_on_another_churn_csv(tmp_path: Path) -> None:
    data = bank_churn_csv(tmp_path / "bank.csv")
    result = runner.invoke(
        app,
        [
            "run",
            "--data",
            str(data),
            "--target",
            "Exited",
            "--id",
            "RowId",
            "--trials",
            "2",
            "--cv-folds",
            "3",
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
    )
    assert result.exit_code == 0, result.output
    metrics = tmp_path / "reports" / "custom" / "bank" / "metrics.json"
    assert metrics.is_file()
    assert "churn-bank" in result.output  # registered under its own name, not the Telco one
    from mlflow import MlflowClient

    version = MlflowClient().get_model_version_by_alias("churn-bank", "champion")
    assert str(version.version) == "1"


def test_unknown_target_is_one_clear_line(tmp_path: Path) -> None:
    data = bank_churn_csv(tmp_path / "bank.csv", n=50)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "Churned"])
    assert result.exit_code == 2
    assert output_has(result, "error: target column 'Churned' not found")
    assert "Traceback" not in result.output


def test_predict_on_a_bad_file_names_column_and_row(tmp_path: Path) -> None:
    bad = tmp_path / "customers.csv"
    pd.DataFrame({"customerID": ["a"], "tenure": ["x"]}).to_csv(bad, index=False)
    result = runner.invoke(
        app, ["predict", "--input", str(bad), "--output", str(tmp_path / "out.csv")]
    )
    assert result.exit_code == 2
    assert output_has(result, "missing column(s)")
    assert "Traceback" not in result.output


def test_cli_rejects_bad_options() -> None:
    result = runner.invoke(app, ["run", "--trials", "0"])
    assert result.exit_code == 2
    assert output_has(result, "--trials")


def test_a_value_that_is_not_a_number_names_file_column_and_row(tmp_path: Path) -> None:
    data = bank_churn_csv(tmp_path / "bank.csv", n=200)
    frame = pd.read_csv(data, dtype=str, keep_default_na=False)
    frame.loc[40, "Balance"] = "12k"
    frame.to_csv(data, index=False)
    result = runner.invoke(app, ["train", "--data", str(data), "--target", "Exited"])
    assert result.exit_code == 2
    assert output_has(result, f"error: {data}: column 'Balance', row 41: '12k' is not a number")
    assert "Traceback" not in result.output


def test_registered_names_keep_the_published_champion_apart() -> None:
    """An offline run (synthetic twin) or a user's CSV never takes `churn@champion`."""
    from churn.config import ChurnConfig
    from tenfold.data import DataSource

    real = DataSource(dataset="telco-churn", kind="real", origin="cache")
    twin = DataSource(dataset="telco-churn", kind="synthetic", origin="synthetic")
    own = ChurnConfig(data_path=Path("/data/bank.csv"))
    assert ChurnConfig().registered_model_name(real) == "churn"
    assert ChurnConfig().registered_model_name(twin) == "churn-synthetic"
    assert own.registered_model_name(real) == "churn-bank"


def test_predict_guards_its_files(tmp_path: Path) -> None:
    """Output = input (however spelt), a directory, a header-only input: one line, exit
    code 2, the input untouched (issue 8 §3)."""
    assert_predict_guards_its_files(app, tmp_path)
