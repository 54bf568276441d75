"""AutoML benchmark CLI: ``python -m automl_bench run | train | evaluate | cell | report``.

``run`` is the whole benchmark (what ``make automl-bench`` calls): the grid of the
chosen profile on Dask (stored cells skipped), then the reports and REPORT.md from the
stored cells. ``train`` runs the grid only, ``evaluate`` writes the reports only.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from automl_bench.config import FRAMEWORKS, PROJECT_DIR, BenchConfig
from tenfold.cli import (
    ProjectCli,
    ReportsDirOption,
    SeedOption,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

app = typer_app(
    "AutoML benchmark: a manual pipeline vs FLAML and AutoGluon, one protocol, on Dask."
)
CLI = ProjectCli(
    PROJECT_DIR,
    service="automl_bench.serve:app",
    results_table="automl_bench.evaluate:results_table",
)

ProfileOpt = Annotated[
    str, typer.Option("--profile", help="quick | full | repro (constraints.toml).")
]
DatasetsOpt = Annotated[
    str | None, typer.Option("--datasets", help="Comma-separated datasets (default: all eight).")
]
FrameworksOpt = Annotated[
    str | None, typer.Option("--frameworks", help=f"Comma-separated, from {','.join(FRAMEWORKS)}.")
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler", help="A running Dask scheduler (tcp://HOST:8786); default: a LocalCluster."
    ),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--optuna-storage",
        help="RDB URL the manual pipeline's Optuna studies share (postgresql+psycopg://...).",
    ),
]
CsvOpt = Annotated[
    Path | None,
    typer.Option(
        "--csv", help="Benchmark your own CSV (with --target).", exists=True, dir_okay=False
    ),
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Target column of --csv.")]
TaskOpt = Annotated[
    str | None, typer.Option("--task", help="binary | multiclass | regression (default: inferred).")
]


def _config(
    profile: str,
    datasets: str | None,
    frameworks: str | None,
    scheduler: str | None,
    storage: str | None,
    seed: int,
    reports_dir: Path | None = None,
) -> BenchConfig:
    from automl_bench.config import load_profile
    from automl_bench.data import available
    from tenfold.errors import DataError

    load_profile(profile)  # a clear error for an unknown profile
    changes: dict[str, Any] = {
        "profile": profile,
        "scheduler": scheduler,
        "optuna_storage": storage,
        "seed": seed,
    }
    base = BenchConfig()
    if datasets:
        names = tuple(d.strip() for d in datasets.split(",") if d.strip())
        unknown = [d for d in names if d not in available(base)]
        if unknown:
            raise DataError(f"unknown dataset(s) {unknown}; choose from {sorted(available(base))}")
        changes["datasets"] = names
    if frameworks:
        names = tuple(f.strip() for f in frameworks.split(",") if f.strip())
        unknown = [f for f in names if f not in FRAMEWORKS]
        if unknown:
            raise DataError(f"unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
        changes["frameworks"] = names
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
        changes["report_file"] = reports_dir.resolve() / "REPORT.md"
    return dataclasses.replace(base, **changes)


def _user_dataset(
    cfg: BenchConfig, csv: Path | None, target: str | None, task: str | None
) -> tuple[BenchConfig, dict[str, Any]]:
    """``--csv F --target C``: the file becomes the grid's one dataset."""
    from automl_bench.data import UserDataset
    from tenfold.errors import DataError

    if csv is None:
        if target or task:
            raise DataError("--target and --task need --csv")
        return cfg, {}
    if target is None:
        raise DataError("--csv needs --target (the column to predict)")
    if task not in (None, "binary", "multiclass", "regression"):
        raise DataError(f"--task {task!r}: use binary, multiclass or regression")
    name = f"csv-{csv.stem}"
    spec = UserDataset(name=name, csv=csv.resolve(), target=target, task=task)  # type: ignore[arg-type]
    reports = cfg.reports_dir / "custom" / csv.stem
    cfg = dataclasses.replace(
        cfg,
        datasets=(name,),
        reports_dir=reports,
        report_file=reports / "REPORT.md",
        experiment=f"{cfg.experiment}-custom",
    )
    return cfg, {name: spec}


