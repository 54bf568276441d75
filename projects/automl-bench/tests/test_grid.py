"""The grid on a real Dask LocalCluster: it completes, stores a run per cell, skips stored
cells on a re-run, and survives a worker killed in the middle of a cell."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import psutil
import pytest

from automl_bench import grid, store, train
from automl_bench.cell import run_cell
from automl_bench.config import BenchConfig, Profile
from automl_bench.data import load_task

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("isolated_tracking")]


def profile(**kw: object) -> Profile:
    base = {"name": "test", "folds": 2, "cores": 1, "memory_gb": 4, "workers": 2}
    base |= {"iterations": 2, "time_limit": 600}
    return Profile(**{**base, **kw})  # type: ignore[arg-type]


def test_small_grid_is_stored_and_resumed() -> None:
    import mlflow

    cfg = BenchConfig(datasets=("breast-cancer", "digits"), frameworks=("constant", "lightgbm"))
    cells = grid.plan(cfg, profile())
    assert len(cells) == 2 * 2 * 2
    first = train.train(cfg, cells)
    assert first.ran == len(cells)
    assert sorted(c.key for c in first.cells) == sorted(c.key for c in cells)
    assert all(c.status == "ok" for c in first.cells)
    assert [d["dataset"] for d in first.datasets] == ["breast-cancer", "digits"]
    assert set(store.finished(cfg.experiment, "test")) == {c.key for c in cells}
    runs = mlflow.search_runs(
        experiment_names=[cfg.experiment], filter_string="tags.`tenfold.stage` = 'cell'"
    )
    assert set(runs["tags.automl.grid_run"]) == {first.run_id}
    # a re-run redoes only what is missing: here one deleted cell
    victim = runs[
        (runs["tags.automl.dataset"] == "digits")
        & (runs["tags.automl.fold"] == "1")
        & (runs["tags.automl.framework"] == "lightgbm")
    ]["run_id"].iloc[0]
    mlflow.delete_run(victim)
    again = train.train(cfg, cells)
    assert again.ran == 1
    assert len(again.cells) == len(cells)
    # and evaluate reads the grid back with the datasets its run described
    back = train.from_run(cfg, cells, again.run_id)
    assert back.datasets == again.datasets
    assert [c.key for c in back.cells] == [c.key for c in again.cells]


def _jobs() -> dict[int, psutil.Process]:
    """Job process id → the Dask worker whose fork server runs it."""
    found = {}
    for worker in psutil.Process(os.getpid()).children():
        with contextlib.suppress(psutil.Error):
            for server in worker.children():
                if "forkserver" in " ".join(server.cmdline()):
                    found.update({job.pid: worker for job in server.children()})
    return found


def test_a_worker_killed_mid_cell_loses_only_that_cell() -> None:
    cfg = BenchConfig(datasets=("breast-cancer",), frameworks=("manual",))
    p = profile(folds=3, iterations=4)
    cells = grid.plan(cfg, p)
    killed: list[int] = []

    def kill_one() -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not killed:
            before = _jobs()
            time.sleep(1.0)
            # a job alive for a second is a cell at work (not a fork server's warm-up)
            for pid, worker in _jobs().items():
                if pid in before:
                    killed.append(worker.pid)
                    os.kill(worker.pid, signal.SIGKILL)
                    break

    killer = threading.Thread(target=kill_one, daemon=True)
    with grid.cluster(None, p) as client:
        killer.start()
        done, _ = grid.run(client, cells, cfg)
    killer.join(timeout=5)
    assert killed, "no job was seen running"
    assert (
        not psutil.pid_exists(killed[0])
        or psutil.Process(killed[0]).status() == psutil.STATUS_ZOMBIE
    )
    assert sorted(d.result.key for d in done) == sorted(c.key for c in cells)
    assert all(d.result.status == "ok" for d in done)
    redone = [d for d in done if d.attempts > 1]
    # the running cell, and at most the one Dask had already assigned to that worker (the
    # scheduler hands a worker its next task before the running one ends; a dead worker's
    # assigned tasks count as suspicious too): never a finished cell, never the whole grid
    assert 1 <= len(redone) <= 2, [(d.result.key, d.attempts) for d in done]
    # redone from scratch: the same bytes as an undisturbed run of that cell
    task = load_task("breast-cancer", cfg)
    for item in redone:
        cell = next(c for c in cells if c.key == item.result.key)
        again = run_cell(cell, task, isolate=False)
        assert again.prediction_sha256 == item.result.prediction_sha256
