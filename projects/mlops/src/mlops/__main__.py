"""mlops CLI: ``python -m mlops run | train | evaluate | predict | serve | report`` and
the system around the model: ``migrate``, ``simulate``, ``monitor``, ``demo``.

``run`` is the model (what ``make mlops`` calls): data → training tracked in MLflow →
evaluation with plots → the best scorecard registered as challenger and promoted to
champion by the gate. ``demo`` is the whole system (``make mlops-demo``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlops.config import PROJECT_DIR, MlopsConfig
from tenfold.cli import (
    CommonOptions,
    InputOption,
    ModelUriOption,
    OutputOption,
    ProjectCli,
    Summary,
    TuningOptions,
    announce_synthetic,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

if TYPE_CHECKING:
    from mlops.train import MlopsResult

app = typer_app("Credit scoring as a system: logged predictions, drift monitoring, retraining.")
CLI = ProjectCli(
    PROJECT_DIR,
    service="mlops.serve:app",
    results_table="mlops.evaluate:results_table",
    sections={
        "demo": ("demo/demo.json", "mlops.demo:demo_section"),
        "load": ("load.json", "mlops.demo:load_section"),
    },
    config=MlopsConfig,
)


@dataclass(frozen=True)
class MlopsOptions(TuningOptions, CommonOptions):
    """--seed, --cv-folds, --trials, --verbose."""


def _train(cfg: MlopsConfig) -> MlopsResult:
    from mlops import data, train

    frame, source = data.load(cfg)
    if not source.is_real:
        announce_synthetic("UCI credit-default data")
    with progress("training", cfg.n_trials) as update:
        return train.train(
            cfg,
            frame,
            source,
            progress=lambda stage, done, total: update(done, total) if stage == "optuna" else None,
        )


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from mlops.evaluate import DISPLAY_NAMES

    return Summary.of_models(
        metrics,
        title=f"mlops: held-out test ({metrics['data']['kind']} data)",
        names=DISPLAY_NAMES,
        columns=(
            ("CV ROC-AUC", lambda m: f"{m['cv_roc_auc']:.4f}"),
            ("test ROC-AUC", lambda m: f"{m['test']['roc_auc']:.4f}"),
            ("log-loss", lambda m: f"{m['test']['log_loss']:.4f}"),
            ("Brier", lambda m: f"{m['test']['brier']:.4f}"),
        ),
    )


def _read_back(cfg: MlopsConfig, run_id: str | None) -> MlopsResult:
    from mlops import data, train

    frame, source = data.load(cfg)
    return train.from_run(cfg, frame, source, CLI.training(cfg, source, run_id))


CLI.install_training(
    app,
    MlopsOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    helps={
        "run": "The model: data, training, evaluation, the promotion gate.",
        "train": "Train both calibrated scorecards, track them in MLflow, register the best "
        "as challenger.",
        "evaluate": "Score a training's candidates on the test split, write the reports, and "
        "promote its challenger if its test log-loss beats the champion's.",
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
    """Batch scoring: PD, points, risk band and top-3 reasons per applicant (any file
    size: read, scored and written in chunks)."""
    from mlops import data
    from mlops.serve import SPEC, load
    from tenfold.batch import check_files, read_ahead, score_file

    setup_logging(verbose)
    check_files(input_path, output_path)
    chunks = read_ahead(data.scoring_chunks(input_path, MlopsConfig()))
    predictor = load(model_uri or SPEC.default_model_uri)
    result = score_file(
        chunks,
        predictor.score_frame,
        output_path,
        source=input_path,
        tally=lambda scores: int(scores["risk_band"].isin(["D", "E"]).sum()),
        description="scoring applicants",
    )
    console().print(
        f"scored {result.rows} applicants → {output_path} ({sum(result.tallies)} in risk bands D-E)"
    )


DatabaseOption = Annotated[
    str | None,
    typer.Option("--database-url", help="Default: MLOPS_DATABASE_URL, else embedded SQLite."),
]


@app.command()
@user_errors
def migrate(database_url: DatabaseOption = None) -> None:
    """Bring the database's schema to the latest migration (alembic upgrade head)."""
    from mlops.predictions import database
    from mlops.predictions import migrate as upgrade

    setup_logging()
    db = database(database_url)
    revision = upgrade(db.url)
    where = "embedded SQLite" if db.embedded else db.dialect
    console().print(f"{where} schema at revision {revision}")


@app.command("monitor")
@user_errors
def monitor_command(
    day: Annotated[
        str | None, typer.Option(help="Business day (YYYY-MM-DD); default yesterday.")
    ] = None,
    serve: Annotated[bool, typer.Option("--serve", help="Run the interval deployment.")] = False,
    every_minutes: Annotated[int, typer.Option(min=1, help="Deployment interval.")] = 60,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve the monitor's gauges here.")
    ] = None,
    database_url: DatabaseOption = None,
) -> None:
    """Drift of one day of logged requests (retraining on drift), or with --serve the
    Prefect deployment that does it on an interval."""
    from mlops import flows, monitor
    from tenfold import paths
    from tenfold.flows import prefect_api
    from tenfold.flows import serve as serve_deployments

    setup_logging()
    if metrics_port is not None:
        from prometheus_client import start_http_server

        flows.METRICS["monitor"] = monitor.MonitorMetrics.create()
        start_http_server(metrics_port, registry=flows.METRICS["monitor"].registry)
    with prefect_api(paths.state_dir() / "mlops" / "prefect") as api:
        console().print(f"Prefect API {api.url} ({api.origin})")
        if serve:
            serve_deployments(*flows.deployments(every_minutes, database_url))
            return
        check, retrained = flows.monitor_flow(day, database_url)
    share = "too few requests" if check.drift_share is None else f"{check.drift_share:.2f}"
    console().print(
        f"{check.day}: {check.rows} requests, drift share {share}"
        + (f"; retraining: {retrained.action} ({retrained.reason})" if retrained else ""),
        soft_wrap=True,
    )


@app.command()
@user_errors
def demo(
    days: Annotated[int, typer.Option(min=2, help="Simulated days.")] = 12,
    drift_day: Annotated[int, typer.Option(min=1, help="First day with drift.")] = 6,
    requests_per_day: Annotated[int, typer.Option(min=100, help="Applications a day.")] = 400,
) -> None:
    """The whole system on real services: simulated days with drift, the monitor, the
    retraining flow and hot reload; writes reports/demo/ (table, timeline, JSON)."""
    import dataclasses
    import subprocess
    import sys

    from mlops.demo import run_demo
    from tenfold import tracking

    setup_logging()
    cfg = MlopsConfig()
    sim = dataclasses.replace(
        cfg.simulation, days=days, drift_day=drift_day, requests_per_day=requests_per_day
    )
    cfg = dataclasses.replace(cfg, simulation=sim)
    out = console()
    try:
        tracking.registered_version(f"models:/{cfg.model_name}@champion")
    except Exception:
        out.print("no published champion yet: training it first (make mlops)")
        subprocess.run([sys.executable, "-m", "mlops", "run"], check=True)
    result = run_demo(cfg, CLI.published / "demo", lambda line: out.print(line, soft_wrap=True))
    from mlops.demo import demo_table

    out.print(demo_table(result), soft_wrap=True)
    out.print(f"demo reports → {CLI.published / 'demo'}; {result.seconds:.0f} s")


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
