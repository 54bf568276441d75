"""Helpers every project's CLI repeats: where reports go, the name a model registers
under, the option groups declared once, and the test runner for `run`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
import typer.main
from typer.testing import CliRunner

from tenfold.cli import (
    CvFoldsOption,
    IdColumnOption,
    ModelUriOption,
    ProjectCli,
    ReportOptions,
    RunOptions,
    SeedOption,
    Summary,
    TabularOptions,
    TuningOptions,
    data_option,
    input_option,
    load_object,
    output_option,
    typer_app,
    write_csv,
)
from tenfold.data import DataError
from tenfold.reports import output_dir
from tenfold.testing import assert_reproduces, output_has, run_metrics
from tenfold.training import ProjectConfig, model_name_for


def test_output_dir_keeps_published_reports_for_real_project_data(tmp_path: Path) -> None:
    reports = tmp_path / "reports"
    assert output_dir(reports, kind="real") == reports
    assert output_dir(reports, kind="synthetic") == reports / "synthetic"
    custom = Path("/somewhere/shops.csv")
    assert output_dir(reports, kind="real", data_path=custom) == reports / "custom" / "shops"


def test_a_custom_csv_or_synthetic_model_never_takes_the_project_name() -> None:
    assert model_name_for("housing", None) == "housing"
    assert model_name_for("housing", Path("data/shops.csv")) == "housing-shops"
    assert model_name_for("housing", None, synthetic=True) == "housing-synthetic"
    # a user's CSV is named after the file, whatever the data's kind
    assert model_name_for("housing", Path("shops.csv"), synthetic=True) == "housing-shops"


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


def _render(metrics: Mapping[str, Any]) -> str:
    return f"| score |\n|---|\n| {metrics['score']} |"


def _project(tmp_path: Path) -> ProjectCli:
    (tmp_path / "reports").mkdir()
    (tmp_path / "README.md").write_text(
        "# p\n<!-- results:start -->\nold\n<!-- results:end -->\n", encoding="utf-8"
    )
    (tmp_path / "reports" / "metrics.json").write_text('{"score": 0.9}\n')
    return ProjectCli(
        tmp_path, service="tenfold.serving:create_app", results_table=f"{__name__}:_render"
    )


def test_project_cli_adds_serve_and_report(tmp_path: Path) -> None:
    project = _project(tmp_path)
    app = typer.Typer()

    @app.command()
    def run() -> None:
        pass

    project.install(app)
    assert set(typer.main.get_command(app).commands) == {"run", "serve", "report"}  # type: ignore[attr-defined]
    first = CliRunner().invoke(app, ["report"])
    assert first.exit_code == 0, first.output
    assert "| 0.9 |" in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "old" not in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert CliRunner().invoke(app, ["serve", "--port", "0"]).exit_code == 2  # port range


def test_project_cli_finish_refreshes_the_readme_only_for_published_reports(
    tmp_path: Path,
) -> None:
    project = _project(tmp_path)
    seen: list[Mapping[str, Any]] = []

    def summarise(metrics: Mapping[str, Any]) -> Summary:
        seen.append(metrics)
        return Summary(title="t", columns=("model",), rows=[("m",)], notes=("n",))

    elsewhere = tmp_path / "reports" / "synthetic"
    elsewhere.mkdir()
    (elsewhere / "metrics.json").write_text('{"score": 0.5}\n')
    project.finish(elsewhere, summarise, "p v1 promoted")
    assert "old" in (tmp_path / "README.md").read_text(encoding="utf-8")
    project.finish(tmp_path / "reports", summarise, "p v2 kept")
    assert "| 0.9 |" in (tmp_path / "README.md").read_text(encoding="utf-8")
    assert [m["score"] for m in seen] == [0.5, 0.9]


def test_load_object_and_write_csv(tmp_path: Path) -> None:
    import pandas as pd

    assert load_object("tenfold.cli:write_csv") is write_csv
    with pytest.raises(ValueError, match="module:attribute"):
        load_object("tenfold.cli")
    written = write_csv(pd.DataFrame({"a": [1, 2]}), tmp_path / "out" / "s.csv")
    assert written.read_text() == "a\n1\n2\n"


def test_assert_reproduces_names_the_changed_lines(tmp_path: Path) -> None:
    committed = tmp_path / "metrics.json"
    committed.write_bytes(b'{\n  "auc": 0.8412,\n  "seed": 42\n}\n')
    assert_reproduces(committed.read_bytes(), committed, remake="make p")
    with pytest.raises(AssertionError) as failure:
        assert_reproduces(b'{\n  "auc": 0.8413,\n  "seed": 42\n}\n', committed, remake="make p")
    message = str(failure.value)
    assert '-  "auc": 0.8412,' in message
    assert '+  "auc": 0.8413,' in message
    assert "`make p`" in message


def _render_latency(metrics: Mapping[str, Any]) -> str:
    return f"p50 {metrics['p50']} ms"


def test_project_cli_refreshes_extra_sections_when_their_file_exists(tmp_path: Path) -> None:
    base = _project(tmp_path)
    project = ProjectCli(
        base.project_dir,
        service=base.service,
        results_table=base.results_table,
        sections={"latency": ("latency.json", f"{__name__}:_render_latency")},
    )
    readme = tmp_path / "README.md"
    readme.write_text(
        readme.read_text() + "<!-- latency:start -->\nx\n<!-- latency:end -->\n", encoding="utf-8"
    )
    project.refresh_readme()  # no latency.json yet: that section is left alone
    assert "\nx\n" in readme.read_text()
    (tmp_path / "reports" / "latency.json").write_text('{"p50": 1.5}\n')
    app = typer.Typer()

    @app.command()
    def serve() -> None:  # the project's own serve command
        pass

    project.install(app, serve=False)
    assert CliRunner().invoke(app, ["report"]).exit_code == 0
    assert "p50 1.5 ms" in readme.read_text()
    assert "| 0.9 |" in readme.read_text()


def test_data_option_must_name_an_existing_file(tmp_path: Path) -> None:
    app = typer_app("a project")
    seen: list[Path | None] = []

    @app.command()
    def run(data: data_option("a CSV") = None) -> None:  # type: ignore[valid-type]
        seen.append(data)

    @app.command()
    def other() -> None:
        pass

    assert CliRunner().invoke(app, []).exit_code in (0, 2)  # bare call shows the help
    missing = CliRunner().invoke(app, ["run", "--data", str(tmp_path / "nope.csv")])
    assert missing.exit_code == 2
    assert output_has(missing, "does not exist")
    (tmp_path / "ok.csv").write_text("a\n1\n")
    assert CliRunner().invoke(app, ["run", "--data", str(tmp_path / "ok.csv")]).exit_code == 0
    assert seen == [tmp_path / "ok.csv"]


def test_batch_input_must_exist_and_output_is_a_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    app = typer_app("a project")
    seen: list[tuple[Path, Path]] = []

    @app.command()
    def predict(
        input_path: input_option("rows") = ...,  # type: ignore[valid-type,assignment]
        output_path: output_option("scores") = ...,  # type: ignore[valid-type,assignment]
    ) -> None:
        seen.append((input_path, output_path))

    @app.command()
    def other() -> None:
        pass

    out = Path("new") / "scores.csv"
    missing = CliRunner().invoke(app, ["predict", "--input", "no.csv", "--output", str(out)])
    assert missing.exit_code == 2
    assert output_has(missing, "does not exist")
    (tmp_path / "rows.csv").write_text("a\n1\n")
    ok = CliRunner().invoke(app, ["predict", "--input", "rows.csv", "--output", str(out)])
    assert ok.exit_code == 0, ok.output
    assert seen == [(Path("rows.csv"), out)]


def test_output_has_finds_a_phrase_however_rich_wrapped_it(tmp_path: Path) -> None:
    # a long path in an error box at 50 columns: rich breaks words and the path itself
    app = typer_app("a project")

    @app.command()
    def run(data: data_option("a CSV") = None) -> None:  # type: ignore[valid-type]
        pass

    @app.command()
    def other() -> None:
        pass

    deep = tmp_path / ("a-rather-long-folder-name-" * 4) / "missing-file.csv"
    result = CliRunner().invoke(app, ["run", "--data", str(deep)])
    assert result.exit_code == 2
    assert "missing-file.csv' does not exist" not in result.output  # it was wrapped
    assert output_has(result, f"{deep}' does not exist")
    assert not output_has(result, "no such phrase")


# --------------------------------------------------------------------------- option groups


@dataclass(frozen=True)
class ToyConfig(ProjectConfig):
    experiment: str = "toy"
    model_name: str = "toy"
    reports_dir: Path = Path("reports")
    data_path: Path | None = None
    target: str = "churned"
    id_column: str | None = "customer"
    cv_folds: int = 4
    n_trials: int = 7


@dataclass(frozen=True)
class ToyOptions(TuningOptions, TabularOptions):
    pass


def _toy_app(tmp_path: Path) -> tuple[typer.Typer, list[Any]]:
    cli = ProjectCli(tmp_path, service="toy.serve:app", results_table="x:y", config=ToyConfig)
    app = typer_app("toy")
    seen: list[Any] = []

    @cli.command(app)
    def run(opts: ToyOptions, out: ReportOptions) -> None:
        """Run the toy."""
        seen.append(cli.configure(opts, out))

    @cli.command(app)
    def evaluate(opts: ToyOptions, which: RunOptions) -> None:
        """Evaluate the toy."""
        if which.run_id == "missing":
            raise DataError("no MLflow run 'missing'")
        seen.append((cli.configure(opts), which.run_id))

    return app, seen


def test_option_groups_give_every_command_the_same_options(tmp_path: Path) -> None:
    app, seen = _toy_app(tmp_path)
    runner = CliRunner()
    assert runner.invoke(app, ["run"]).exit_code == 0
    assert runner.invoke(app, ["evaluate", "--trials", "3", "--run-id", "abc"]).exit_code == 0
    default, (evaluated, run_id) = seen
    # the defaults shown and used are the project config's
    assert default == ToyConfig()
    assert (evaluated.n_trials, evaluated.cv_folds, run_id) == (3, 4, "abc")
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]

    def options(command: str) -> dict[str, Any]:
        return {p.opts[0]: p.default for p in commands[command].params}

    assert options("run") == {
        "--seed": 42,
        "--data": None,
        "--target": "churned",
        "--id": None,  # the project's own id column is not a default for a user's CSV
        "--cv-folds": 4,
        "--trials": 7,
        "--reports-dir": None,
        "--verbose": False,
    }
    assert list(options("run"))[-1] == "--verbose"  # last in --help
    assert set(options("evaluate")) - set(options("run")) == {"--run-id"}
    bad = runner.invoke(app, ["run", "--cv-folds", "1"])
    assert bad.exit_code == 2
    assert output_has(bad, "--cv-folds")
    mistake = runner.invoke(app, ["evaluate", "--run-id", "missing"])
    assert mistake.exit_code == 2
    assert output_has(mistake, "error: no MLflow run 'missing'")
    assert "Traceback" not in mistake.output


def test_a_users_csv_has_its_own_target_no_id_and_its_own_experiment(tmp_path: Path) -> None:
    app, seen = _toy_app(tmp_path)
    csv = tmp_path / "shops.csv"
    csv.write_text("a,b\n1,2\n")
    runner = CliRunner()
    # without --data the project's own dataset keeps its own target and id
    assert runner.invoke(app, ["run", "--target", "b"]).exit_code == 0
    assert runner.invoke(app, ["run", "--data", str(csv), "--target", "b"]).exit_code == 0
    assert runner.invoke(app, ["run", "--data", str(csv), "--id", "a"]).exit_code == 0
    reports = tmp_path / "out"
    assert runner.invoke(app, ["run", "--reports-dir", str(reports)]).exit_code == 0
    own, custom, with_id, elsewhere = seen
    assert (own.target, own.id_column, own.data_path) == ("churned", "customer", None)
    assert (custom.data_path, custom.target, custom.id_column) == (csv.resolve(), "b", None)
    assert custom.experiment == "toy-custom"
    assert with_id.id_column == "a"
    assert elsewhere.reports_dir == reports.resolve()
