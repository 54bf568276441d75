"""Helpers every project's CLI repeats: where reports go, the name a model registers
under, the standard options, and the test runner for `run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from typer.testing import CliRunner

from tenfold.cli import CvFoldsOption, IdColumnOption, ModelUriOption, SeedOption
from tenfold.reports import output_dir
from tenfold.testing import run_metrics
from tenfold.tracking import model_name_for


def test_output_dir_keeps_published_reports_for_real_project_data(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    assert output_dir(reports, kind="real") == reports
    assert output_dir(reports, kind="synthetic") == reports / "synthetic"
    custom = Path("/somewhere/shops.csv")
    assert output_dir(reports, kind="real", data_path=custom) == reports / "custom" / "shops"


def test_a_custom_csv_model_never_takes_the_project_name() -> None:
    assert model_name_for("housing", None) == "housing"
    assert model_name_for("housing", Path("data/shops.csv")) == "housing-shops"


def test_standard_options_and_run_metrics(tmp_path: Path) -> None:
    app = typer.Typer()

    @app.command()
    def run(
        reports_dir: Annotated[Path, typer.Option("--reports-dir")],
        seed: SeedOption = 1,
        cv_folds: CvFoldsOption = 5,
        id_column: IdColumnOption = None,
        model_uri: ModelUriOption = None,
    ) -> None:
        out = reports_dir / "synthetic"
        out.mkdir(parents=True)
        (out / "metrics.json").write_text(f'{{"seed": {seed}, "folds": {cv_folds}}}\n')

    @app.command()
    def other() -> None:  # a second command, so `run` stays a sub-command
        pass

    produced = run_metrics(app, tmp_path / "a", "--seed", "7", "--cv-folds", "3", "--id", "x")
    assert produced == b'{"seed": 7, "folds": 3}\n'
    rejected = CliRunner().invoke(app, ["run", "--reports-dir", "r", "--cv-folds", "1"])
    assert rejected.exit_code == 2
