"""Housing CLI: ``python -m housing run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make housing`` calls): data → tuning of three
models tracked in MLflow → stack with CV+ intervals → held-out evaluation with plots →
the stack registered as challenger and promoted to champion if it prices the held-out
sales better than the current one, ready for ``serve`` and the Streamlit app
(``make housing-app``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from housing.config import PROJECT_DIR, HousingConfig
from tenfold.cli import (
    InputOption,
    ModelUriOption,
    OutputOption,
    ProjectCli,
    Summary,
    TabularOptions,
    TuningOptions,
    announce_synthetic,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

if TYPE_CHECKING:
    from housing.train import HousingResult

app = typer_app(
    "Ames house prices: tuned ridge / random forest / LightGBM, a stack, CV+ intervals."
)
CLI = ProjectCli(
    PROJECT_DIR,
    service="housing.serve:app",
    results_table="housing.evaluate:results_table",
    config=HousingConfig,
    sections={"latency": ("latency.json", "housing.evaluate:latency_table")},
)


@dataclass(frozen=True)
class HousingOptions(TuningOptions, TabularOptions):
    """--data (any regression CSV, schema inferred) with --target and --id, --seed,
    --cv-folds, --trials (ridge, LightGBM), and the forest's trials and the twin's size."""

    forest_trials: Annotated[
        int, typer.Option("--forest-trials", min=1, help="Optuna trials for the random forest.")
    ] = 8
    synthetic_rows: Annotated[
        int,
        typer.Option(
            "--synthetic-rows",
            min=50,
            help="Training sales of the synthetic twin (used offline only).",
        ),
    ] = 1460


def _train(cfg: HousingConfig) -> HousingResult:
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

        return train.train(cfg, loaded, progress=report)


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from housing.evaluate import DISPLAY_NAMES

    score = "rmse_log" if metrics["data"]["target_scale"] == "log" else "rmse"
    interval = metrics["interval"]
    return Summary.of_models(
        metrics,
        title=f"housing: CV and held-out ({metrics['data']['kind']} data)",
        names=DISPLAY_NAMES,
        columns=(
            ("CV RMSE", lambda m: f"{m['cv_rmse']:.4f}"),
            ("held-out RMSE", lambda m: f"{m['heldout'][score]:.4f}"),
            ("held-out MAE", lambda m: f"{m['heldout']['mae']:,.0f}"),
            ("R²", lambda m: f"{m['heldout']['r2']:.3f}"),
        ),
        notes=(
            f"interval coverage {interval['coverage']:.1%} at nominal "
            f"{interval['nominal']:.0%} on {interval['rows']} held-out sales",
        ),
    )


def _read_back(cfg: HousingConfig, run_id: str | None) -> HousingResult:
    from housing import data, train

    loaded = data.load(cfg)
    return train.from_run(cfg, loaded, CLI.training(cfg, loaded.source, run_id))


CLI.install_training(
    app,
    HousingOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    helps={
        "run": "The whole project: data, tuning, stack + intervals, evaluation, the "
        "promotion gate.",
        "train": "Tune and fit the models and the stack, track them in MLflow, register the "
        "stack as challenger.",
        "evaluate": "Score a training's candidates on the held-out sales, write the reports, "
        "and promote its challenger if it beats the champion.",
    },
)


@app.command()
@user_errors
def predict(
    input_path: InputOption,
    output_path: OutputOption,
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


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
