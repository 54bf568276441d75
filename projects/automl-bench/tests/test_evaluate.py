"""The report's statistics on cells whose answers are known by hand."""

from __future__ import annotations

import pytest

from automl_bench import evaluate
from automl_bench.train import CellResult


def cell(
    dataset: str, framework: str, fold: int, score: float, constant: float, metric: str = "roc_auc"
) -> CellResult:
    return CellResult(
        dataset=dataset,
        framework=framework,
        fold=fold,
        profile="t",
        budget="1 s",
        seed=0,
        metric=metric,
        status="ok",
        score=score,
        constant_score=constant,
        fit_seconds=1.0,
        predict_seconds=0.0,
        n_train=10,
        n_test=10,
        data_kind="real",
        data_sha256="",
    )


def grid() -> list[CellResult]:
    """Four datasets; 'strong' always best, 'weak' always worst; one RMSE dataset."""
    cells = []
    for d in ("a", "b", "c"):
        for fold in (0, 1):
            cells += [
                cell(d, "constant", fold, 0.5, 0.5),
                cell(d, "weak", fold, 0.7, 0.5),
                cell(d, "strong", fold, 0.9, 0.5),
            ]
    for fold in (0, 1):
        cells += [
            cell("r", "constant", fold, 10.0, 10.0, "rmse"),
            cell("r", "weak", fold, 8.0, 10.0, "rmse"),
            cell("r", "strong", fold, 5.0, 10.0, "rmse"),
        ]
    return cells


def test_normalised_scores_run_from_constant_to_best() -> None:
    table = evaluate.normalised(evaluate.summary(grid())).set_index(["dataset", "framework"])
    assert table.loc[("a", "constant"), "normalised"] == 0.0
    assert table.loc[("a", "strong"), "normalised"] == 1.0
    assert table.loc[("a", "weak"), "normalised"] == pytest.approx(0.5)
    # lower is better for RMSE: 8 is 2/5 of the way from 10 to 5
    assert table.loc[("r", "weak"), "normalised"] == pytest.approx(0.4)


def test_ranks_friedman_and_critical_difference() -> None:
    stats = evaluate.friedman_nemenyi(evaluate.summary(grid()))
    assert stats["mean_ranks"] == {"constant": 3.0, "weak": 2.0, "strong": 1.0}
    # Demšar (2006), table 5(a): q_0.05 = 2.343 for k = 3; CD = q * sqrt(k(k+1) / 6N)
    assert stats["critical_difference"] == pytest.approx(2.343 * (3 * 4 / (6 * 4)) ** 0.5, abs=1e-3)
    # a perfectly consistent order over 4 datasets: chi2 = 12 N / (k(k+1)) * sum(R^2) - 3N(k+1) = 8
    assert stats["statistic"] == pytest.approx(8.0)
    assert stats["p_value"] < 0.05


def test_report_section_marks_failures_and_best() -> None:
    cells = grid()
    cells[0] = cell("a", "constant", 0, 0.5, 0.5)
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
    assert "`t/a/weak/fold1`: timeout: x" in text
    assert "**0.9000 ± 0.0000**" in text
    assert "[1]" in text  # the failed fold is flagged in its cell