def _grid(cfg: BenchConfig, extra: dict[str, Any]) -> list[dict[str, Any]]:
    """Run the pending cells; returns the datasets' descriptions."""
    import logging

    from automl_bench import grid, store
    from automl_bench.config import load_profile

    # the scheduler's and workers' own INFO lines would drown the progress bar
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.WARNING)
    profile = load_profile(cfg.profile)
    cells = grid.plan(cfg, profile)
    stored = store.finished(cfg.experiment, profile.name)
    pending = [c for c in cells if c.key not in stored or stored[c.key][0].signature != c.signature]
    out = console()
    out.print(
        f"{cfg.profile}: {len(cells)} cells ({len(cells) - len(pending)} stored, "
        f"{len(pending)} to run), {profile.budget_label} per job, "
        + (
            f"scheduler {cfg.scheduler}"
            if cfg.scheduler
            else f"LocalCluster of {profile.workers} workers"
        )
    )
    started = time.perf_counter()
    with grid.cluster(cfg.scheduler, profile) as client, progress("cells", len(pending)) as update:
        count = 0

        def done(item: grid.Done) -> None:
            nonlocal count
            store.record(cfg.experiment, item.result, attempts=item.attempts)
            count += 1
            update(count, len(pending))
            if item.result.status != "ok":
                out.print(f"[yellow]{item.result.key}: {item.result.failure}[/]")
            elif item.attempts > 1:
                out.print(f"{item.result.key}: redone after a worker was lost")

        _, datasets = grid.run(
            client, pending, cfg, extra=extra, on_done=done, describe_datasets=cfg.datasets
        )
    out.print(f"grid: {len(pending)} cells in {time.perf_counter() - started:.0f} s")
    return datasets


def _reports(cfg: BenchConfig, datasets: list[dict[str, Any]] | None) -> Path:
    """reports/<profile>/ (cells, metrics, figures) from the stored cells; reports/metrics.json
    and REPORT.md from every profile published in reports/."""
    from automl_bench import evaluate, grid, store
    from automl_bench.config import load_profile
    from tenfold.evaluation import save_figure
    from tenfold.repro import read_metrics, write_metrics

    profile = load_profile(cfg.profile)
    stored = store.finished(cfg.experiment, profile.name)
    planned = grid.plan(cfg, profile)
    wanted = {c.key for c in planned}
    cells = [r for key, (r, _) in sorted(stored.items()) if key in wanted]
    # an interrupted grid: report the datasets whose every cell is stored, say what is not
    complete = [d for d in cfg.datasets if all(c.key in stored for c in planned if c.dataset == d)]
    incomplete: dict[str, Any] = {
        "stored": len(cells),
        "planned": len(planned),
        "complete_datasets": complete,
    }
    cells = [r for r in cells if r.dataset in complete]
    if not cells:
        from tenfold.errors import DataError

        raise DataError(f"no stored cells for profile {profile.name!r}: run `train` first")
    out = cfg.reports_dir / profile.name
    out.mkdir(parents=True, exist_ok=True)
    (out / "cells.json").write_text(store.dump(cells), encoding="utf-8")
    if datasets is None and (out / "datasets.json").is_file():
        datasets = read_metrics(out / "datasets.json")["datasets"]
    datasets = datasets or []
    write_metrics(out / "datasets.json", {"datasets": datasets})
    document = evaluate.metrics_document(
        cells, profile=dataclasses.asdict(profile), datasets=datasets
    )
    if incomplete["stored"] < incomplete["planned"]:
        document["incomplete"] = incomplete
    write_metrics(out / "metrics.json", document)
    table = evaluate.summary(cells)
    title = f"{profile.name} profile, {profile.budget_label} per job"
    if table["dataset"].nunique() >= 2 and table["framework"].nunique() >= 3:
        save_figure(
            evaluate.plot_critical_difference(table, title=f"Mean rank ({title})"),
            out / "critical_difference.png",
        )
    save_figure(
        evaluate.plot_score_vs_time(table, title=f"Score vs training time ({title})"),
        out / "score_vs_time.png",
    )
    save_figure(
        evaluate.plot_normalised(table, title=f"Normalised score ({title})"), out / "normalised.png"
    )
    _publish(cfg)
    return out


