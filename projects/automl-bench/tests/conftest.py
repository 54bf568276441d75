"""Fixtures for the automl-bench tests: small tasks, a cheap profile, a throwaway PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from automl_bench.cell import CellResult
from automl_bench.config import Profile
from automl_bench.data import Task
from tenfold.data import DataSource


def make_task(n: int = 300, seed: int = 0) -> Task:
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": rng.choice(["red", "green", "blue"], n).astype(object),
        }
    )
    y = ((X["a"] + 0.5 * (X["colour"] == "red") + rng.normal(0, 0.5, n)) > 0).astype(np.int64)
    source = DataSource(dataset="toy", kind="synthetic", origin="synthetic")
    return Task("toy", "binary", X, y.to_numpy(), source, "stratified", "toy task")


def cell(
    dataset: str,
    framework: str,
    fold: int,
    score: float,
    constant: float,
    metric: str = "roc_auc",
    profile: str = "t",
) -> CellResult:
    return CellResult(
        dataset=dataset,
        framework=framework,
        fold=fold,
        profile=profile,
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


def hand_grid(profile: str = "t") -> list[CellResult]:
    """Four datasets with known answers: 'manual' always best, 'lightgbm' always second, the
    constant last; three ROC-AUC datasets and one RMSE dataset."""
    cells = []
    for d in ("a", "b", "c"):
        for fold in (0, 1):
            cells += [
                cell(d, "constant", fold, 0.5, 0.5, profile=profile),
                cell(d, "lightgbm", fold, 0.7, 0.5, profile=profile),
                cell(d, "manual", fold, 0.9, 0.5, profile=profile),
            ]
    for fold in (0, 1):
        cells += [
            cell("r", "constant", fold, 10.0, 10.0, "rmse", profile=profile),
            cell("r", "lightgbm", fold, 8.0, 10.0, "rmse", profile=profile),
            cell("r", "manual", fold, 5.0, 10.0, "rmse", profile=profile),
        ]
    return cells


HAND_PROFILE = {"name": "t", "folds": 2, "time_budget": 1, "cores": 1, "memory_gb": 1, "workers": 1}


def write_publication(folder: Path, cells_by_profile: dict[str, list[CellResult]]) -> Path:
    """A results folder as ``evaluate`` publishes one: ``metrics.json`` with every
    profile's document, ``<profile>/cells.json``."""
    from automl_bench import evaluate, store
    from tenfold.repro import write_metrics

    documents = {}
    for name, cells in cells_by_profile.items():
        documents[name] = evaluate.metrics_document(
            cells, profile={**HAND_PROFILE, "name": name}, datasets=[]
        )
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / "cells.json").write_text(store.dump(cells), encoding="utf-8")
    write_metrics(folder / "metrics.json", {"data": {"kind": "real"}, "profiles": documents})
    return folder


@pytest.fixture
def hand_cells() -> list[CellResult]:
    return hand_grid()


@pytest.fixture
def make_cell() -> Callable[..., CellResult]:
    return cell


@pytest.fixture(scope="session")
def publication_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand grid published as profile ``t`` (read only: tests never change it)."""
    return write_publication(tmp_path_factory.mktemp("results"), {"t": hand_grid()})


@pytest.fixture
def toy_task() -> Task:
    return make_task()


@pytest.fixture
def tiny_profile() -> Profile:
    return Profile(
        name="test", folds=3, cores=1, memory_gb=4, workers=2, iterations=2, time_limit=300
    )


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL cluster for the session (:func:`tenfold.testing.postgres`:
    Debian's server on a free port, stopped and removed at the end). CI installs the
    package (.ci/run), so there a missing server is a failure, not a skip."""
    import os

    from tenfold.testing import postgres, postgres_available

    if not postgres_available() or shutil.which("runuser") is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the PostgreSQL tests: .ci/run installs postgresql")
        pytest.skip("PostgreSQL 15 is not installed (apt-get install -y postgresql; .ci/run does)")
    with postgres() as server:
        yield server.url
