"""Churn CLI: ``python -m churn run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make churn`` calls): data → EDA → training tracked
in MLflow → evaluation with plots → champion registered, ready for ``serve``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from churn.config import PROJECT_DIR, ChurnConfig
from tenfold.cli import (
    HostOption,
    PortOption,
    ReportsDirOption,
    console,
    progress,
    setup_logging,
    user_errors,
)

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Telco churn: calibrated, explained, cost-aware churn scoring.",
)

DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Any churn CSV instead of Telco (schema inferred).",
        exists=True,
        dir_okay=False,
    ),
]
TargetOpt = Annotated[str, typer.Option("--target", help="Target column (two classes).")]
IdOpt = Annotated[str | None, typer.Option("--id", help="Id column, excluded from features.")]
TrialsOpt = Annotated[int, typer.Option("--trials", min=1, help="Optuna trials.")]
SeedOpt = Annotated[int, typer.Option("--seed", help="The one seed.")]
FoldsOpt = Annotated[int, typer.Option("--cv-folds", min=2, max=20, help="CV folds.")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model-uri", help="Default: models:/churn@champion (or a model folder)."),
]


def _config(
    data: Path | None,
    target: str,
    id_column: str | None,
    trials: int,
    seed: int,
    cv_folds: int,
    reports_dir: Path | None = None,
) -> ChurnConfig:
    base = ChurnConfig()
    changes: dict[str, Any] = {"n_trials": trials, "seed": seed, "cv_folds": cv_folds}
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
    if data is not None:
        changes.update(
            data_path=data.resolve(), target=target, id_column=id_column, experiment="churn-custom"
        )
    return dataclasses.replace(base, **changes)


def _output_dir(cfg: ChurnConfig, kind: str) -> Path:
    """Real Telco results are the committed reports; anything else goes to a git-ignored
    sub-folder, so an offline run never overwrites the published numbers."""
    if cfg.data_path is not None:
        return cfg.reports_dir / "custom" / cfg.data_path.stem
    return cfg.reports_dir if kind == "real" else cfg.reports_dir / "synthetic"


def _train(cfg: ChurnConfig) -> Any:
    from churn import data, train

    frame, source = data.load(cfg)
    if not source.is_real:
        console().print(
            "[bold yellow]Using the SYNTHETIC twin of the Telco data[/] (real file "
            "not found): numbers are illustrative only."
        )
    with progress("training", cfg.n_trials) as update:
        result = train.train(
            cfg,
            frame,
            source,
            progress=lambda stage, done, total: update(done, total) if stage == "optuna" else None,
        )
    return frame, result


def _write_reports(cfg: ChurnConfig, frame: Any, result: Any) -> Path:
    """Evaluate on the test split, write metrics.json and figures, attach them to MLflow."""
    from churn import evaluate
    from tenfold import tracking
    from tenfold.reports import write_reports

    out = _output_dir(cfg, result.source.kind)
    evaluation = evaluate.evaluate(result, cfg)
    figures = {**evaluation.figures, **evaluate.shap_figures(result)}
    if result.prepared.telco:
        figures.update(evaluate.eda_figures(frame, result.prepared.y))
    written = write_reports(out, evaluation.metrics, figures)
    # test scores go back onto the runs that produced the models, reports onto the parent
    for name, candidate in result.candidates.items():
        tracking.log_metrics_to(
            candidate.run_id, evaluation.metrics["models"][name]["test"], prefix="test_"
        )
    tracking.log_artifacts_to(result.parent_run_id, written, artifact_path="reports")
    return out


def _finish(cfg: ChurnConfig, result: Any, out: Path, started: float) -> None:
    # the README shows the published results only: not a synthetic run, nor --reports-dir
    if out == PROJECT_DIR / "reports":
        _update_readme(cfg)
    _summary(cfg, out, time.perf_counter() - started)


@app.command()
@user_errors
def run(
    data: DataOpt = None,
    target: TargetOpt = "Churn",
    id_column: IdOpt = "customerID",
    trials: TrialsOpt = 50,
    seed: SeedOpt = 42,
    cv_folds: FoldsOpt = 5,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """The whole project: data, EDA, training, evaluation, registered champion."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(data, target, id_column, trials, seed, cv_folds, reports_dir)
    frame, result = _train(cfg)
    _finish(cfg, result, _write_reports(cfg, frame, result), started)