def _publish(cfg: BenchConfig) -> None:
    """reports/metrics.json (every profile in reports/) and REPORT.md's generated sections."""
    from automl_bench import evaluate
    from tenfold.reports import update_readme
    from tenfold.repro import read_metrics, write_metrics

    documents = {
        p.parent.name: read_metrics(p)
        for p in sorted(cfg.reports_dir.glob("*/metrics.json"))
        if p.parent.name in ("quick", "full", "repro")
    }
    if not documents:
        return
    kinds = {d["data"]["kind"] for d in documents.values()}
    write_metrics(
        cfg.reports_dir / "metrics.json",
        {"data": {"kind": "real" if kinds == {"real"} else "synthetic"}, "profiles": documents},
    )
    if cfg.report_file.is_file():
        sections = {f"results-{name}": evaluate.results_section(d) for name, d in documents.items()}
        first = documents.get("full") or next(iter(documents.values()))
        if first["datasets"]:
            sections["datasets"] = evaluate.datasets_section(first["datasets"])
        text = cfg.report_file.read_text(encoding="utf-8")
        present = {k: v for k, v in sections.items() if f"<!-- {k}:start -->" in text}
        update_readme(cfg.report_file, present)


@app.command()
@user_errors
def run(
    profile: ProfileOpt = "quick",
    datasets: DatasetsOpt = None,
    frameworks: FrameworksOpt = None,
    scheduler: SchedulerOpt = None,
    optuna_storage: StorageOpt = None,
    csv: CsvOpt = None,
    target: TargetOpt = None,
    task: TaskOpt = None,
    seed: SeedOption = 42,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """The whole benchmark: the grid on Dask (stored cells skipped), then the reports."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(profile, datasets, frameworks, scheduler, optuna_storage, seed, reports_dir)
    cfg, extra = _user_dataset(cfg, csv, target, task)
    described = _grid(cfg, extra)
    out = _reports(cfg, described)
    if cfg.reports_dir.resolve() == CLI.published.resolve():
        CLI.refresh_readme()
    console().print(f"reports → {out}; {cfg.report_file}; {time.perf_counter() - started:.0f} s")


@app.command()
@user_errors
def train(
    profile: ProfileOpt = "quick",
    datasets: DatasetsOpt = None,
    frameworks: FrameworksOpt = None,
    scheduler: SchedulerOpt = None,
    optuna_storage: StorageOpt = None,
    seed: SeedOption = 42,
    verbose: bool = False,
) -> None:
    """Run the grid's pending cells and store each in MLflow (no reports)."""
    setup_logging(verbose)
    cfg = _config(profile, datasets, frameworks, scheduler, optuna_storage, seed)
    _grid(cfg, {})


@app.command()
@user_errors
def evaluate(
    profile: ProfileOpt = "quick",
    datasets: DatasetsOpt = None,
    frameworks: FrameworksOpt = None,
    seed: SeedOption = 42,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """Write reports/<profile>/ and REPORT.md from the cells stored in MLflow."""
    setup_logging(verbose)
    cfg = _config(profile, datasets, frameworks, None, None, seed, reports_dir)
    out = _reports(cfg, None)
    console().print(f"reports → {out}")


@app.command()
@user_errors
def cell(
    dataset: Annotated[str, typer.Option("--dataset", help="One dataset.")],
    framework: Annotated[str, typer.Option("--framework", help="One framework.")],
    fold: Annotated[
        int, typer.Option("--fold", min=-1, help="Outer fold (-1: Telco's published split).")
    ] = 0,
    profile: ProfileOpt = "repro",
    seed: SeedOption = 42,
    output: Annotated[
        Path | None, typer.Option("--output", help="Write the cell's JSON here.")
    ] = None,
    verbose: bool = False,
) -> None:
    """One cell in this process (no Dask): what the reproducibility test re-runs."""
    from automl_bench.config import load_profile
    from automl_bench.data import load_task
    from automl_bench.train import Cell, run_cell
    from tenfold.repro import format_metrics

    setup_logging(verbose)
    cfg = _config(profile, dataset, framework, None, None, seed)
    spec = Cell(dataset, framework, fold, load_profile(profile), seed, frameworks=(framework,))
    result = run_cell(spec, load_task(dataset, cfg))
    text = format_metrics(reproducible(result.document()))
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(text, encoding="utf-8")
    console().print(f"{result.key}: {result.status} {result.metric} {result.score:.4f}")


def reproducible(document: dict[str, Any]) -> dict[str, Any]:
    """A cell without its timings (the rest must not change between runs)."""
    return {k: v for k, v in document.items() if k not in ("fit_seconds", "predict_seconds")} | {
        "info": {k: v for k, v in document["info"].items() if k != "peak_memory_gib"}
    }


CLI.install(app, serve=False)  # report; a benchmark serves no model (README, API)

if __name__ == "__main__":
    app()
