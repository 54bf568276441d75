"""The dataset × framework × fold grid on Dask (``distributed``).

Each dataset is loaded once, by a task on the cluster, and handed to its cells as a
dependency (Dask moves it between workers as needed). Each cell is one task with one
worker thread to itself; the cell runs its framework in a child process with the
profile's cores. Finished cells come back as they complete and are stored by the
caller; cells already stored with the same signature are not submitted again. A worker
that dies mid-cell (killed, out of memory) loses only that cell: the scheduler runs it
again on a live worker (``distributed.scheduler.allowed-failures``), alone.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from automl_bench.cell import HOLDOUT, Cell, CellResult, run_cell
from automl_bench.config import BenchConfig, Profile
from automl_bench.data import Task, UserDataset, load_task

# The scheduler's order: dataset by dataset (an interrupted grid leaves whole datasets
# done, which the report can already use), long jobs first within a dataset.
COST = {"autogluon": 4, "flaml": 3, "manual": 3, "lightgbm": 1, "constant": 0}
# cheap datasets first, so that an interrupted grid has as many whole datasets as it can
DATASET_COST = {
    "breast-cancer": 0,
    "digits": 1,
    "telco": 2,
    "ames": 3,
    "credit": 4,
    "cmapss": 5,
    "bbc": 6,
    "fraud": 7,
}


def plan(cfg: BenchConfig, profile: Profile, *, holdout: bool = True) -> list[Cell]:
    """Every cell of the grid, and (``holdout``) each framework once on Telco's published
    split (churn's test split), to compare with churn's own result."""
    extra = [
        Cell("telco", f, HOLDOUT, profile, cfg.seed, cfg.optuna_storage, tuple(cfg.frameworks))
        for f in cfg.frameworks
        if holdout and "telco" in cfg.datasets
    ]
    return extra + [
        Cell(
            dataset=d,
            framework=f,
            fold=k,
            profile=profile,
            seed=cfg.seed,
            optuna_storage=cfg.optuna_storage,
            frameworks=tuple(cfg.frameworks),
        )
        for d in cfg.datasets
        for f in cfg.frameworks
        for k in range(profile.folds)
    ]


@contextlib.contextmanager
def cluster(scheduler: str | None, profile: Profile) -> Iterator[Any]:
    """A client: on ``scheduler`` (``tcp://HOST:8786``) or on a new LocalCluster with the
    profile's workers, one thread each (a job per worker; its cores go to the job)."""
    import dask
    from distributed import Client, LocalCluster

    # importing distributed sets its loggers' levels: quiet them after it, before the
    # scheduler starts (its INFO lines would drown the progress bar)
    quiet_dask()
    # jobs start their framework in a child process, which daemon workers cannot do
    with dask.config.set({"distributed.worker.daemon": False}):
        if scheduler is not None:
            with Client(scheduler) as client:  # type: ignore[no-untyped-call]
                yield client
            return
        with (
            LocalCluster(  # type: ignore[no-untyped-call]
                n_workers=profile.workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=0,  # the job's own limit applies (cell.run_isolated)
                dashboard_address=None,
                silence_logs=40,
            ) as local,
            Client(local) as client,  # type: ignore[no-untyped-call]
        ):
            quiet_dask()
            yield client


def quiet_dask() -> None:
    """The scheduler's INFO lines (one per out-of-band call) drown the progress bar."""
    import logging

    for name in list(logging.root.manager.loggerDict):
        if name.startswith(("distributed", "tornado", "bokeh")):
            logging.getLogger(name).setLevel(logging.WARNING)


def _load(name: str, cfg: BenchConfig, extra: dict[str, UserDataset]) -> Task:
    return load_task(name, cfg, extra)


def _run(cell: Cell, task: Task) -> CellResult:
    return run_cell(cell, task)


@dataclass(frozen=True)
class Done:
    result: CellResult
    attempts: int


def run(
    client: Any,
    cells: Sequence[Cell],
    cfg: BenchConfig,
    *,
    extra: dict[str, UserDataset] | None = None,
    on_done: Callable[[Done], None] | None = None,
    describe_datasets: Sequence[str] = (),
) -> tuple[list[Done], list[dict[str, Any]]]:
    """Run ``cells`` on ``client``'s cluster; ``on_done`` sees each as it finishes.
    Also returns the traits of ``describe_datasets`` (for the report's dataset table)."""
    from distributed import as_completed

    from automl_bench.data import describe

    extra = dict(extra or {})
    warm(client, cells)
    names = dict.fromkeys([*(c.dataset for c in cells), *describe_datasets])
    tasks = {
        name: client.submit(_load, name, cfg, extra, key=f"load-{name}", pure=False, priority=1000)
        for name in names
    }
    described = [client.submit(describe, tasks[name], pure=False) for name in describe_datasets]
    order = dataset_order(cells)
    futures = {
        client.submit(
            _run,
            cell,
            tasks[cell.dataset],
            key=cell.key,
            pure=False,
            retries=1,
            priority=priority(cell, order),
        ): cell
        for cell in cells
    }
    done: list[Done] = []
    completed = as_completed(futures, with_results=True)  # type: ignore[no-untyped-call]
    for future, result in completed:
        item = Done(result, attempts=_attempts(client, future.key))
        done.append(item)
        if on_done is not None:
            on_done(item)
        future.release()
    return done, list(client.gather(described))


def dataset_order(cells: Sequence[Cell]) -> list[str]:
    """The datasets of ``cells``, cheapest first (see ``DATASET_COST``)."""
    return sorted(dict.fromkeys(c.dataset for c in cells), key=lambda d: DATASET_COST.get(d, 4))


def priority(cell: Cell, order: Sequence[str]) -> int:
    """A cell's priority on the scheduler (higher runs first): its dataset's place in
    ``order``, then the longer framework first, so that no worker is left with one long
    job at the end while the other idles."""
    return 10 * (len(order) - order.index(cell.dataset)) + COST.get(cell.framework, 2)


def warm(client: Any, cells: Sequence[Cell]) -> None:
    """Start every worker's fork server now, in parallel (its imports take a while)."""
    from automl_bench.cell import PRELOAD, fork_server

    frameworks = dict.fromkeys(
        ["constant", *(f for c in cells for f in (c.frameworks or (c.framework,)))]
    )
    modules = [m for f in frameworks for m in PRELOAD.get(f, [])]
    if cells:
        # a worker lost here warms its fork server at its first job instead
        client.run(fork_server, modules, on_error="ignore")


def _attempts(client: Any, key: str) -> int:
    """1 + the number of workers that died while running this task (``suspicious``)."""

    def suspicious(dask_scheduler: Any, key: str = key) -> int:
        state = dask_scheduler.tasks.get(key)
        return 0 if state is None else int(state.suspicious)

    try:
        return 1 + int(client.run_on_scheduler(suspicious))
    except Exception:  # a scheduler that forgot the task already
        return 1
