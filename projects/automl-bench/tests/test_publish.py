"""Publishing the results: ``evaluate`` writes the reports from stored cells and registers
them as a version of ``automl_bench``; the gate promotes it unless it covers fewer cells
than the served one; the API and ``predict`` read the champion back (a real MLflow store
per test; the cells are made by hand, no grid runs)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner

from automl_bench import grid, results, store
from automl_bench.__main__ import app
from automl_bench.cell import CellResult
from automl_bench.config import BenchConfig, load_profile
from tenfold.errors import DataError
from tenfold.testing import output_has

pytestmark = pytest.mark.usefixtures("isolated_tracking")
runner = CliRunner()
OPTIONS = ["--profile", "repro", "--datasets", "breast-cancer,digits"]
OPTIONS += ["--frameworks", "constant,lightgbm,manual"]
# each framework's score on every fold: the manual pipeline best, the constant last
SCORES = {"constant": 0.5, "lightgbm": 0.8, "manual": 0.9}


def store_cells(datasets: tuple[str, ...] = ("breast-cancer", "digits")) -> list[CellResult]:
    """Stored cells for the planned grid of OPTIONS (their keys and signatures)."""
    cfg = BenchConfig(profile="repro", datasets=datasets, frameworks=tuple(SCORES))
    cells = []
    for planned in grid.plan(cfg, load_profile("repro")):
        metric = "roc_auc" if planned.dataset == "breast-cancer" else "log_loss"
        value = SCORES[planned.framework]
        cells.append(
            CellResult(
                dataset=planned.dataset,
                framework=planned.framework,
                fold=planned.fold,
                profile="repro",
                budget="4 iterations",
                seed=42,
                metric=metric,
                status="ok",
                score=value if metric == "roc_auc" else 1.0 - value,
                constant_score=0.5,
                fit_seconds=1.0,
                predict_seconds=0.0,
                n_train=100,
                n_test=50,
                data_kind="real",
                data_sha256="",
                signature=planned.signature,
            )
        )
        store.record(cfg.experiment, cells[-1])
    return cells


def evaluate(reports: Path, *extra: str) -> Any:
    result = runner.invoke(app, ["evaluate", *OPTIONS, "--reports-dir", str(reports), *extra])
    assert result.exit_code == 0, result.output
    return result


def test_evaluate_publishes_and_the_champion_is_served(tmp_path: Path) -> None:
    store_cells()
    reports = tmp_path / "reports"
    output = evaluate(reports)
    assert output_has(output, "automl_bench v1 promoted to @champion")
    assert (reports / "repro" / "metrics.json").is_file()
    assert (reports / "repro" / "cells.json").is_file()
    served = results.load("models:/automl_bench@champion")
    assert served.card.version == "1"
    assert served.cells_reported == 2 * 3 * 3
    assert [r["framework"] for r in served.leaderboard("repro")] == [
        "manual",
        "lightgbm",
        "constant",
    ]
    # the same results again add no version
    again = evaluate(reports)
    assert output_has(again, "results unchanged: automl_bench v1"), again.output


def test_a_publication_covering_fewer_cells_is_kept_back(tmp_path: Path) -> None:
    store_cells()
    evaluate(tmp_path / "reports")
    # the same grid on one dataset only, published over the complete one
    result = runner.invoke(
        app,
        [
            "evaluate",
            "--profile",
            "repro",
            "--datasets",
            "digits",
            "--frameworks",
            "constant,lightgbm,manual",
            "--reports-dir",
            str(tmp_path / "reports"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert output_has(result, "automl_bench v2 stays @challenger, champion v1 kept")
    assert results.load("models:/automl_bench@champion").cells_reported == 18
    from tenfold.promotion import history

    assert [r.action for r in history("automl_bench")] == ["promote", "keep"]


def test_predict_looks_published_scores_up(tmp_path: Path) -> None:
    store_cells()
    evaluate(tmp_path / "reports")
    pairs = tmp_path / "pairs.csv"
    pd.DataFrame({"dataset": ["digits", "breast-cancer"], "framework": ["manual", None]}).to_csv(
        pairs, index=False
    )
    out = tmp_path / "scores.csv"
    result = runner.invoke(app, ["predict", "--input", str(pairs), "--output", str(out)])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out)
    assert list(scores["framework"]) == ["manual", "manual", "lightgbm", "constant"]
    assert list(scores["rank"]) == [1.0, 1.0, 2.0, 3.0]
    assert scores.loc[1, "mean"] == pytest.approx(0.9)
    # a name the results do not hold: one line naming the row
    pd.DataFrame({"dataset": ["digits", "imagenet"]}).to_csv(pairs, index=False)
    result = runner.invoke(app, ["predict", "--input", str(pairs), "--output", str(out)])
    assert result.exit_code == 2
    assert output_has(result, "row 2: dataset 'imagenet' is not in the repro results")
    # the input is never overwritten
    result = runner.invoke(app, ["predict", "--input", str(pairs), "--output", str(pairs)])
    assert result.exit_code == 2
    assert output_has(result, "is the input file")


def test_without_a_champion_serve_and_predict_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"no automl_bench@champion yet: run `make automl-bench`"):
        results.load("models:/automl_bench@champion")
    result = runner.invoke(app, ["serve"])
    assert result.exit_code == 2
    assert output_has(result, "no automl_bench@champion yet")
    assert "Traceback" not in result.output


def test_evaluate_run_id_must_be_a_grid_of_these_options(tmp_path: Path) -> None:
    import mlflow

    store_cells(("digits",))
    result = runner.invoke(app, ["evaluate", *OPTIONS, "--run-id", "nope"])
    assert result.exit_code == 2
    assert output_has(result, "no MLflow run 'nope'")
    cell_run = mlflow.search_runs(experiment_names=["automl-bench"])["run_id"].iloc[0]
    result = runner.invoke(app, ["evaluate", *OPTIONS, "--run-id", cell_run])
    assert result.exit_code == 2
    assert output_has(result, "is not a grid run")


def test_a_grid_run_of_other_options_is_refused(tmp_path: Path) -> None:
    from automl_bench import train
    from tenfold import tracking

    cfg = BenchConfig(profile="repro", datasets=("digits",), frameworks=tuple(SCORES))
    with tracking.start_run(
        cfg.experiment, "grid-repro", config=cfg, tags={"tenfold.stage": "grid"}
    ) as run:
        pass
    other = dataclasses.replace(cfg, datasets=("breast-cancer", "digits"))
    with pytest.raises(DataError, match=r"ran with datasets=\('digits',\)"):
        train.from_run(other, grid.plan(other, load_profile("repro")), run.info.run_id)
