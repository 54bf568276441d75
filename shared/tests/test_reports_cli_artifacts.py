"""Report files, artifacts attached to a finished run, and the shared CLI options."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from mlflow import MlflowClient
from typer.testing import CliRunner

from tenfold import tracking
from tenfold.cli import HostOption, PortOption, ReportsDirOption
from tenfold.evaluation import new_figure
from tenfold.reports import write_reports
from tenfold.testing import check_reason_codes, output_has


def test_write_reports_writes_stable_metrics_and_pngs(tmp_path: Path) -> None:
    fig = new_figure()
    fig.subplots().plot([0, 1], [1, 0])
    written = write_reports(tmp_path / "out", {"b": 1.23456789, "a": 2}, {"curve.png": fig})
    assert [p.name for p in written] == ["metrics.json", "curve.png"]
    assert (tmp_path / "out" / "metrics.json").read_text() == '{\n  "a": 2,\n  "b": 1.2346\n}\n'
    assert (tmp_path / "out" / "curve.png").read_bytes()[:4] == b"\x89PNG"


def test_log_artifacts_to_a_finished_run(isolated_tracking: Path, tmp_path: Path) -> None:
    with tracking.start_run("exp", "train") as run:
        pass
    report = tmp_path / "metrics.json"
    report.write_text("{}\n")
    tracking.log_artifacts_to(run.info.run_id, [report], artifact_path="reports")
    listed = MlflowClient().list_artifacts(run.info.run_id, "reports")
    assert [a.path for a in listed] == ["reports/metrics.json"]


def test_shared_options_validate_and_parse(tmp_path: Path) -> None:
    app = typer.Typer()

    @app.command()
    def serve(
        host: HostOption = "127.0.0.1",
        port: PortOption = 8000,
        reports_dir: ReportsDirOption = None,
    ) -> None:
        typer.echo(f"{host}:{port} {reports_dir}")

    runner = CliRunner()
    ok = runner.invoke(app, ["--port", "9001", "--reports-dir", str(tmp_path)])
    assert ok.exit_code == 0
    assert ok.output.strip() == f"127.0.0.1:9001 {tmp_path}"
    bad = runner.invoke(app, ["--port", "0"])
    assert bad.exit_code == 2
    assert output_has(bad, "--port")


def test_check_reason_codes_catches_a_wrong_order() -> None:
    good = [
        {"contribution": -2.0, "direction": "decreases", "readable": "a = 1 decreases risk"},
        {"contribution": 0.5, "direction": "increases", "readable": "b = 2 increases risk"},
    ]
    check_reason_codes(good, k=2, outcome="risk")
    with pytest.raises(AssertionError, match="not by magnitude"):
        check_reason_codes(good[::-1], k=2, outcome="risk")
    with pytest.raises(AssertionError, match="direction"):
        check_reason_codes([{**good[0], "direction": "increases"}], k=1, outcome="risk")
