"""Training, for a benchmark, is running its grid: every pending cell of the plan on
Dask, each stored in MLflow as it finishes (:mod:`automl_bench.store`), under one *grid
run* that records the options, what ran and the datasets' traits.

:func:`train` runs a grid; :func:`from_run` reads a finished one back (what ``evaluate
--run-id`` reports on). Both return a :class:`GridResult`: the plan's stored cells,
whichever grid run stored them (a grid resumes where an earlier one stopped).
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from automl_bench import grid, store
from automl_bench.cell import Cell, CellResult
from automl_bench.config import BenchConfig, Profile, load_profile
from automl_bench.data import csv_dataset
from tenfold.errors import DataError

GRID_STAGE = "grid"
DATASETS_ARTIFACT = "datasets.json"

# ``progress(done, total)`` after each cell; ``on_cell`` sees each finished cell
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class GridResult:
    """A grid's outcome: the ``planned`` cells, those stored (``cells``, from this grid
    run or an earlier one), how many this run computed, and the datasets' traits (the
    report's dataset table). ``run_id`` is the grid run."""

    cfg: BenchConfig
    profile: Profile
    planned: list[Cell]
    cells: list[CellResult]
    ran: int
    datasets: list[dict[str, Any]]
    run_id: str | None
    seconds: float = 0.0

    @property
    def complete_datasets(self) -> list[str]:
        """The datasets whose every planned cell is stored (an interrupted grid reports
        these and says what is missing)."""
        stored = {c.key for c in self.cells}
        names = dict.fromkeys(c.dataset for c in self.planned)
        return [d for d in names if all(c.key in stored for c in self.planned if c.dataset == d)]

    @property
    def failed(self) -> list[CellResult]:
        return [c for c in self.cells if c.status != "ok"]


def inputs_sha256(cfg: BenchConfig) -> str:
    """A grid's identity: the options that decide its cells (not where it ran)."""
    payload = json.dumps(cfg.training_inputs(), sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def stored_cells(cfg: BenchConfig, planned: Sequence[Cell]) -> list[CellResult]:
    """The planned cells stored in MLflow with the plan's signature, in key order."""
    profiles = {c.profile.name for c in planned}
    found: dict[str, CellResult] = {}
    for name in sorted(profiles):
        found |= {k: r for k, (r, _) in store.finished(cfg.experiment, name).items()}
    return sorted(
        (found[c.key] for c in planned if c.key in found and found[c.key].signature == c.signature),
        key=lambda r: r.key,
    )


def train(
    cfg: BenchConfig,
    planned: Sequence[Cell],
    *,
    progress: Progress | None = None,
    on_cell: Callable[[grid.Done], None] | None = None,
) -> GridResult:
    """Run the planned cells not stored yet (on ``cfg.scheduler``, else a LocalCluster),
    store each as it finishes, and record the grid run."""
    import mlflow

    from tenfold import tracking

    profile = _profile(cfg, planned)
    stored = {c.key for c in stored_cells(cfg, planned)}
    pending = [c for c in planned if c.key not in stored]
    tags = {
        "tenfold.stage": GRID_STAGE,
        "tenfold.inputs_sha256": inputs_sha256(cfg),
        f"{store.TAG}.profile": profile.name,
        **cfg.extra_tags,
    }
    started = time.perf_counter()
    with tracking.start_run(
        cfg.experiment, f"grid-{profile.name}", config=cfg, seed=cfg.seed, tags=tags
    ) as run:
        run_id = str(run.info.run_id)
        count = 0

        def done(item: grid.Done) -> None:
            nonlocal count
            store.record(cfg.experiment, item.result, attempts=item.attempts, grid_run=run_id)
            count += 1
            if progress is not None:
                progress(count, len(pending))
            if on_cell is not None:
                on_cell(item)

        with grid.cluster(cfg.scheduler, profile) as client:
            _, datasets = grid.run(
                client,
                pending,
                cfg,
                extra=csv_dataset(cfg),
                on_done=done,
                describe_datasets=cfg.datasets,
            )
        seconds = time.perf_counter() - started
        cells = stored_cells(cfg, planned)
        mlflow.log_dict({"datasets": datasets}, DATASETS_ARTIFACT)
        mlflow.log_metrics(
            {
                "cells_planned": len(planned),
                "cells_ran": count,
                "cells_stored": len(cells),
                "cells_failed": sum(c.status != "ok" for c in cells),
                "grid_seconds": seconds,
            }
        )
    return GridResult(cfg, profile, list(planned), cells, count, datasets, run_id, seconds)


def from_run(cfg: BenchConfig, planned: Sequence[Cell], run_id: str | None) -> GridResult:
    """A grid read back from MLflow: the planned cells stored, with the datasets' traits of
    grid run ``run_id`` (checked to be a finished grid of these options), or of the newest
    finished grid of these options when ``run_id`` is None (none: no dataset table)."""
    from mlflow import MlflowClient

    from tenfold import tracking

    tracking.configure()
    client = MlflowClient()
    run = _grid_run(client, cfg, run_id)
    datasets: list[dict[str, Any]] = []
    if run is not None:
        import mlflow

        datasets = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/{DATASETS_ARTIFACT}")[
            "datasets"
        ]
    cells = stored_cells(cfg, planned)
    if not cells:
        raise DataError(
            f"no stored cells for profile {cfg.profile!r} in experiment {cfg.experiment!r}: "
            "run `train` (or `run`) with these options first"
        )
    return GridResult(
        cfg,
        _profile(cfg, planned),
        list(planned),
        cells,
        0,
        datasets,
        None if run is None else str(run.info.run_id),
    )


def _profile(cfg: BenchConfig, planned: Sequence[Cell]) -> Profile:
    """The planned cells' constraints (the config's profile for an empty plan)."""
    return planned[0].profile if planned else load_profile(cfg.profile)


def _grid_run(client: Any, cfg: BenchConfig, run_id: str | None) -> Any:
    from mlflow.exceptions import MlflowException

    from tenfold import tracking

    if run_id is None:
        experiment = client.get_experiment_by_name(cfg.experiment)
        if experiment is None:
            return None
        runs = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`tenfold.inputs_sha256` = '{inputs_sha256(cfg)}' "
            "and attributes.status = 'FINISHED'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        return runs[0] if runs else None
    try:
        run = client.get_run(run_id)
    except MlflowException:
        raise DataError(f"no MLflow run {run_id!r} in {tracking.tracking_uri()}") from None
    if run.data.tags.get("tenfold.stage") != GRID_STAGE:
        raise DataError(f"run {run_id} is not a grid run (no tag tenfold.stage={GRID_STAGE})")
    if run.info.status != "FINISHED":
        raise DataError(f"grid run {run_id} has not finished (status {run.info.status})")
    differs = {
        key: (run.data.params.get(key), value)
        for key, value in cfg.training_inputs().items()
        if run.data.params.get(key) != value
    }
    if differs:
        shown = ", ".join(f"{k}={was} (now {now})" for k, (was, now) in sorted(differs.items()))
        raise DataError(f"grid run {run_id} ran with {shown}: pass the options it ran with")
    return run