@app.command()
@user_errors
def train(
    data: DataOpt = None,
    target: TargetOpt = "Churn",
    id_column: IdOpt = "customerID",
    trials: TrialsOpt = 50,
    seed: SeedOpt = 42,
    cv_folds: FoldsOpt = 5,
    verbose: bool = False,
) -> None:
    """Train the three candidates, track them in MLflow, register the champion."""
    setup_logging(verbose)
    cfg = _config(data, target, id_column, trials, seed, cv_folds)
    _, result = _train(cfg)
    best = result.best
    console().print(
        f"champion [bold]{result.champion}[/] (CV ROC-AUC {best.cv_roc_auc:.4f}), "
        f"registered as {cfg.registered_model_name} version "
        f"{result.registered_version} @champion; `evaluate` scores the test split"
    )


@app.command()
@user_errors
def evaluate(
    data: DataOpt = None,
    target: TargetOpt = "Churn",
    id_column: IdOpt = "customerID",
    trials: TrialsOpt = 50,
    seed: SeedOpt = 42,
    cv_folds: FoldsOpt = 5,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """Score the latest training's candidates on the test split; write the reports."""
    from churn import data as churn_data
    from churn.train import from_latest_run

    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(data, target, id_column, trials, seed, cv_folds, reports_dir)
    frame, source = churn_data.load(cfg)
    result = from_latest_run(cfg, frame, source)
    _finish(cfg, result, _write_reports(cfg, frame, result), started)


@app.command()
@user_errors
def predict(
    input_path: Annotated[
        Path,
        typer.Option("--input", help="CSV of customers to score.", exists=True, dir_okay=False),
    ],
    output_path: Annotated[Path, typer.Option("--output", help="Where to write scores.")],
    model_uri: ModelOpt = None,
    verbose: bool = False,
) -> None:
    """Batch scoring: probability, decision and top-3 factors per customer."""
    from churn import data as churn_data
    from churn.serve import SPEC, score_frame

    setup_logging(verbose)
    frame = churn_data.read_scoring_file(input_path, ChurnConfig())
    scores = score_frame(frame, model_uri or SPEC.default_model_uri)
    output_path.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(output_path, index=False)
    console().print(
        f"scored {len(scores)} customers → {output_path} "
        f"({int(scores['will_churn'].sum())} flagged for a retention offer)"
    )


@app.command()
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    model_uri: ModelOpt = None,
) -> None:
    """Serve the champion over HTTP (FastAPI + uvicorn)."""
    from churn.serve import app as build_app
    from tenfold.serving import serve_app

    setup_logging()
    serve_app(build_app, host=host, port=port, model_uri=model_uri)


@app.command()
def report() -> None:
    """Regenerate the README results table from reports/metrics.json."""
    changed = _update_readme(ChurnConfig())
    console().print("README updated" if changed else "README already up to date")


def _update_readme(cfg: ChurnConfig) -> bool:
    from churn.evaluate import results_table
    from tenfold.reports import refresh_results

    return refresh_results(
        PROJECT_DIR / "README.md", PROJECT_DIR / "reports" / "metrics.json", results_table
    )


def _summary(cfg: ChurnConfig, out: Path, seconds: float) -> None:
    from rich.table import Table

    from churn.evaluate import DISPLAY_NAMES
    from tenfold.repro import read_metrics

    metrics = read_metrics(out / "metrics.json")
    table = Table(title=f"churn: held-out test ({metrics['data']['kind']} data)")
    for column in ("model", "CV ROC-AUC", "test ROC-AUC", "PR-AUC", "Brier", "F1@thr"):
        table.add_column(column)
    for name, row in metrics["models"].items():
        mark = " ★" if name == metrics["champion"] else ""
        test = row["test"]
        table.add_row(
            DISPLAY_NAMES[name] + mark,
            f"{row['cv_roc_auc']:.4f}",
            f"{test['roc_auc']:.4f}",
            f"{test['pr_auc']:.4f}",
            f"{test['brier']:.4f}",
            f"{test['f1']:.3f}",
        )
    out_console = console()
    out_console.print(table)
    out_console.print(
        f"reports → {out}; champion → models:/{cfg.registered_model_name}@champion; {seconds:.0f} s"
    )


if __name__ == "__main__":
    app()
