"""Fixtures shared by every project's tests (pytest loads this from the repo root)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tenfold.repro import pin_torch_kernels

# before any test imports torch: the committed results were made with these kernels
pin_torch_kernels()

REPO_ROOT = Path(__file__).resolve().parent


@pytest.fixture(autouse=True)
def narrow_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test sees a narrow, non-TTY terminal, whatever the machine running it has:
    rich then wraps help and error boxes at 50 columns, so a test whose assertion depends
    on the width fails here first, not only on a CI machine without ``COLUMNS``
    (assert with :func:`tenfold.testing.output_has`)."""
    monkeypatch.setenv("COLUMNS", "50")
    for name in ("LINES", "TERMINAL_WIDTH", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def isolated_tracking(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A private MLflow store (sqlite + artifacts) under tmp_path for one test."""
    state = tmp_path / "mlflow-state"
    monkeypatch.setenv("TENFOLD_STATE_DIR", str(state))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLFLOW_REGISTRY_URI", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    import mlflow
    import mlflow.tracking.fluent

    # an experiment set by an earlier test names an id of the earlier store
    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    yield state
    while mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No data dir, an empty cache and no downloads: the synthetic-twin path."""
    monkeypatch.delenv("TENFOLD_DATA_DIR", raising=False)
    monkeypatch.setenv("TENFOLD_CACHE_DIR", str(tmp_path / "empty-cache"))
    monkeypatch.setenv("TENFOLD_OFFLINE", "1")


def real_data_dir() -> Path | None:
    env = os.environ.get("TENFOLD_DATA_DIR")
    return Path(env) if env else None


@pytest.fixture
def data_dir() -> Path:
    """The provided datasets folder. Real-data tests need it: CI sets TENFOLD_DATA_DIR;
    locally without it they are skipped with this reason, never silently passed."""
    found = real_data_dir()
    if found is None:
        pytest.skip("TENFOLD_DATA_DIR is not set (CI sets it to ../shared/datasets)")
    if not found.is_dir():
        pytest.fail(f"TENFOLD_DATA_DIR={found} is not a directory")
    return found
