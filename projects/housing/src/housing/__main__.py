"""Housing CLI: ``python -m housing run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make housing`` calls): data → tuning of three
models tracked in MLflow → stack with CV+ intervals → held-out evaluation with plots →
champion registered, ready for ``serve`` and the Streamlit app (``make housing-app``).
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from housing.config import PROJECT_DIR, HousingConfig
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

app = typer_app(
    "Ames house prices: tuned ridge / random forest / LightGBM, a stack, CV+ intervals."
)

DataOpt = data_option("Any regression CSV instead of Ames (schema inferred).")
TargetOpt = Annotated[str, typer.Option("--target", help="Target column (numeric).")]
TrialsOpt = Annotated[int, typer.Option("--trials", min=1, help="Optuna trials (ridge, LightGBM).")]
ForestTrialsOpt = Annotated[
    int, typer.Option("--forest-trials", min=1, help="Optuna trials for the random forest.")
]
RowsOpt = Annotated[
    int,
    typer.Option(
        "--synthetic-rows", min=50, help="Training sales of the synthetic twin (used offline only)."
    ),
]
DEFAULTS = HousingConfig()
CLI = ProjectCli(
    PROJECT_DIR,
    service="housing.serve:app",
    results_table="housing.evaluate:results_table",
    sections={"latency": ("latency.json", "housing.evaluate:latency_table")},
)
InputOpt = input_option("CSV of houses to price.")
OutputOpt = output_option("Where to write prices.")


def _config(
    data: Path | None,
    target: str,
    id_column: str | None,
    trials: int,
    forest_trials: int,
    seed: int,
    cv_folds: int,
    reports_dir: Path | None = None,
    synthetic_rows: int = DEFAULTS.synthetic_rows,
) -> HousingConfig:
    changes: dict[str, Any] = {
        "synthetic_rows": synthetic_rows,
        "n_trials": trials,
        "forest_trials": forest_trials,
        "seed": seed,
        "cv_folds": cv_folds,
    }
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
    if data is not None:
        changes.update(
            data_path=data.resolve(),
            target=target,
            id_column=id_column,
            experiment="housing-custom",
        )
    return dataclasses.replace(DEFAULTS, **changes)


def _train(cfg: HousingConfig) -> Any:
    from housing import data, train

    loaded = data.load(cfg)
    if not loaded.source.is_real:
        announce_synthetic("Ames data", "real files not found")
    total = 2 * cfg.n_trials + cfg.forest_trials + 1
    offsets = {
        "ridge": 0,
        "random_forest": cfg.n_trials,
        "lightgbm": cfg.n_trials + cfg.forest_trials,
    }
    with progress("tuning ridge, forest, LightGBM; then the stack", total) as update:

        def report(stage: str, done: int, _: int) -> None:
            if stage.startswith("tuning "):
                update(offsets[stage.removeprefix("tuning ")] + done, total)
            elif stage.startswith("stack") and done:
                update(total, total)

        result = train.train(cfg, loaded, progress=report)
    return loaded, result


def _write_reports(cfg: HousingConfig, loaded: Any, result: Any) -> Path:
    """Evaluate on the held-out sales, write metrics.json and figures, attach them to MLflow."""
    from housing import evaluate
    from tenfold import tracking
    from tenfold.reports import output_dir, write_reports

    # real Ames results are the published reports; the twin and custom CSVs go elsewhere
    out = output_dir(cfg.reports_dir, kind=result.source.kind, data_path=cfg.data_path)
    evaluation = evaluate.evaluate(result, cfg, loaded.train if result.prepared.ames else None)
    written = write_reports(out, evaluation.metrics, evaluation.figures)
    # held-out scores go back onto the runs that produced the models, reports onto the parent
    for name, candidate in result.candidates.items():
        heldout = {
            k: v
            for k, v in evaluation.metrics["models"][name]["heldout"].items()
            if "ci95" not in k
        }
        tracking.log_metrics_to(candidate.run_id, heldout, prefix="heldout_")
    tracking.log_metrics_to(
        result.parent_run_id, evaluation.metrics["interval"], prefix="interval_"
    )
    tracking.log_artifacts_to(result.parent_run_id, written, artifact_path="reports")
    return out


@app.command()
@user_errors
def run(
    data: DataOpt = None,
    target: TargetOpt = DEFAULTS.target,
    id_column: IdColumnOption = DEFAULTS.id_column,
    trials: TrialsOpt = DEFAULTS.n_trials,
    forest_trials: ForestTrialsOpt = DEFAULTS.forest_trials,
    seed: SeedOption = DEFAULTS.seed,
    cv_folds: CvFoldsOption = DEFAULTS.cv_folds,
    reports_dir: ReportsDirOption = None,
    synthetic_rows: RowsOpt = DEFAULTS.synthetic_rows,
    verbose: bool = False,
) -> None:
    """The whole project: data, tuning, stack + intervals, evaluation, registered champion."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(
        data, target, id_column, trials, forest_trials, seed, cv_folds, reports_dir, synthetic_rows
    )
    loaded, result = _train(cfg)
    CLI.finish(
        _write_reports(cfg, loaded, result), started, _summary, model_name=cfg.registered_model_name
    )


