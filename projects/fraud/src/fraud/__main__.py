"""Fraud CLI: ``python -m fraud run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make fraud`` calls): transactions (simulated by
default) → history features → four variants on time-ordered folds, tracked in MLflow →
test-period evaluation in dollars with plots → champion registered, ready for ``serve``.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from fraud.config import PROJECT_DIR, ULB_PROTOCOL, Dataset, FraudConfig
from tenfold.cli import (
    ModelUriOption,
    ProjectCli,
    ReportsDirOption,
    Summary,
    announce_synthetic,
    console,
    input_option,
    output_option,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

app = typer_app("Card fraud: imbalance strategies, time-ordered evaluation and cost in dollars.")

DatasetOpt = Annotated[
    str,
    typer.Option(
        "--dataset",
        help="'simulated' (the handbook-style simulator, default) or 'ulb' (creditcard.csv).",
    ),
]
SeedOpt = Annotated[
    int, typer.Option("--seed", help="The one seed (simulator, models, bootstrap).")
]
CustomersOpt = Annotated[
    int | None,
    typer.Option(
        "--customers",
        min=100,
        max=100_000,
        help="Simulated customers (terminals and fraud rates scale with them). Default 2000.",
    ),
]
ReviewOpt = Annotated[
    float | None,
    typer.Option("--review-cost", min=0.0, help="Cost of reviewing one alert ($). Default 5."),
]
VerboseOpt = Annotated[bool, typer.Option("--verbose", help="Debug logging.")]
CLI = ProjectCli(
    PROJECT_DIR, service="fraud.serve:app", results_table="fraud.evaluate:results_table"
)
InputOpt = input_option("CSV of transactions: the API's fields as columns.")
OutputOpt = output_option("Where to write scores.")


def _config(
    dataset: str,
    seed: int,
    customers: int | None = None,
    review_cost: float | None = None,
    reports_dir: Path | None = None,
) -> FraudConfig:
    if dataset not in ("simulated", "ulb"):
        raise typer.BadParameter(
            f"{dataset!r} is not a dataset; use 'simulated' or 'ulb'", param_hint="--dataset"
        )
    chosen: Dataset = "simulated" if dataset == "simulated" else "ulb"
    base = FraudConfig()
    changes: dict[str, Any] = {"seed": seed, "dataset": chosen}
    if chosen == "ulb":
        changes["protocol"] = ULB_PROTOCOL
    if customers is not None:
        changes["simulation"] = base.simulation.scaled(customers)
    if review_cost is not None:
        changes["economics"] = dataclasses.replace(base.economics, review_cost=review_cost)
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
    return dataclasses.replace(base, **changes)


def _output_dir(cfg: FraudConfig, kind: str) -> Path:
    """The default simulation is this project's published result; the ULB file's real
    results go to ``ulb/``; anything else (the ULB twin, another seed, population or
    review cost) to git-ignored folders, so they never overwrite the published numbers."""
    if cfg.dataset == "ulb":
        return cfg.reports_dir / "ulb" if kind == "real" else cfg.reports_dir / "synthetic" / "ulb"
    default = FraudConfig()
    if (cfg.seed, cfg.simulation, cfg.economics) == (
        default.seed,
        default.simulation,
        default.economics,
    ):
        return cfg.reports_dir
    tag = (
        f"simulated-seed{cfg.seed}-c{cfg.simulation.n_customers}"
        f"-review{cfg.economics.review_cost:g}"
    )
    return cfg.reports_dir / "custom" / tag


def _load(cfg: FraudConfig) -> Any:
    from fraud import data

    frame, source = data.load(cfg)
    if cfg.dataset == "ulb" and not source.is_real:
        announce_synthetic("ULB file", "creditcard.csv not found")
    elif cfg.dataset == "simulated":
        console().print(
            f"[bold]Simulated transactions[/] (handbook design, seed {cfg.seed}): "
            f"{len(frame):,} rows; `--dataset ulb` uses the real ULB file."
        )
    return frame, source


def _train(cfg: FraudConfig) -> Any:
    from fraud import train

    frame, source = _load(cfg)
    with progress("training variants", len(train.VARIANTS)) as update:
        result = train.train(
            cfg, frame, source, progress=lambda stage, done, total: update(done, total)
        )
    return result


def _write_reports(cfg: FraudConfig, result: Any) -> Path:
    """Evaluate on the test period, write metrics.json and figures, attach them to MLflow."""
    from fraud import evaluate
    from tenfold import tracking
    from tenfold.reports import write_reports

    out = _output_dir(cfg, result.source.kind)
    evaluation = evaluate.evaluate(result, cfg)
    figures = {
        **evaluation.figures,
        "reason_codes.png": evaluate.reason_code_figure(result),
        "timeline.png": evaluate.timeline_figure(result),
    }
    written = write_reports(out, evaluation.metrics, figures)
    # test scores go back onto the runs that produced the models, reports onto the parent
    for name, candidate in result.candidates.items():
        test = evaluation.metrics["variants"][name]["test"]
        tracking.log_metrics_to(
            candidate.run_id,
            {k: v for k, v in test.items() if not k.endswith("_per_day")},
            prefix="test_",
        )
    tracking.log_artifacts_to(result.parent_run_id, written, artifact_path="reports")
    return out


@app.command()
@user_errors
def run(
    dataset: DatasetOpt = "simulated",
    seed: SeedOpt = 42,
    customers: CustomersOpt = None,
    review_cost: ReviewOpt = None,
    reports_dir: ReportsDirOption = None,
    verbose: VerboseOpt = False,
) -> None:
    """The whole project: data, features, four variants, test evaluation, champion."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(dataset, seed, customers, review_cost, reports_dir)
    result = _train(cfg)
    CLI.finish(_write_reports(cfg, result), started, _summary, model_name=cfg.registered_model_name)


