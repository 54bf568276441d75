"""Fraud CLI: ``python -m fraud run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make fraud`` calls): transactions (simulated by
default) → history features → four variants on time-ordered folds, tracked in MLflow →
test-period evaluation in dollars with plots → the best variant registered as challenger
and promoted to champion if it costs less on the test period than the current one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from fraud.config import PROJECT_DIR, ULB_PROTOCOL, FraudConfig
from tenfold.cli import (
    CommonOptions,
    InputOption,
    ModelUriOption,
    OutputOption,
    ProjectCli,
    Summary,
    announce_synthetic,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

if TYPE_CHECKING:
    from fraud.train import FraudResult

app = typer_app("Card fraud: imbalance strategies, time-ordered evaluation and cost in dollars.")
CLI = ProjectCli(
    PROJECT_DIR,
    service="fraud.serve:app",
    results_table="fraud.evaluate:results_table",
    config=FraudConfig,
)
DATASETS = ("simulated", "ulb")


@dataclass(frozen=True)
class FraudOptions(CommonOptions):
    """--dataset, --seed (simulator, models, bootstrap), --customers, --review-cost."""

    dataset: Annotated[
        str,
        typer.Option(
            "--dataset",
            help="'simulated' (the handbook-style simulator, default) or 'ulb' (creditcard.csv).",
        ),
    ] = "simulated"
    customers: Annotated[
        int | None,
        typer.Option(
            "--customers",
            min=100,
            max=100_000,
            help="Simulated customers (terminals and fraud rates scale with them). Default 2000.",
        ),
    ] = None
    review_cost: Annotated[
        float | None,
        typer.Option("--review-cost", min=0.0, help="Cost of reviewing one alert ($). Default 5."),
    ] = None

    def apply(self, cfg: Any) -> Any:
        if self.dataset not in DATASETS:
            raise typer.BadParameter(
                f"{self.dataset!r} is not a dataset; use 'simulated' or 'ulb'",
                param_hint="--dataset",
            )
        cfg = super().apply(cfg)  # seed and dataset
        changes: dict[str, Any] = {}
        if self.dataset == "ulb":
            changes.update(protocol=ULB_PROTOCOL, experiment=f"{cfg.experiment}-ulb")
        if self.customers is not None:
            changes["simulation"] = cfg.simulation.scaled(self.customers)
        if self.review_cost is not None:
            changes["economics"] = dataclasses.replace(cfg.economics, review_cost=self.review_cost)
        return dataclasses.replace(cfg, **changes)


def _train(cfg: FraudConfig) -> FraudResult:
    from fraud import data, train

    frame, source = data.load(cfg)
    _announce(cfg, len(frame), source.is_real)
    with progress("training variants", len(train.VARIANTS)) as update:
        return train.train(
            cfg, frame, source, progress=lambda stage, done, total: update(done, total)
        )


def _announce(cfg: FraudConfig, rows: int, real: bool) -> None:
    if cfg.dataset == "ulb" and not real:
        announce_synthetic("ULB file", "creditcard.csv not found")
    elif cfg.dataset == "simulated":
        console().print(
            f"[bold]Simulated transactions[/] (handbook design, seed {cfg.seed}): "
            f"{rows:,} rows; `--dataset ulb` uses the real ULB file."
        )


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from fraud.evaluate import DISPLAY_NAMES

    base = metrics["baselines"]["test"]
    return Summary.of_models(
        metrics,
        title=f"fraud: test period ({metrics['data']['kind']} data)",
        names=DISPLAY_NAMES,
        columns=(
            ("CV AUPRC", lambda m: f"{m['cv_auprc']:.3f}"),
            ("test AUPRC", lambda m: f"{m['test']['auprc']:.3f}"),
            ("ROC-AUC", lambda m: f"{m['test']['roc_auc']:.3f}"),
            ("cost @0.5", lambda m: f"${m['test']['at_default_threshold']['cost']:,.0f}"),
            ("threshold", lambda m: f"{m['validation']['threshold']:.3f}"),
            ("cost @tuned", lambda m: f"${m['test']['at_tuned_threshold']['cost']:,.0f}"),
        ),
        notes=(
            f"no model ${base['no_model']:,.0f}; flag everything ${base['flag_everything']:,.0f}",
        ),
    )


def _read_back(cfg: FraudConfig, run_id: str | None) -> FraudResult:
    from fraud import data, train

    frame, source = data.load(cfg)
    _announce(cfg, len(frame), source.is_real)
    return train.from_run(cfg, frame, source, CLI.training(cfg, source, run_id))


CLI.install_training(
    app,
    FraudOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    helps={
        "run": "The whole project: data, features, four variants, test evaluation, the "
        "promotion gate.",
        "train": "Train the variants on the training days, track them, register the best as "
        "challenger.",
        "evaluate": "Score a training's variants on the test period, write the reports, and "
        "promote its challenger if it beats the champion.",
    },
)


@app.command()
@user_errors
def predict(
    input_path: InputOption,
    output_path: OutputOption,
    model_uri: ModelUriOption = None,
    verbose: Annotated[bool, typer.Option("--verbose", help="Debug logging.")] = False,
) -> None:
    """Batch scoring: probability, decision and reason codes per transaction (any file
    size: read, scored and written in chunks)."""
    from fraud.data import scoring_chunks
    from fraud.serve import SPEC, load
    from tenfold.batch import check_files, score_file

    setup_logging(verbose)
    check_files(input_path, output_path)
    predictor = load(model_uri or SPEC.default_model_uri)
    dataset = str(predictor.card.details.get("dataset"))
    result = score_file(
        scoring_chunks(input_path, dataset),
        predictor.score_frame,
        output_path,
        source=input_path,
        tally=lambda scores: int(scores["flag_for_review"].sum()),
        description="scoring transactions",
    )
    console().print(
        f"scored {result.rows} transactions → {output_path} "
        f"({sum(result.tallies)} flagged for review)"
    )


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
