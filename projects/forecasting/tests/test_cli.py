"""The CLI on other series (daily, several, their own column names) and on bad input:
one clear line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from forecasting.__main__ import app
from tenfold.testing import output_has

runner = CliRunner()


def shop_csv(path: Path, days: int = 3 * 365 + 120) -> Path:
    """Daily sales of two stores: a weekly and a yearly cycle, noise."""
    rng = np.random.default_rng(0)
    dates = pd.date_range("2015-01-01", periods=days, freq="D")
    rows = []
    for store, level in (("north", 200.0), ("south", 500.0)):
        weekly = 1 + 0.3 * (dates.dayofweek >= 5)
        yearly = 1 + 0.2 * np.sin(2 * np.pi * dates.dayofyear / 365.25)
        sales = level * weekly * yearly * rng.normal(1, 0.05, days)
        rows.append(
            pd.DataFrame(
                {"date": dates.strftime("%Y-%m-%d"), "store": store, "sales": sales.round(1)}
            )
        )
    pd.concat(rows).to_csv(path, index=False)
    return path


@pytest.mark.slow  # a whole run (tuning, backtest, refit, a fresh MLflow store): ~1 min
@pytest.mark.usefixtures("isolated_tracking")
def test_run_on_a_daily_csv_of_two_series(tmp_path: Path) -> None:
    data = shop_csv(tmp_path / "shop.csv")
    result = runner.invoke(
        app,
        [
            "run",
            "--data", str(data),
            "--time-col", "date",
            "--target-col", "sales",
            "--id-col", "store",
            "--origins", "2",
            "--jobs", "1",
            "--reports-dir", str(tmp_path / "reports"),
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    out = tmp_path / "reports" / "custom" / "shop"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["data"]["cadence"] == "daily"
    assert metrics["data"]["series"] == ["north", "south"]
    assert metrics["protocol"]["horizon_steps"] == 7
    per_origin = pd.read_csv(out / "backtest_origins.csv")
    assert len(per_origin) == 2 * 3  # origins × models
    assert output_has(result, "forecasting-shop v1 promoted to @champion")
    assert output_has(result, "models:/forecasting-shop@champion")
    from mlflow import MlflowClient

    version = MlflowClient().get_model_version_by_alias("forecasting-shop", "champion")
    assert version.tags["candidate"] == metrics["champion"]
    assert MlflowClient().get_experiment_by_name("forecasting-custom") is not None

    # batch forecasts with the registered model: one per request row, replays included
    requests = tmp_path / "requests.csv"
    requests.write_text("hours,start,series\n24,,north\n48,2017-06-01,south\n")
    out_csv = tmp_path / "forecasts.csv"
    predicted = runner.invoke(
        app,
        [
            "predict",
            "--input", str(requests),
            "--output", str(out_csv),
            "--model-uri", "models:/forecasting-shop@champion",
        ],
    )  # fmt: skip
    assert predicted.exit_code == 0, predicted.output
    table = pd.read_csv(out_csv)
    assert table.groupby("request").size().tolist() == [1, 2]  # daily: 24 h = 1 step
    assert table.loc[table["request"] == 1, "actual"].notna().all()
    assert table.loc[table["request"] == 0, "actual"].isna().all()


def test_an_unknown_column_is_one_clear_line(tmp_path: Path) -> None:
    data = shop_csv(tmp_path / "shop.csv", days=30)
    result = runner.invoke(app, ["train", "--data", str(data), "--time-col", "when"])
    assert result.exit_code == 2
    assert output_has(result, "error:")
    assert output_has(result, "column(s) ['when', 'y'] not in the data")
    assert "Traceback" not in result.output


def test_an_unsupported_frequency_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "meter.csv"
    times = pd.date_range("2018-01-01", periods=500, freq="15min")
    pd.DataFrame({"ds": times, "y": 1.0}).to_csv(path, index=False)
    result = runner.invoke(app, ["train", "--data", str(path)])
    assert result.exit_code == 2
    assert output_has(result, "cannot infer an hourly or daily frequency")


def test_too_short_a_series_says_how_to_fix_it(tmp_path: Path) -> None:
    data = shop_csv(tmp_path / "shop.csv", days=400)
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(data),
            "--time-col",
            "date",
            "--target-col",
            "sales",
            "--id-col",
            "store",
        ],
    )
    assert result.exit_code == 2
    assert output_has(result, "too short for 52 weekly origins")
    assert output_has(result, "--origins")


def test_a_bad_request_file_names_the_row(tmp_path: Path) -> None:
    requests = tmp_path / "requests.csv"
    requests.write_text("hours,start\n24,\nmany,\n")
    result = runner.invoke(
        app, ["predict", "--input", str(requests), "--output", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2
    assert output_has(result, "column 'hours', row 2: cannot parse as int: 'many'")


def test_help_lists_the_commands() -> None:
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("run", "train", "evaluate", "predict", "serve", "report"):
        assert output_has(result, command)
