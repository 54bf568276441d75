"""AutoML benchmark CLI: ``python -m automl_bench run | train | evaluate | predict | serve |
report | cell``.

``run`` is the whole benchmark (what ``make automl-bench`` calls): the grid of the chosen
profile on Dask (stored cells skipped), then the reports and REPORT.md from the stored
cells, and their publication: a new version of ``automl_bench`` in the registry, promoted
to ``champion`` (what ``serve`` answers from) unless it reports fewer cells than the one
served. ``train`` runs the grid only; ``evaluate`` writes the reports from the stored
cells and publishes them; ``predict`` looks published scores up in batch; ``cell`` runs
one cell in this process (the reproducibility test).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from automl_bench.config import FRAMEWORKS, PROJECT_DIR, BenchConfig, is_twin
from tenfold.cli import (
    OWN_DEFAULT,
    CommonOptions,
    InputOption,
    ModelUriOption,
    OutputOption,
    ProjectCli,
    ReportOptions,
    RunOptions,
    SeedOption,
    Summary,
    announce_synthetic,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
    write_csv,
)
from tenfold.errors import DataError

if TYPE_CHECKING:
    from automl_bench.cell import Cell
    from automl_bench.train import GridResult

app = typer_app(
    "AutoML benchmark: a manual pipeline vs FLAML and AutoGluon, one protocol, on Dask."
)
CLI = ProjectCli(
    PROJECT_DIR,
    service="automl_bench.serve:app",
    results_table="automl_bench.evaluate:results_table",
    config=BenchConfig,
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
        "--scheduler",
        help="A running Dask scheduler (tcp://HOST:8786); default: a LocalCluster. "
        "Where the grid runs, not what it computes (evaluate ignores it).",
    ),
]
StorageOpt = Annotated[
    str | None,
    typer.Option(
        "--optuna-storage",
        help="RDB URL the manual pipeline's Optuna studies share (postgresql+psycopg://...); "
        "evaluate ignores it.",
    ),
]
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        "--csv",
        help="Benchmark your own CSV (with --target): reports go to reports/custom/<file "
        "name>, the results register as automl_bench-<file name>.",
        exists=True,
        dir_okay=False,
    ),
]
TargetOpt = Annotated[str | None, typer.Option("--target", help="Target column of --data.")]
TaskOpt = Annotated[
    str | None, typer.Option("--task", help="binary | multiclass | regression (default: inferred).")
]
IdOpt = Annotated[
    str | None, typer.Option("--id", help="Id column of --data, left out of the features.")
]
TASKS = ("binary", "multiclass", "regression")


def _names(given: str | None) -> tuple[str, ...]:
    return tuple(n.strip() for n in (given or "").split(",") if n.strip())


@dataclass(frozen=True)
class BenchOptions(CommonOptions):
    """The grid: --profile, --datasets, --frameworks, --scheduler, --optuna-storage, a user's
    CSV (--data/--csv, --target, --task, --id), --seed, --verbose."""

    profile: ProfileOpt = "quick"
    dataset_names: DatasetsOpt = field(default=None, metadata=OWN_DEFAULT)
    framework_names: FrameworksOpt = field(default=None, metadata=OWN_DEFAULT)
    scheduler: SchedulerOpt = None
    optuna_storage: StorageOpt = None
    data_path: DataOpt = None
    target: TargetOpt = None
    task: TaskOpt = None
    id_column: IdOpt = None

    def apply(self, cfg: Any) -> Any:
        """``cfg`` with these options, each checked (one clear line for a bad one)."""
        from automl_bench.config import load_profile
        from automl_bench.data import available

        load_profile(self.profile)  # an unknown profile names the ones there are
        changes: dict[str, Any] = {
            "profile": self.profile,
            "scheduler": self.scheduler,
            "optuna_storage": self.optuna_storage,
            "seed": self.seed,
        }
        if datasets := _names(self.dataset_names):
            known = available(cfg)
            unknown = [d for d in datasets if d not in known]
            if unknown:
                raise DataError(f"unknown dataset(s) {unknown}; choose from {sorted(known)}")
            changes["datasets"] = datasets
        if frameworks := _names(self.framework_names):
            unknown = [f for f in frameworks if f not in FRAMEWORKS]
            if unknown:
                raise DataError(f"unknown framework(s) {unknown}; choose from {list(FRAMEWORKS)}")
            changes["frameworks"] = frameworks
        if self.data_path is None:
            if self.target or self.task or self.id_column:
                raise DataError("--target, --task and --id need --data (or --csv)")
            return dataclasses.replace(cfg, **changes)
        if self.target is None:
            raise DataError("--data needs --target (the column to predict)")
        if self.task not in (None, *TASKS):
            raise DataError(f"--task {self.task!r}: use binary, multiclass or regression")
        if datasets:
            raise DataError("--datasets and --data: the CSV is the grid's one dataset")
        path = self.data_path.resolve()
        changes |= {
            "data_path": path,
            "target": self.target,
            "task": self.task,
            "id_column": self.id_column,
            "datasets": (f"csv-{path.stem}",),
            "experiment": f"{cfg.experiment}-custom",
        }
        return dataclasses.replace(cfg, **changes)


def _configure(opts: BenchOptions, out: ReportOptions | None = None) -> BenchConfig:
    cfg = CLI.configure(opts, *([out] if out is not None else []))
    if out is not None and out.reports_dir is not None:
        cfg = dataclasses.replace(cfg, report_file=cfg.reports_dir / "REPORT.md")
    return cfg


def _plan(cfg: BenchConfig) -> list[Cell]:
    from automl_bench import grid
    from automl_bench.config import load_profile

    return grid.plan(cfg, load_profile(cfg.profile))


def _run_grid(cfg: BenchConfig) -> GridResult:
    """The pending cells of the config's grid, with a progress bar and a line per failure."""
    import logging

    from automl_bench import grid
    from automl_bench import train as grid_training
    from automl_bench.config import load_profile

    # the scheduler's and workers' own INFO lines would drown the progress bar
    for name in ("distributed", "tornado", "bokeh"):
        logging.getLogger(name).setLevel(logging.WARNING)
    profile = load_profile(cfg.profile)
    planned = _plan(cfg)
    stored = len(grid_training.stored_cells(cfg, planned))
    pending = len(planned) - stored
    out = console()
    where = f"scheduler {cfg.scheduler}" if cfg.scheduler else f"LocalCluster of {profile.workers}"
    out.print(
        f"{cfg.profile}: {len(planned)} cells ({stored} stored, {pending} to run), "
        f"{profile.budget_label} per job, {where}",
        soft_wrap=True,
    )

    twins: set[str] = set()

    def report(item: grid.Done) -> None:
        dataset = item.result.dataset
        if is_twin(item.result.data_kind, dataset) and dataset not in twins:
            twins.add(dataset)
            announce_synthetic(f"{dataset} data")
        if item.result.status != "ok":
            out.print(f"[yellow]{item.result.key}: {item.result.failure}[/]", soft_wrap=True)
        elif item.attempts > 1:
            out.print(f"{item.result.key}: redone after a worker was lost", soft_wrap=True)

    with progress("cells", pending) as update:
        result = grid_training.train(cfg, planned, progress=update, on_cell=report)
    out.print(f"grid run {result.run_id}: {result.ran} cells in {result.seconds:.0f} s")
    return result