@app.command()
@user_errors
def train(
    dataset: DatasetOpt = "simulated",
    seed: SeedOpt = 42,
    customers: CustomersOpt = None,
    review_cost: ReviewOpt = None,
    verbose: VerboseOpt = False,
) -> None:
    """Train the variants on the training days, track them, register the champion."""
    setup_logging(verbose)
    cfg = _config(dataset, seed, customers, review_cost)
    result = _train(cfg)
    best = result.best
    console().print(
        f"champion [bold]{result.champion}[/] (validation cost ${best.validation_cost:,.0f} "
        f"at threshold {best.threshold:.3f}), registered as {cfg.registered_model_name} "
        f"version {result.registered_version} @champion; `evaluate` scores the test period"
    )


@app.command()
@user_errors
def evaluate(
    dataset: DatasetOpt = "simulated",
    seed: SeedOpt = 42,
    customers: CustomersOpt = None,
    review_cost: ReviewOpt = None,
    reports_dir: ReportsDirOption = None,
    verbose: VerboseOpt = False,
) -> None:
    """Score the latest training's variants on the test period; write the reports."""
    from fraud.train import from_latest_run

    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(dataset, seed, customers, review_cost, reports_dir)
    frame, source = _load(cfg)
    result = from_latest_run(cfg, frame, source)
    CLI.finish(_write_reports(cfg, result), started, _summary, model_name=cfg.registered_model_name)


@app.command()
@user_errors
def predict(
    input_path: InputOpt,
    output_path: OutputOpt,
    model_uri: ModelUriOption = None,
    verbose: VerboseOpt = False,
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


def _summary(metrics: dict[str, Any]) -> Summary:
    from fraud.evaluate import DISPLAY_NAMES
    from fraud.train import VARIANTS

    rows = []
    for name in VARIANTS:
        row = metrics["variants"][name]
        mark = " ★" if name == metrics["champion"] else ""
        test = row["test"]
        rows.append(
            (
                DISPLAY_NAMES[name] + mark,
                f"{row['cv_auprc']:.3f}",
                f"{test['auprc']:.3f}",
                f"{test['roc_auc']:.3f}",
                f"${test['at_default_threshold']['cost']:,.0f}",
                f"{row['validation']['threshold']:.3f}",
                f"${test['at_tuned_threshold']['cost']:,.0f}",
            )
        )
    base = metrics["baselines"]["test"]
    return Summary(
        title=f"fraud: test period ({metrics['data']['kind']} data)",
        columns=(
            "variant",
            "CV AUPRC",
            "test AUPRC",
            "ROC-AUC",
            "cost @0.5",
            "threshold",
            "cost @tuned",
        ),
        rows=rows,
        notes=(
            f"no model ${base['no_model']:,.0f}; flag everything ${base['flag_everything']:,.0f}",
        ),
    )


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
