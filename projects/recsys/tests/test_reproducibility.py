"""Same seed, same lock → the same metrics.json bytes; the committed real-data results
are what the code produces today."""

from __future__ import annotations

from pathlib import Path

import pytest

from recsys.__main__ import app
from recsys.config import PROJECT_DIR
from tenfold.embeddings import dense_available
from tenfold.testing import assert_reproduces, run_metrics

COMMITTED = PROJECT_DIR / "reports" / "metrics.json"


@pytest.mark.slow
@pytest.mark.usefixtures("isolated_tracking", "offline")
def test_same_seed_same_bytes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RECSYS_STORE", "memory")
    options = ("--trial-scale", "0.1", "--no-minilm", "--synthetic-users", "150")
    assert run_metrics(app, tmp_path / "a", *options) == run_metrics(app, tmp_path / "b", *options)


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.usefixtures("isolated_tracking")
def test_committed_results_are_reproduced(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not dense_available():
        pytest.skip("the committed results include MiniLM content: run `make nlp-deep` first")
    monkeypatch.setenv("RECSYS_STORE", "memory")
    produced = run_metrics(app, tmp_path / "reports")
    assert_reproduces(produced, COMMITTED, remake="TENFOLD_DATA_DIR=../shared/datasets make recsys")