PROFILES_PUBLISHED = ("quick", "full", "repro")


def _publish_all(cfg: BenchConfig, root: Path) -> None:
    """``root/metrics.json`` (every profile in ``root``) and REPORT.md's generated sections."""
    from automl_bench import evaluate
    from tenfold.reports import update_readme
    from tenfold.repro import read_metrics, write_metrics

    documents = {
        p.parent.name: read_metrics(p)
        for p in sorted(root.glob("*/metrics.json"))
        if p.parent.name in PROFILES_PUBLISHED
    }
    kinds = {d["data"]["kind"] for d in documents.values()}
    write_metrics(
        root / "metrics.json",
        {"data": {"kind": "real" if kinds == {"real"} else "synthetic"}, "profiles": documents},
    )
    if root.resolve() != cfg.reports_dir.resolve() or not cfg.report_file.is_file():
        return
    sections = {f"results-{name}": evaluate.results_section(d) for name, d in documents.items()}
    described = [d["datasets"] for d in (documents.get("full"), *documents.values()) if d]
    if traits := next((d for d in described if d), None):
        sections["datasets"] = evaluate.datasets_section(traits)
    text = cfg.report_file.read_text(encoding="utf-8")
    present = {k: v for k, v in sections.items() if f"<!-- {k}:start -->" in text}
    update_readme(cfg.report_file, present)


def _publish(cfg: BenchConfig, result: GridResult) -> None:
    """Everything after the grid: the profile's reports (only the project's own real data
    goes to the committed reports/; a synthetic twin to reports/synthetic, a user's CSV to
    reports/custom/<name>), every profile's summary and REPORT.md, then the publication:
    registered as a new results version and put through the gate."""
    from automl_bench import evaluate, results
    from tenfold import promotion
    from tenfold.reports import output_dir, write_reports
    from tenfold.repro import read_metrics
    from tenfold.training import model_name_for

    twins = sorted({c.dataset for c in result.cells if is_twin(c.data_kind, c.dataset)})
    if twins:
        announce_synthetic(", ".join(twins) + " data", "their real files were not found")
    kind = "synthetic" if twins else "real"
    root = output_dir(cfg.reports_dir, kind=kind, data_path=cfg.data_path)
    out = root / result.profile.name
    if not result.datasets and (out / "datasets.json").is_file():
        # a grid stored before grid runs recorded the datasets' traits: keep the table
        described = read_metrics(out / "datasets.json")["datasets"]
        result = dataclasses.replace(result, datasets=described)
    evaluation = evaluate.evaluate(result, cfg)
    write_reports(out, evaluation.metrics, evaluation.figures)
    for name, text in evaluation.files.items():
        (out / name).write_text(text, encoding="utf-8")
    _publish_all(cfg, root)
    name = model_name_for(cfg.model_name, cfg.data_path, synthetic=kind != "real")
    registered = results.register(
        root, name, experiment=cfg.experiment, seed=cfg.seed, grid_run=result.run_id
    )
    where = f"{name} v{registered.version}"
    if not registered.new:
        verdict = f"results unchanged: {where} stays @champion"
    else:
        gate, score = evaluate.promotion_gate(result, cfg)
        decision, record = promotion.promote_if_better(
            name, registered.version, gate, score, load=results.record
        )
        verdict = (
            f"{where} promoted to @champion ({decision.reason})"
            if decision.promote
            else f"{where} stays @challenger, champion v{record.champion} kept ({decision.reason})"
        )
    if name != cfg.model_name:
        uri = f"models:/{name}@champion"
        verdict += f"; serve it with `python -m automl_bench serve --model-uri {uri}`"
    CLI.finish(root, lambda metrics: _summary(metrics, result.profile.name), verdict)