@app.command()
@user_errors
def train(
    data: DataOpt = None,
    target: TargetOpt = DEFAULTS.target,
    id_column: IdColumnOption = DEFAULTS.id_column,
    trials: TrialsOpt = DEFAULTS.n_trials,
    forest_trials: ForestTrialsOpt = DEFAULTS.forest_trials,
    seed: SeedOption = DEFAULTS.seed,
    cv_folds: CvFoldsOption = DEFAULTS.cv_folds,
    synthetic_rows: RowsOpt = DEFAULTS.synthetic_rows,
    verbose: bool = False,
) -> None:
    """Tune and fit the models and the stack, track them in MLflow, register the champion."""
    setup_logging(verbose)
    cfg = _config(
        data, target, id_column, trials, forest_trials, seed, cv_folds, None, synthetic_rows
    )
    _, result = _train(cfg)
    scale = "log " if result.prepared.log_target else ""
    console().print(
        f"champion [bold]stack[/] (CV RMSE {scale}{cfg.target} {result.best.cv_rmse:.4f}), "
        f"registered as {cfg.registered_model_name} version {result.registered_version} "
        "@champion; `evaluate` scores the held-out sales"
    )


@app.command()
@user_errors
def evaluate(
    data: DataOpt = None,
    target: TargetOpt = DEFAULTS.target,
    id_column: IdColumnOption = DEFAULTS.id_column,
    trials: TrialsOpt = DEFAULTS.n_trials,
    forest_trials: ForestTrialsOpt = DEFAULTS.forest_trials,
    seed: SeedOption = DEFAULTS.seed,
    cv_folds: CvFoldsOption = DEFAULTS.cv_folds,
    reports_dir: ReportsDirOption = None,
    synthetic_rows: RowsOpt = DEFAULTS.synthetic_rows,
    verbose: bool = False,
) -> None:
    """Score the latest training's candidates on the held-out sales; write the reports."""
    from housing import data as housing_data
    from housing.train import from_latest_run

    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(
        data, target, id_column, trials, forest_trials, seed, cv_folds, reports_dir, synthetic_rows
    )
    loaded = housing_data.load(cfg)
    result = from_latest_run(cfg, loaded)
    CLI.finish(
        _write_reports(cfg, loaded, result), started, _summary, model_name=cfg.registered_model_name
    )


@app.command()
@user_errors
def predict(
    input_path: InputOpt,
    output_path: OutputOpt,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Batch pricing: predicted price and its interval per house (Kaggle's test.csv
    works; any file size: read, priced and written in chunks)."""
    import numpy as np

    from housing import data as housing_data
    from housing.serve import SPEC, load
    from tenfold.batch import check_files, read_ahead, score_file

    setup_logging(verbose)
    check_files(input_path, output_path)
    chunks = read_ahead(housing_data.scoring_chunks(input_path, HousingConfig()))
    predictor = load(model_uri or SPEC.default_model_uri)
    result = score_file(
        chunks,
        predictor.score_frame,
        output_path,
        source=input_path,
        tally=lambda prices: prices["predicted_price"].dropna().to_numpy(),
        description="pricing houses",
    )
    priced = np.concatenate(result.tallies)
    median = f"median ${np.median(priced):,.0f}" if len(priced) else "none in the model's scope"
    console().print(f"priced {len(priced)} of {result.rows} houses → {output_path} ({median})")


def _summary(metrics: dict[str, Any]) -> Summary:
    from housing.evaluate import DISPLAY_NAMES
    from housing.train import CANDIDATES

    score = "rmse_log" if metrics["data"]["target_scale"] == "log" else "rmse"
    rows = []
    for name in CANDIDATES:
        row = metrics["models"][name]
        mark = " ★" if name == metrics["champion"] else ""
        held = row["heldout"]
        rows.append(
            (
                DISPLAY_NAMES[name] + mark,
                f"{row['cv_rmse']:.4f}",
                f"{held[score]:.4f}",
                f"{held['mae']:,.0f}",
                f"{held['r2']:.3f}",
            )
        )
    interval = metrics["interval"]
    return Summary(
        title=f"housing: CV and held-out ({metrics['data']['kind']} data)",
        columns=("model", "CV RMSE", "held-out RMSE", "held-out MAE", "R²"),
        rows=rows,
        notes=(
            f"interval coverage {interval['coverage']:.1%} at nominal "
            f"{interval['nominal']:.0%} on {interval['rows']} held-out sales",
        ),
    )


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
