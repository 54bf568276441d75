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
    CvFoldsOption,
    IdColumnOption,
    ModelUriOption,
    ProjectCli,
    ReportsDirOption,
    SeedOption,
    Summary,
    announce_synthetic,
    console,
    data_option,
    input_option,
    output_option,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

app = typer_app("Telco churn: calibrated, explained, cost-aware churn scoring.")

DataOpt = data_option("Any churn CSV instead of Telco (schema inferred).")
TargetOpt = Annotated[str, typer.Option("--target", help="Target column (two classes).")]
TrialsOpt = Annotated[int, typer.Option("--trials", min=1, help="Optuna trials.")]
CLI = ProjectCli(
    PROJECT_DIR, service="churn.serve:app", results_table="churn.evaluate:results_table"
)
InputOpt = input_option("CSV of customers to score.")
OutputOpt = output_option("Where to write scores.")


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


def _train(cfg: ChurnConfig) -> Any:
    from churn import data, train

    frame, source = data.load(cfg)
    if not source.is_real:
        announce_synthetic("Telco data")
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
    from tenfold.reports import output_dir, write_reports

    out = output_dir(cfg.reports_dir, kind=result.source.kind, data_path=cfg.data_path)
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


@app.command()
@user_errors
def run(
    data: DataOpt = None,
    target: TargetOpt = "Churn",
    id_column: IdColumnOption = "customerID",
    trials: TrialsOpt = 50,
    seed: SeedOption = 42,
    cv_folds: CvFoldsOption = 5,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """The whole project: data, EDA, training, evaluation, registered champion."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(data, target, id_column, trials, seed, cv_folds, reports_dir)
    frame, result = _train(cfg)
    CLI.finish(
        _write_reports(cfg, frame, result), started, _summary, model_name=cfg.registered_model_name
    )


@app.command()
@user_errors
def train(
    data: DataOpt = None,
    target: TargetOpt = "Churn",
    id_column: IdColumnOption = "customerID",
    trials: TrialsOpt = 50,
    seed: SeedOption = 42,
    cv_folds: CvFoldsOption = 5,
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
    id_column: IdColumnOption = "customerID",
    trials: TrialsOpt = 50,
    seed: SeedOption = 42,
    cv_folds: CvFoldsOption = 5,
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
    CLI.finish(
        _write_reports(cfg, frame, result), started, _summary, model_name=cfg.registered_model_name
    )


@app.command()
@user_errors
def predict(
    input_path: InputOpt,
    output_path: OutputOpt,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Batch scoring: probability, decision and top-3 factors per customer (any file
    size: read, scored and written in chunks)."""
    from churn import data as churn_data
    from churn.serve import SPEC, load
    from tenfold.batch import check_files, read_ahead, score_file

    setup_logging(verbose)
    check_files(input_path, output_path)
    chunks = read_ahead(churn_data.scoring_chunks(input_path, ChurnConfig()))
    predictor = load(model_uri or SPEC.default_model_uri)
    result = score_file(
        chunks,
        predictor.score_frame,
        output_path,
        source=input_path,
        tally=lambda scores: int(scores["will_churn"].sum()),
        description="scoring customers",
    )
    console().print(
        f"scored {result.rows} customers → {output_path} "
        f"({sum(result.tallies)} flagged for a retention offer)"
    )


def _summary(metrics: dict[str, Any]) -> Summary:
    from churn.evaluate import DISPLAY_NAMES

    rows = []
    for name, row in metrics["models"].items():
        mark = " ★" if name == metrics["champion"] else ""
        test = row["test"]
        rows.append(
            (
                DISPLAY_NAMES[name] + mark,
                f"{row['cv_roc_auc']:.4f}",
                f"{test['roc_auc']:.4f}",
                f"{test['pr_auc']:.4f}",
                f"{test['brier']:.4f}",
                f"{test['f1']:.3f}",
            )
        )
    return Summary(
        title=f"churn: held-out test ({metrics['data']['kind']} data)",
        columns=("model", "CV ROC-AUC", "test ROC-AUC", "PR-AUC", "Brier", "F1@thr"),
        rows=rows,
    )


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