def _summary(metrics: Mapping[str, Any], profile: str) -> Summary:
    from automl_bench import evaluate

    document = metrics["profiles"][profile]
    stats = document["statistics"]
    notes = []
    if "p_value" in stats:
        notes.append(
            f"Friedman {evaluate.p_text(stats['p_value'])}; Nemenyi critical difference "
            f"{stats['critical_difference']:.2f} ranks"
        )
    if document["failures"]:
        notes.append(f"{len(document['failures'])} failed cells (scored as the constant)")
    kind = document["data"]["kind"]
    return Summary(
        title=f"automl-bench {profile}: {document['cells']} cells ({kind} data)",
        columns=("framework", "mean rank", "normalised", "wins", "s / fold"),
        rows=[
            (
                evaluate.NAMES.get(r["framework"], r["framework"]),
                f"{r['mean_rank']:.2f}",
                f"{r['mean_normalised']:.3f}",
                str(int(r["wins"])),
                f"{r['fit_seconds']:.1f}",
            )
            for r in document["leaderboard"]
        ],
        notes=notes,
    )


@CLI.command(app)
def run(opts: BenchOptions, out: ReportOptions) -> None:
    """The whole benchmark: the grid on Dask, the reports, their publication for the API."""
    cfg = _configure(opts, out)
    _publish(cfg, _run_grid(cfg))


@CLI.command(app)
def train(opts: BenchOptions) -> None:
    """Run the grid's pending cells and store each in MLflow (no reports)."""
    cfg = _configure(opts)
    result = _run_grid(cfg)
    console().print(
        f"{len(result.cells)} of {len(result.planned)} cells stored; `python -m automl_bench "
        f"evaluate --run-id {result.run_id}` writes the reports and publishes them",
        soft_wrap=True,
    )


@CLI.command(app)
def evaluate(opts: BenchOptions, out: ReportOptions, which: RunOptions) -> None:
    """Reports and REPORT.md from the cells stored in MLflow, and their publication."""
    from automl_bench import train as grid_training

    cfg = _configure(opts, out)
    _publish(cfg, grid_training.from_run(cfg, _plan(cfg), which.run_id))


@app.command()
@user_errors
def predict(
    input_path: InputOption,
    output_path: OutputOption,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Published scores in batch, per row of --input (dataset[, framework, profile])."""
    import pandas as pd

    from automl_bench.results import NotPublished, load, lookup
    from automl_bench.serve import SPEC
    from tenfold.batch import check_files
    from tenfold.data import read_user_csv

    setup_logging(verbose)
    check_files(input_path, output_path)
    frame, _ = read_user_csv(input_path)
    if "dataset" not in frame.columns:
        raise DataError(f"{input_path}: needs a 'dataset' column; columns: {list(frame.columns)}")
    rows = [
        {str(k): v for k, v in row.items()}
        for row in frame.astype(object).where(frame.notna(), None).to_dict("records")
    ]
    publication = load(model_uri or SPEC.default_model_uri)
    try:
        found = lookup(publication, rows)
    except NotPublished as exc:
        raise DataError(f"{input_path}: {exc}") from None
    write_csv(pd.DataFrame(found), output_path)
    card = publication.card
    version = f" v{card.version}" if card.version else ""
    console().print(
        f"{len(found)} published scores for {len(rows)} rows → {output_path} "
        f"(results {card.name}{version})",
        soft_wrap=True,
    )


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
    from automl_bench.cell import Cell, run_cell
    from automl_bench.config import load_profile
    from automl_bench.data import load
    from tenfold.repro import format_metrics

    setup_logging(verbose)
    options = BenchOptions(
        seed=seed, profile=profile, dataset_names=dataset, framework_names=framework
    )
    cfg = options.apply(BenchConfig())
    spec = Cell(dataset, framework, fold, load_profile(profile), seed, frameworks=(framework,))
    result = run_cell(spec, load(cfg)[dataset])
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


CLI.install(app)  # serve (the results API) and report, the same in every project

if __name__ == "__main__":
    app()
