"""Finished cells in MLflow: one experiment, one run per cell, tagged with dataset,
framework, fold, profile and budget. A re-run reads them back and skips what is done."""

from __future__ import annotations

import json
from typing import Any

from automl_bench.cell import CellResult
from tenfold import tracking

TAG = "automl"


def record(
    experiment: str, result: CellResult, *, attempts: int = 1, grid_run: str | None = None
) -> str:
    """Store a finished cell (ok or failed: a failure is a result) as one MLflow run,
    tagged with the grid run that computed it (and nested under it while it is active)."""
    import mlflow

    tags = {
        f"{TAG}.dataset": result.dataset,
        f"{TAG}.framework": result.framework,
        f"{TAG}.fold": str(result.fold),
        f"{TAG}.profile": result.profile,
        f"{TAG}.budget": result.budget,
        f"{TAG}.status": result.status,
        f"{TAG}.signature": result.signature,
        f"{TAG}.attempts": str(attempts),
        "tenfold.stage": "cell",
    }
    if result.failure:
        tags[f"{TAG}.failure"] = result.failure[:500]
    if grid_run is not None:
        tags[f"{TAG}.grid_run"] = grid_run
    # inside a grid run, a child of it (provenance is on the grid run); alone, a run of its own
    nested = mlflow.active_run() is not None
    with tracking.start_run(
        experiment, result.key, seed=result.seed, tags=tags, nested=nested
    ) as run:
        mlflow.log_params(
            {"metric": result.metric, "n_train": result.n_train, "n_test": result.n_test}
        )
        mlflow.log_metrics(
            {
                "score": result.score,
                "constant_score": result.constant_score,
                "fit_seconds": result.fit_seconds,
                "predict_seconds": result.predict_seconds,
            }
        )
        mlflow.log_dict(result.document() | {"attempts": attempts}, "cell.json")
        return str(run.info.run_id)


def finished(experiment: str, profile: str) -> dict[str, tuple[CellResult, int]]:
    """The stored cells of a profile by key (the newest run of a key wins), with the
    number of attempts each took."""
    import mlflow
    from mlflow import MlflowClient

    tracking.configure()
    client = MlflowClient()
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return {}
    runs = client.search_runs(
        [found.experiment_id],
        filter_string=f"tags.`{TAG}.profile` = '{profile}' and tags.`tenfold.stage` = 'cell' "
        "and attributes.status = 'FINISHED'",
        order_by=["attributes.start_time ASC"],
        max_results=50_000,
    )
    cells: dict[str, tuple[CellResult, int]] = {}
    for run in runs:
        document: dict[str, Any] = mlflow.artifacts.load_dict(f"runs:/{run.info.run_id}/cell.json")
        attempts = int(document.pop("attempts", 1))
        result = CellResult(**document)
        cells[result.key] = (result, attempts)
    return cells


def dump(cells: list[CellResult]) -> str:
    """All cells of a profile as one byte-stable JSON document (for reports/)."""
    from tenfold.repro import format_metrics

    ordered = sorted(cells, key=lambda c: (c.dataset, c.framework, c.fold))
    return format_metrics({"cells": [c.document() for c in ordered]})


def load_dump(text: str) -> list[CellResult]:
    return [CellResult(**c) for c in json.loads(text)["cells"]]
