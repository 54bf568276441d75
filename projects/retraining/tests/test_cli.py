"""The CLI on bad input: one line naming what is wrong, exit code 2, no traceback, and
no Prefect server started for a command that cannot run."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from retraining.__main__ import app
from tenfold.testing import assert_predict_guards_its_files, output_has

runner = CliRunner()


def test_an_unknown_project_is_named() -> None:
    result = runner.invoke(app, ["retrain", "--project", "housing"])
    assert result.exit_code == 2
    assert output_has(
        result, "--project 'housing' is not one the flow retrains: ['churn', 'fraud']"
    )


def test_a_lake_that_cannot_be_listed_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["monitor", "--lake", "nosuchscheme://bucket/prefix"])
    assert result.exit_code == 2
    assert output_has(result, "--lake nosuchscheme://bucket/prefix: cannot list it")


def test_a_bad_day_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["monitor", "--lake", str(tmp_path), "--day", "2018-02-30"])
    assert result.exit_code == 2
    assert output_has(result, "'2018-02-30' is not a date (YYYY-MM-DD)")


def test_the_scenario_is_fraud_only() -> None:
    result = runner.invoke(app, ["run", "--project", "churn"])
    assert result.exit_code == 2
    assert output_has(result, "the scenario simulates fraud transactions")


@pytest.mark.parametrize("command", ["train", "evaluate"])
def test_training_by_hand_needs_a_window_of_batches(command: str, tmp_path: Path) -> None:
    result = runner.invoke(app, [command, "--lake", str(tmp_path / "empty")])
    assert result.exit_code == 2
    assert output_has(result, "not enough accepted fraud batches")
    assert output_has(result, "accepted days: none")


def test_deploy_needs_a_prefect_api(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    result = runner.invoke(app, ["deploy"])
    assert result.exit_code == 2
    assert output_has(result, "PREFECT_API_URL is not set")


def test_land_puts_a_file_into_the_lake_as_a_days_batch(tmp_path: Path) -> None:
    batch = tmp_path / "export.csv"
    pd.DataFrame({"transaction_id": [1, 2], "tx_amount": [3.5, 4.0]}).to_csv(batch, index=False)
    lake = tmp_path / "lake"
    result = runner.invoke(
        app, ["land", "--file", str(batch), "--day", "2018-06-08", "--lake", str(lake)]
    )
    assert result.exit_code == 0, result.output
    landed = lake / "incoming" / "fraud" / "2018-06-08.csv"
    assert landed.read_bytes() == batch.read_bytes()
    bad = runner.invoke(app, ["land", "--file", str(batch), "--day", "June 8th"])
    assert bad.exit_code == 2
    assert output_has(bad, "'June 8th' is not a date (YYYY-MM-DD)")


def test_predict_guards_its_files(tmp_path: Path) -> None:
    assert_predict_guards_its_files(app, tmp_path)
