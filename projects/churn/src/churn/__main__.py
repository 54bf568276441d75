"""Churn CLI: ``python -m churn run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make churn`` calls): data → EDA → training tracked
in MLflow → evaluation with plots → the best model registered as challenger and promoted
to champion if it beats the current one on the test split, ready for ``serve``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from churn.config import PROJECT_DIR, ChurnConfig
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
    from churn.train import ChurnResult

app = typer_app("Telco churn: calibrated, explained, cost-aware churn scoring.")
CLI = ProjectCli(
    PROJECT_DIR,
    service="churn.serve:app",
    results_table="churn.evaluate:results_table",
    config=ChurnConfig,
)


@dataclass(frozen=True)
class ChurnOptions(TuningOptions, TabularOptions):
    """--data (any churn CSV, schema inferred) with --target and --id, --seed, --cv-folds,
    --trials, --verbose."""


def _train(cfg: ChurnConfig) -> ChurnResult:
    from churn import data, train

    frame, source = data.load(cfg)
    if not source.is_real:
        announce_synthetic("Telco data")
    with progress("training", cfg.n_trials) as update:
        return train.train(
            cfg,
            frame,
            source,
            progress=lambda stage, done, total: update(done, total) if stage == "optuna" else None,
        )


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from churn.evaluate import DISPLAY_NAMES

    return Summary.of_models(
        metrics,
        title=f"churn: held-out test ({metrics['data']['kind']} data)",
        names=DISPLAY_NAMES,
        columns=(
            ("CV ROC-AUC", lambda m: f"{m['cv_roc_auc']:.4f}"),
            ("test ROC-AUC", lambda m: f"{m['test']['roc_auc']:.4f}"),
            ("PR-AUC", lambda m: f"{m['test']['pr_auc']:.4f}"),
            ("Brier", lambda m: f"{m['test']['brier']:.4f}"),
            ("F1@thr", lambda m: f"{m['test']['f1']:.3f}"),
        ),
    )


def _read_back(cfg: ChurnConfig, run_id: str | None) -> ChurnResult:
    from churn import data, train

    frame, source = data.load(cfg)
    return train.from_run(cfg, frame, source, CLI.training(cfg, source, run_id))


CLI.install_training(
    app,
    ChurnOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    helps={
        "run": "The whole project: data, EDA, training, evaluation, the promotion gate.",
        "train": "Train the three candidates, track them in MLflow, register the best as "
        "challenger.",
        "evaluate": "Score a training's candidates on the test split, write the reports, and "
        "promote its challenger if it beats the champion.",
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


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
