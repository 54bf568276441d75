"""The manual pipeline's Optuna trials share one study through RDB storage: PostgreSQL
(a throwaway cluster; .ci/run installs Debian's postgresql so that this runs in CI)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest

from automl_bench import manual
from automl_bench.cell import Cell, budget_for, fold_data
from automl_bench.config import Profile
from automl_bench.data import Task

pytestmark = pytest.mark.service


def test_two_processes_share_one_postgresql_study(
    postgres_url: str, toy_task: Task, tiny_profile: Profile, tmp_path: Path
) -> None:
    two_cores = Profile(
        name="pg", folds=3, cores=2, memory_gb=4, workers=1, iterations=6, time_limit=300
    )
    cell = Cell("toy", "manual", 0, two_cores, seed=0, optuna_storage=postgres_url)
    data, _ = fold_data(toy_task, 0, two_cores, seed=0)
    fit, valid = manual.inner_split(data)
    features = manual.ManualPipeline()._features(data)
    X_fit = features.fit_transform(data.X_train.iloc[fit], data.y_train[fit])
    X_val = features.transform(data.X_train.iloc[valid])
    budget = budget_for(cell, tmp_path)
    tuned = manual.tune_member(
        "lightgbm",
        data,
        (X_fit, data.y_train[fit], X_val, data.y_train[valid]),
        budget,
        n_trials=6,
        timeout=None,
    )
    study = optuna.load_study(study_name=f"{budget.study_prefix}-lightgbm", storage=postgres_url)
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == 6  # 3 trials from each of the 2 processes, in one study
    assert len({t.user_attrs["pid"] for t in complete}) == 2
    assert tuned.params == study.best_params
    # a job redone after a kill starts from a clean study, not from stale trials
    manual.study_for("lightgbm", budget, "maximize", 0, fresh=True)
    fresh = optuna.load_study(study_name=f"{budget.study_prefix}-lightgbm", storage=postgres_url)
    assert len(fresh.trials) == 0
