"""Cells: the same folds for every framework, and failures recorded with their cause and
scored as the constant predictor."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd

from automl_bench import cell as cells
from automl_bench import grid
from automl_bench.config import Profile
from automl_bench.data import Task
from automl_bench.frameworks import Budget, Constant, align_proba
from automl_bench.scoring import score

PRELOAD = ["numpy", "pandas", "lightgbm"]


def budget(tmp_path: Path, **kw: object) -> Budget:
    base = {"seconds": None, "iterations": 2, "cores": 1, "memory_gb": 4.0, "scratch": tmp_path}
    return Budget(**{**base, **kw})  # type: ignore[arg-type]


def test_constant_predicts_training_shares(
    toy_task: Task, tiny_profile: Profile, tmp_path: Path
) -> None:
    data, _ = cells.fold_data(toy_task, 0, tiny_profile, seed=0)
    model = Constant()
    model.fit(data, budget(tmp_path))
    assert np.allclose(model.predict(data.X_test), data.y_train.mean())


def test_align_proba_fills_missing_classes() -> None:
    full = align_proba(np.array([[0.2, 0.8]]), np.array([0, 2]), 3)
    assert full.tolist() == [[0.2, 0.0, 0.8]]


def test_log_loss_renormalises_and_clips() -> None:
    y = np.array([0, 1])
    assert score("log_loss", y, np.array([[1.0, 0.0], [0.0, 1.0]])) < 1e-10
    assert score("log_loss", y, np.array([[0.0, 1.0], [1.0, 0.0]])) > 30


def test_every_framework_gets_the_same_fold(toy_task: Task, tiny_profile: Profile) -> None:
    first, y1 = cells.fold_data(toy_task, 1, tiny_profile, seed=3)
    second, y2 = cells.fold_data(toy_task, 1, tiny_profile, seed=3)
    pd.testing.assert_frame_equal(first.X_test, second.X_test)
    assert (y1 == y2).all()


def test_training_rows_are_capped_for_every_framework(
    toy_task: Task, tiny_profile: Profile
) -> None:
    capped = dataclasses.replace(tiny_profile, max_train_rows=50)
    data, y_test = cells.fold_data(toy_task, 0, capped, seed=0)
    assert len(data.y_train) == 50
    assert len(y_test) == 100  # the test fold is never subsampled


def test_a_crash_is_a_result_with_its_cause(
    toy_task: Task, tiny_profile: Profile, tmp_path: Path
) -> None:
    data, _ = cells.fold_data(toy_task, 0, tiny_profile, seed=0)
    labels = data.y_train.astype(float)
    labels[0] = np.nan  # LightGBM refuses missing labels
    broken = dataclasses.replace(data, y_train=labels)
    status, message, _ = cells.run_isolated(
        "lightgbm", broken, budget(tmp_path), hard_limit=120, preload=PRELOAD
    )
    assert status == "crash"
    assert message.startswith("ValueError: ")


def test_time_out_and_memory_limits_kill_the_job(
    toy_task: Task, tiny_profile: Profile, tmp_path: Path
) -> None:
    data, _ = cells.fold_data(toy_task, 0, tiny_profile, seed=0)
    status, message, _ = cells.run_isolated(
        "manual", data, budget(tmp_path, iterations=500), hard_limit=1.0, preload=PRELOAD
    )
    assert status == "timeout", message
    status, message, _ = cells.run_isolated(
        "manual", data, budget(tmp_path, memory_gb=0.01), hard_limit=120, preload=PRELOAD
    )
    assert status == "memory", message
    assert "limit 0.01 GiB" in message


def test_a_failed_cell_scores_as_the_constant_predictor(
    toy_task: Task, tiny_profile: Profile
) -> None:
    too_short = dataclasses.replace(tiny_profile, iterations=500, time_limit=1.0)
    cell = cells.Cell("toy", "manual", 0, too_short, seed=0, frameworks=("lightgbm",))
    result = cells.run_cell(cell, toy_task)
    assert result.status == "failed"
    assert result.failure is not None
    assert result.failure.startswith("timeout:")
    assert result.score == result.constant_score == 0.5


def test_manual_pipeline_beats_the_constant(toy_task: Task, tiny_profile: Profile) -> None:
    cell = cells.Cell("toy", "manual", 0, tiny_profile, seed=0)
    result = cells.run_cell(cell, toy_task, isolate=False)
    assert result.status == "ok"
    assert result.score > 0.75 > result.constant_score
    assert set(result.info["trials"]) == {"lightgbm", "xgboost", "catboost"}
    assert all(n == 2 for n in result.info["trials"].values())  # the iteration budget


def test_cells_are_ordered_cheap_datasets_first_and_long_jobs_first() -> None:
    """The scheduler's priorities (higher first): a cheaper dataset's cells before a
    dearer one's, and within a dataset the long frameworks before the short ones."""
    p = Profile(name="t", folds=1, cores=1, memory_gb=1, workers=2, iterations=1)
    planned = [
        grid.Cell(dataset=d, framework=f, fold=0, profile=p, seed=0)
        for d in ("fraud", "breast-cancer")
        for f in ("constant", "lightgbm", "autogluon", "manual")
    ]
    order = grid.dataset_order(planned)
    assert order == ["breast-cancer", "fraud"]
    ranked = sorted(planned, key=lambda c: -grid.priority(c, order))
    assert [(c.dataset, c.framework) for c in ranked] == [
        ("breast-cancer", "autogluon"),
        ("breast-cancer", "manual"),
        ("breast-cancer", "lightgbm"),
        ("breast-cancer", "constant"),
        ("fraud", "autogluon"),
        ("fraud", "manual"),
        ("fraud", "lightgbm"),
        ("fraud", "constant"),
    ]
