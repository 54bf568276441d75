"""The CLI: `detect` on any sensor CSV, `nab-score` on a folder of NAB outputs, clear
errors for bad input (one red line, exit code 2)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from anomaly.__main__ import app
from tenfold.testing import assert_predict_guards_its_files, output_has

runner = CliRunner()


@pytest.fixture
def sensor_csv(tmp_path: Path, planted: np.ndarray) -> Path:
    times = pd.date_range("2024-03-01", periods=len(planted), freq="5min")
    frame = pd.DataFrame(
        {"when": times, "temperature": planted, "pressure": 2 + planted / 10, "site": "A"}
    )
    path = tmp_path / "sensors.csv"
    frame.to_csv(path, index=False)
    return path


@pytest.mark.usefixtures("isolated_tracking")
def test_detect_writes_one_row_per_timestamp(sensor_csv: Path, tmp_path: Path) -> None:
    out = tmp_path / "flags.csv"
    result = runner.invoke(
        app,
        [
            "detect",
            "--data",
            str(sensor_csv),
            "--time-col",
            "when",
            "--value-col",
            "temperature",
            "--value-col",
            "pressure",
            "--output",
            str(out),
            "--probation",
            "150",
        ],
    )
    assert result.exit_code == 0, result.output
    flags = pd.read_csv(out)
    assert len(flags) == 600
    for name in ("zscore", "iqr", "iforest", "lof", "consensus"):
        assert {f"{name}_score", f"{name}_flag"} <= set(flags.columns)
    assert {"timestamp", "temperature", "pressure", "detectors_flagged", "families_flagged"} <= set(
        flags.columns
    )
    assert flags.loc[:149, "lof_score"].eq(0).all()  # learnt, not scored
    assert flags["families_flagged"].to_numpy()[450] >= 1
    assert output_has(result, "600 rows (150 learnt first)")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--time-col", "when", "--value-col", "humidity"],
            "column(s) ['humidity'] not in the file",
        ),
        (
            ["--time-col", "time", "--value-col", "temperature"],
            "column(s) ['time'] not in the file",
        ),
        (
            ["--time-col", "when", "--value-col", "site"],
            "column 'site', row 1: cannot parse as float",
        ),
        (
            ["--time-col", "temperature", "--value-col", "pressure"],
            "column 'temperature', row 1: cannot parse as datetime",
        ),
        (["--time-col", "when", "--value-col", "pressure", "--probation", "900"], "only 600 rows"),
    ],
)
@pytest.mark.usefixtures("isolated_tracking")
def test_bad_input_is_one_clear_line(
    sensor_csv: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(
        app, ["detect", "--data", str(sensor_csv), "--output", str(tmp_path / "o.csv"), *args]
    )
    assert result.exit_code == 2, result.output
    assert output_has(result, message), result.output
    assert "Traceback" not in result.output


def test_nab_score_on_a_folder_of_outputs(tmp_path: Path) -> None:
    """A detector that fires on the first row of the one window scores 100."""
    times = pd.date_range("2024-01-01", periods=200, freq="h")
    scores = np.zeros(200)
    scores[100] = 0.9
    results = tmp_path / "results" / "mine" / "demo"
    results.mkdir(parents=True)
    pd.DataFrame({"timestamp": times, "anomaly_score": scores}).to_csv(
        results / "mine_machine.csv", index=False
    )
    windows = tmp_path / "windows.json"
    windows.write_text(json.dumps({"demo/machine.csv": [[str(times[100]), str(times[119])]]}))
    result = runner.invoke(
        app,
        [
            "nab-score",
            "--results",
            str(tmp_path / "results"),
            "--threshold",
            "0.5",
            "--windows",
            str(windows),
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["files"]["demo/machine.csv"]["score"] == pytest.approx(1.0)
    assert document["normalised"] == pytest.approx(100.0)


def test_nab_score_names_an_unknown_profile_and_file(tmp_path: Path) -> None:
    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "x_unknown_series.csv").write_text(
        "timestamp,anomaly_score\n2024-01-01,0.1\n"
    )
    windows = tmp_path / "w.json"
    windows.write_text(json.dumps({"demo/machine.csv": []}))
    result = runner.invoke(
        app,
        [
            "nab-score",
            "--results",
            str(tmp_path / "r"),
            "--threshold",
            "0.5",
            "--profile",
            "lenient",
        ],
    )
    assert result.exit_code == 2
    assert output_has(result, "--profile 'lenient'")
    result = runner.invoke(
        app,
        [
            "nab-score",
            "--results",
            str(tmp_path / "r"),
            "--threshold",
            "0.5",
            "--windows",
            str(windows),
        ],
    )
    assert result.exit_code == 2
    assert output_has(result, "no NAB series of that name")


@pytest.mark.real_data
def test_nab_score_reproduces_the_published_numenta_category_score(
    data_dir: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "numenta"
    shutil.copytree(data_dir / "nab" / "results" / "numenta", folder)
    result = runner.invoke(
        app, ["nab-score", "--results", str(folder), "--threshold", "0.5421876907348634"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert len(document["files"]) == 7
    assert document["normalised"] == pytest.approx(55.47, abs=0.01)
    assert document["files"]["realKnownCause/nyc_taxi.csv"]["score"] == pytest.approx(
        2.43572773247, abs=1e-6
    )


@pytest.mark.usefixtures("isolated_tracking")
def test_predict_guards_its_files(tmp_path: Path) -> None:
    assert_predict_guards_its_files(app, tmp_path, "--time-col", "id")
