"""The report's statistics on cells whose answers are known by hand."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from automl_bench import evaluate
from automl_bench.cell import CellResult
from tenfold.errors import DataError


def test_normalised_scores_run_from_constant_to_best(hand_cells: list[CellResult]) -> None:
    table = evaluate.normalised(evaluate.summary(hand_cells)).set_index(["dataset", "framework"])
    assert table.loc[("a", "constant"), "normalised"] == 0.0
    assert table.loc[("a", "manual"), "normalised"] == 1.0
    assert table.loc[("a", "lightgbm"), "normalised"] == pytest.approx(0.5)
    # lower is better for RMSE: 8 is 2/5 of the way from 10 to 5
    assert table.loc[("r", "lightgbm"), "normalised"] == pytest.approx(0.4)


def test_ranks_friedman_and_critical_difference(hand_cells: list[CellResult]) -> None:
    stats = evaluate.friedman_nemenyi(evaluate.summary(hand_cells))
    assert stats["mean_ranks"] == {"constant": 3.0, "lightgbm": 2.0, "manual": 1.0}
    # Demšar (2006), table 5(a): q_0.05 = 2.343 for k = 3; CD = q * sqrt(k(k+1) / 6N)
    assert stats["critical_difference"] == pytest.approx(2.343 * (3 * 4 / (6 * 4)) ** 0.5, abs=1e-3)
    # a perfectly consistent order over 4 datasets: chi2 = 12 N / (k(k+1)) * sum(R^2) - 3N(k+1) = 8
    assert stats["statistic"] == pytest.approx(8.0)
    assert stats["p_value"] < 0.05


def test_report_section_marks_failures_and_best(
    hand_cells: list[CellResult], make_cell: Callable[..., CellResult]
) -> None:
    cells = list(hand_cells)
    cells[0] = make_cell("a", "constant", 0, 0.5, 0.5)
    failed = cells[4]
    cells[4] = CellResult(
        **{**failed.document(), "status": "failed", "failure": "timeout: x", "score": 0.5}
    )
    document = evaluate.metrics_document(
        cells,
        profile={
            "name": "t",
            "folds": 2,
            "time_budget": 1,
            "cores": 1,
            "memory_gb": 1,
            "workers": 1,
        },
        datasets=[],
    )
    text = evaluate.results_section(document)
    assert "`t/a/lightgbm/fold1`: timeout: x" in text
    assert "**0.9000 ± 0.0000**" in text
    assert "[1]" in text  # the failed fold is flagged in its cell


def test_the_document_ranks_each_dataset_and_orders_the_leaderboard(
    hand_cells: list[CellResult], make_cell: Callable[..., CellResult]
) -> None:
    # on dataset b, lightgbm ties manual: both share ranks 1 and 2 (1.5), neither wins it
    cells = [c for c in hand_cells if not (c.dataset == "b" and c.framework == "lightgbm")]
    cells += [make_cell("b", "lightgbm", fold, 0.9, 0.5) for fold in (0, 1)]
    document = evaluate.metrics_document(cells, profile={"name": "t"}, datasets=[])
    ranks = {(r["dataset"], r["framework"]): r["rank"] for r in document["results"]}
    assert ranks[("a", "manual")] == 1.0
    assert ranks[("r", "constant")] == 3.0  # RMSE: the highest error ranks last
    assert ranks[("b", "lightgbm")] == ranks[("b", "manual")] == 1.5
    board = document["leaderboard"]
    assert [r["framework"] for r in board] == ["manual", "lightgbm", "constant"]
    strong, weak, constant = board
    assert strong["mean_rank"] == pytest.approx((1 + 1.5 + 1 + 1) / 4)
    assert weak["mean_rank"] == pytest.approx((2 + 1.5 + 2 + 2) / 4)
    assert (strong["wins"], weak["wins"], constant["wins"]) == (3, 0, 0)
    assert constant["mean_normalised"] == 0.0


def _grid_result(cells: list[CellResult], planned_extra: int = 0) -> Any:
    from automl_bench.cell import Cell
    from automl_bench.config import BenchConfig, Profile
    from automl_bench.train import GridResult

    profile = Profile(name="t", folds=2, cores=1, memory_gb=1, workers=1, time_budget=1)
    planned = [Cell(c.dataset, c.framework, c.fold, profile, 0) for c in cells]
    planned += [Cell("late", "manual", k, profile, 0) for k in range(planned_extra)]
    return GridResult(BenchConfig(), profile, planned, cells, len(cells), [], "run-1")


def test_evaluate_reports_complete_datasets_and_says_what_is_missing(
    hand_cells: list[CellResult],
) -> None:
    result = _grid_result(hand_cells, planned_extra=2)
    evaluation = evaluate.evaluate(result, result.cfg)
    document = evaluation.metrics
    assert document["incomplete"] == {
        "stored": len(hand_cells),
        "planned": len(hand_cells) + 2,
        "complete_datasets": ["a", "b", "c", "r"],
    }
    assert {r["dataset"] for r in document["results"]} == {"a", "b", "c", "r"}
    assert set(evaluation.figures) == {
        "critical_difference.png",
        "score_vs_time.png",
        "normalised.png",
    }
    assert json.loads(evaluation.files["cells.json"])["cells"][0]["dataset"] == "a"


def test_evaluate_without_a_complete_dataset_says_so(hand_cells: list[CellResult]) -> None:
    result = _grid_result([], planned_extra=2)
    with pytest.raises(DataError, match="no dataset of profile 't' has all its cells stored"):
        evaluate.evaluate(result, result.cfg)


def test_the_gate_counts_published_cells_and_lets_an_equal_count_through(
    hand_cells: list[CellResult], publication_dir: Path
) -> None:
    from automl_bench import results
    from tenfold.promotion import decide
    from tenfold.serving import ModelCard
    from tenfold.tracking import ModelRecord

    result = _grid_result(hand_cells)
    gate, score = evaluate.promotion_gate(result, result.cfg)
    publication = results.read(publication_dir, ModelCard(name="automl_bench"))
    record = ModelRecord(publication, "x", "automl_bench", "1", None, None, {}, {})
    assert score(record) == len(hand_cells) == 24
    assert decide(gate, 24.0, 24.0).promote  # a re-run with the same coverage
    assert decide(gate, 25.0, 24.0).promote
    assert not decide(gate, 12.0, 24.0).promote  # a subset of the datasets is kept back
    assert gate.validation_set.rows == 24


def test_the_fraud_simulator_does_not_make_a_real_run_synthetic(
    hand_cells: list[CellResult],
) -> None:
    """The simulator's data is synthetic by design; only a twin standing in for a missing
    file makes the document's data "synthetic"."""
    simulated = [
        dataclasses.replace(c, dataset="fraud", data_kind="synthetic")
        for c in hand_cells
        if c.dataset == "a"
    ]
    real = [c for c in hand_cells if c.dataset != "a"] + simulated
    document = evaluate.metrics_document(real, profile={"name": "t"}, datasets=[])
    assert document["data"] == {"kind": "real", "kinds": ["real", "synthetic"]}
    twin = [dataclasses.replace(c, data_kind="synthetic") if c.dataset == "b" else c for c in real]
    document = evaluate.metrics_document(twin, profile={"name": "t"}, datasets=[])
    assert document["data"]["kind"] == "synthetic"


def test_a_p_value_below_the_files_precision_is_shown_as_a_bound() -> None:
    assert evaluate.p_text(0.0) == "p < 0.0001"
    assert evaluate.p_text(3.2e-5) == "p < 0.0001"
    assert evaluate.p_text(0.0013) == "p = 0.0013"
