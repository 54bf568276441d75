"""The CLI: clear one-line errors for user mistakes, and the ULB path end to end on its
offline twin (registered under its own name, refused by the transaction API)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from fraud.__main__ import app
from fraud.serve import load_predictor
from tenfold.serving import ServiceSettings
from tenfold.testing import assert_predict_guards_its_files, output_has

runner = CliRunner()


def test_unknown_dataset_is_one_clear_line() -> None:
    result = runner.invoke(app, ["run", "--dataset", "kaggle"])
    assert result.exit_code == 2
    assert output_has(result, "--dataset")
    assert output_has(result, "'kaggle' is not a dataset")
    assert "Traceback" not in result.output


def test_out_of_range_option() -> None:
    result = runner.invoke(app, ["train", "--customers", "5"])
    assert result.exit_code == 2
    assert output_has(result, "--customers")


@pytest.mark.usefixtures("isolated_tracking")
def test_predict_without_a_trained_model_says_so(tmp_path: Path) -> None:
    rows = tmp_path / "transactions.csv"
    pd.DataFrame({"tx_amount": [1.0]}).to_csv(rows, index=False)
    result = runner.invoke(app, ["predict", "--input", str(rows), "--output", str(tmp_path / "o")])
    assert result.exit_code == 2
    assert output_has(result, "error: cannot load the model models:/fraud@champion")
    assert output_has(result, "python -m fraud run")
    assert "Traceback" not in result.output


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_ulb_path_end_to_end_on_the_twin(tmp_path: Path) -> None:
    result = runner.invoke(app, ["run", "--dataset", "ulb", "--reports-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert output_has(result, "SYNTHETIC twin of the ULB file")
    # a twin's numbers never land where published results go
    assert (tmp_path / "synthetic" / "ulb" / "metrics.json").is_file()
    assert (tmp_path / "synthetic" / "ulb" / "reason_codes.png").is_file()
    # the twin's model never takes the name of the real ULB model (nor the simulator's)
    assert output_has(result, "fraud-ulb-synthetic v1 promoted to @champion")
    with pytest.raises(RuntimeError, match="trained on the ULB file"):
        load_predictor(ServiceSettings(model_uri="models:/fraud-ulb-synthetic@champion"))


def test_registered_names_keep_the_published_champion_apart() -> None:
    """The simulator is this project's own data (synthetic by design): `fraud`. The ULB
    file's model never replaces it, and the ULB twin's never takes the ULB name."""
    from fraud.__main__ import CLI, FraudOptions
    from fraud.config import FraudConfig
    from tenfold.data import DataSource

    simulated = DataSource(dataset="fraud-simulator", kind="synthetic", origin="synthetic")
    real = DataSource(dataset="creditcard-ulb", kind="real", origin="cache")
    twin = DataSource(dataset="creditcard-ulb", kind="synthetic", origin="synthetic")
    assert FraudConfig().registered_model_name(simulated) == "fraud"
    ulb = CLI.configure(FraudOptions(dataset="ulb"))
    assert (ulb.experiment, ulb.protocol.train) == ("fraud-ulb", 1.25)
    assert ulb.registered_model_name(real) == "fraud-ulb"
    assert ulb.registered_model_name(twin) == "fraud-ulb-synthetic"


def test_predict_guards_its_files(tmp_path: Path) -> None:
    """Output = input (however spelt), a directory, a header-only input: one line, exit
    code 2, the input untouched (issue 8 §3)."""
    assert_predict_guards_its_files(app, tmp_path)
