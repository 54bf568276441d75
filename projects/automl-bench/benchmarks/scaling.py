"""Speed-up of the grid with 2 Dask workers against 1, on the same cells.

    python projects/automl-bench/benchmarks/scaling.py [--dataset credit] [--folds 4]

CPU-bound, iteration-budgeted cells (LightGBM defaults and the manual pipeline, so no
job's length depends on the clock) run once on a LocalCluster of one worker and once on
two; every worker's fork server is started before the clock starts. Prints both wall
times and their ratio (goal >= 1.8x on 2 free cores). On a shared machine the ratio
says as much about the neighbours as about the grid: run it on a quiet one.
"""

from __future__ import annotations

import argparse
import dataclasses
import time

from automl_bench import grid
from automl_bench.config import BenchConfig, load_profile


def wall_time(cfg: BenchConfig, workers: int, folds: int) -> tuple[float, int]:
    profile = dataclasses.replace(
        load_profile("repro"), name=f"scaling-{workers}", workers=workers, folds=folds
    )
    cells = grid.plan(cfg, profile, holdout=False)
    with grid.cluster(None, profile) as client:
        grid.warm(client, cells)
        task = client.submit(grid._load, cfg.datasets[0], cfg, {}, pure=False)
        client.gather(task)  # the dataset loaded before the clock starts
        started = time.perf_counter()
        # the grid's own scheduling order (long jobs first), as `grid.run` submits them
        order = grid.dataset_order(cells)
        futures = [
            client.submit(grid._run, c, task, pure=False, priority=grid.priority(c, order))
            for c in cells
        ]
        results = client.gather(futures)
        elapsed = time.perf_counter() - started
    assert all(r.status == "ok" for r in results), [r.failure for r in results]
    return elapsed, len(cells)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="credit")
    parser.add_argument("--folds", type=int, default=4)
    args = parser.parse_args()
    cfg = BenchConfig(datasets=(args.dataset,), frameworks=("lightgbm", "manual"))
    one, n = wall_time(cfg, 1, args.folds)
    two, _ = wall_time(cfg, 2, args.folds)
    print(f"{n} cells ({args.dataset}, lightgbm + manual, repro profile, {args.folds} folds)")
    print(f"1 worker : {one:7.1f} s")
    print(f"2 workers: {two:7.1f} s")
    print(f"speed-up : {one / two:7.2f}x (goal >= 1.8x)")


if __name__ == "__main__":
    main()
