"""Retraining CLI: ``python -m retraining run | retrain | monitor | deploy | train |
evaluate | land | predict | serve | report | server``.

``run`` is the 30-day scenario (what ``make retraining`` calls). ``retrain`` and
``monitor`` run each flow once against the lake (what the GitHub workflow and the
deployments run); ``deploy`` serves both on an interval schedule; ``train`` and
``evaluate`` are the retrain flow's two halves by hand (a challenger from the lake's
current window; the gate on a logged one); ``land`` puts a file in the lake as a day's
batch; ``server start|stop`` runs a local Prefect server.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from retraining.config import PROJECT_DIR, RetrainingConfig
from tenfold.cli import (
    CommonOptions,
    InputOption,
    ModelUriOption,
    OutputOption,
    ProjectCli,
    ReportOptions,
    RunOptions,
    Summary,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

if TYPE_CHECKING:
    from retraining.pipeline import MonitorOutcome, RetrainOutcome
    from tenfold.flows import Api

app = typer_app(
    "Scheduled retraining: new batches from a bucket, quarantine, challenger, promotion "
    "gate, drift reports and alerts, on Prefect."
)
CLI = ProjectCli(
    PROJECT_DIR,
    service="retraining.serve:app",
    results_table="retraining.evaluate:results_table",
    config=RetrainingConfig,
)


@dataclass(frozen=True)
class RetrainingOptions(CommonOptions):
    """--lake, --project, --seed, --verbose."""

    lake: Annotated[
        str,
        typer.Option(
            "--lake",
            help="Where batches land: a folder (default data/lake) or s3://bucket/prefix.",
        ),
    ] = "data/lake"
    project: Annotated[
        str,
        typer.Option("--project", help="The project to retrain: fraud (default) or churn."),
    ] = "fraud"


def _prefect_root() -> Path:
    from tenfold import paths

    return paths.repo_root() / ".prefect"


@contextmanager
def _prefect(*, quiet: bool = False) -> Iterator[Api]:
    """The Prefect API for a command (announced in one line); ``quiet`` keeps Prefect's
    own logging to warnings (the scenario prints its own progress)."""
    if quiet:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("PREFECT_HOME", str(_prefect_root() / "client"))
    from tenfold.flows import prefect_api

    with prefect_api(_prefect_root()) as api:
        console().print(f"Prefect API {api.url} ({api.origin})", soft_wrap=True)
        yield api


# --------------------------------------------------------------------------- the scenario


def _scenario_summary(metrics: Mapping[str, Any]) -> Summary:
    from retraining.evaluate import scenario_days

    counts, cost = metrics["counts"], metrics["cost"]
    rows = [
        (
            str(d["day"]),
            d["date"],
            f"v{d['serving']}",
            d["batch"],
            "—"
            if d["drift_share"] is None
            else f"{d['drift_share']:.2f}" + (" ⚠" if d["alert"] else ""),
            d["decision"] if d["challenger"] is None else f"v{d['challenger']} {d['decision']}",
        )
        for d in scenario_days(metrics)
    ]
    return Summary(
        title="retraining: 30 simulated days of fraud",
        columns=("day", "date", "serving", "batch", "drift", "gate"),
        rows=rows,
        notes=(
            f"{counts['promotions']} promotion(s), {counts['rejections']} rejection(s), "
            f"{counts['quarantines']} quarantined batch(es), {counts['alerts']} drift alert(s)",
            f"cost with retraining ${cost['with_retraining']:,.0f} vs never retraining "
            f"${cost['never_retraining']:,.0f}: saved ${cost['saved_by_retraining']:,.0f} "
            f"({cost['saved_share']:.0%})",
        ),
    )


@CLI.command(app)
def run(opts: RetrainingOptions, out: ReportOptions) -> None:
    """The 30-day scenario: daily batches land in the lake, one broken (quarantined), a
    new fraud pattern (drift, alerts, a promotion), the gate rejecting worse models; the
    timeline, the decisions table and the cost saved by retraining."""
    from tenfold.errors import DataError

    cfg = CLI.configure(opts, out)
    if cfg.project != "fraud":
        raise DataError("the scenario simulates fraud transactions: run it with --project fraud")
    with _prefect(quiet=True):
        from retraining import evaluate, scenario
        from tenfold.reports import write_reports

        console().print(
            f"[bold]Simulated transactions[/] (fraud simulator, seed {cfg.seed}, "
            f"{cfg.scenario.customers:,} customers): {cfg.scenario.history_days} days of "
            f"history, then {cfg.scenario.days} daily batches into {cfg.lake_url()} (reset first)",
            soft_wrap=True,
        )
        with progress("simulated days", cfg.scenario.days + 1) as update:
            metrics = scenario.run(cfg, progress=lambda done, total, what: update(done, total))
        # another seed is not the published result: it goes to a git-ignored folder
        published = cfg.seed == RetrainingConfig().seed
        out_dir = cfg.reports_dir if published else cfg.reports_dir / "custom" / f"seed{cfg.seed}"
        write_reports(out_dir, metrics, {"timeline.png": evaluate.timeline_figure(metrics)})
    days = evaluate.scenario_days(metrics)
    champion = days[-1]["champion_after"] if days else metrics["initial_version"]
    CLI.finish(
        out_dir,
        _scenario_summary,
        f"models:/{cfg.model_name}@champion is v{champion}; `make retraining-serve` serves it",
    )


# --------------------------------------------------------------------------- one flow run


def _print_retrain(outcome: RetrainOutcome) -> None:
    c = console()
    for batch in outcome.batches:
        why = f": {'; '.join(batch.reasons)}" if batch.reasons else ""
        c.print(f"  {batch.key}: {batch.outcome}{why}", soft_wrap=True, highlight=False)
    if outcome.gate is None:
        c.print(outcome.note or "nothing to train", soft_wrap=True)
        return
    gate = outcome.gate
    verdict = "promoted to @champion" if gate.promoted else "stays @challenger"
    if outcome.reused:
        verdict = "already decided"
    c.print(
        f"window {outcome.window}: v{outcome.version} {verdict} ({gate.reason}); "
        f"champion v{outcome.champion}",
        soft_wrap=True,
    )


def _flow_config(lake: str, project: str) -> RetrainingConfig:
    """The config of a flow command, checked before any server starts: a project the
    flow knows, a lake it can list (one line naming what is wrong, not a flow's
    traceback)."""
    from retraining import data
    from retraining.interface import TARGETS
    from tenfold.errors import DataError
    from tenfold.storage import StorageError

    if project not in TARGETS:
        raise DataError(f"--project {project!r} is not one the flow retrains: {sorted(TARGETS)}")
    cfg = dataclasses.replace(RetrainingConfig(), lake=lake, project=project)
    try:
        data.open_lake(cfg).list(data.Layout(project).incoming)
    except (StorageError, ValueError, ImportError) as exc:
        raise DataError(f"--lake {lake}: cannot list it ({exc})") from None
    return cfg


LakeOption = Annotated[
    str, typer.Option("--lake", help="A folder (default data/lake) or s3://bucket/prefix.")
]
ProjectOption = Annotated[str, typer.Option("--project", help="fraud (default) or churn.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", help="Debug logging.")]


@app.command()
@user_errors
def retrain(
    lake: LakeOption = "data/lake",
    project: ProjectOption = "fraud",
    verbose: VerboseOption = False,
) -> None:
    """Run the retrain flow once: new batches → validation and quarantine → challenger →
    the promotion gate (what the GitHub workflow and the deployment run)."""
    setup_logging(verbose)
    cfg = _flow_config(lake, project)
    with _prefect():
        from retraining.flows import retrain as retrain_flow

        _print_retrain(retrain_flow(config=cfg))


def _print_monitor(outcomes: list[MonitorOutcome]) -> None:
    if not outcomes:
        console().print("no new inference data to monitor (or no champion yet)")
    for o in outcomes:
        flag = f"DRIFTED, alert {o.alert}" if o.drifted else "no drift"
        console().print(
            f"{o.period}: drift share {o.drift_share:.2f} ({flag}) vs v{o.champion}; "
            f"report {o.report_html}",
            soft_wrap=True,
        )


@app.command()
@user_errors
def monitor(
    lake: LakeOption = "data/lake",
    project: ProjectOption = "fraud",
    day: Annotated[
        list[str] | None,
        typer.Option("--day", help="Report this day (YYYY-MM-DD) again; default: every new day."),
    ] = None,
    verbose: VerboseOption = False,
) -> None:
    """Run the monitor flow once: each new day of inference data against the champion's
    training rows, an Evidently report into the lake, a Slack alert (SLACK_WEBHOOK_URL)
    when drifted."""
    setup_logging(verbose)
    for value in day or []:
        _date(value, "--day")
    cfg = _flow_config(lake, project)
    with _prefect():
        from retraining.flows import monitor as monitor_flow

        _print_monitor(monitor_flow(config=cfg, periods=day))


def _date(value: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not a date (YYYY-MM-DD)", param_hint=option
        ) from None


@app.command()
@user_errors
def deploy(
    lake: LakeOption = "data/lake",
    project: ProjectOption = "fraud",
    every: Annotated[
        int, typer.Option("--every", min=60, help="Seconds between polls of the lake (retrain).")
    ] = 3600,
    monitor_every: Annotated[
        int, typer.Option("--monitor-every", min=60, help="Seconds between monitor runs.")
    ] = 21600,
    work_pool: Annotated[
        str | None,
        typer.Option(
            "--work-pool",
            help="Deploy to this work pool (a worker runs the flows) instead of serving them here.",
        ),
    ] = None,
) -> None:
    """Deploy retrain and monitor on an interval schedule against PREFECT_API_URL: served
    by this process (default), or to a work pool."""
    setup_logging()
    if not os.environ.get("PREFECT_API_URL"):
        from tenfold.errors import DataError

        raise DataError(
            "PREFECT_API_URL is not set: start a server (`make retraining-server`) and export "
            "the URL it prints"
        )
    _flow_config(lake, project)
    from retraining import flows
    from tenfold.flows import deploy_to_pool, serve

    retrain_every, monitor_interval = (
        dt.timedelta(seconds=every),
        dt.timedelta(seconds=monitor_every),
    )
    if work_pool is None:
        serve(
            *flows.deployments(
                lake, project, retrain_every=retrain_every, monitor_every=monitor_interval
            )
        )
        return
    parameters = {"lake": lake, "project": project}
    source = Path(flows.__file__).parent
    for entrypoint, interval in (
        ("flows.py:retrain", retrain_every),
        ("flows.py:monitor", monitor_interval),
    ):
        deployment = deploy_to_pool(
            source,
            entrypoint,
            name=project,
            work_pool=work_pool,
            every=interval,
            parameters=parameters,
        )
        console().print(f"{entrypoint} → deployment {deployment} on pool {work_pool}")


# --------------------------------------------------------------------------- by hand


@CLI.command(app)
def train(opts: RetrainingOptions) -> None:
    """Train a challenger on the lake's current window and register it as @challenger
    (the gate is `evaluate`)."""
    from retraining import data, pipeline
    from retraining import train as stage
    from retraining.interface import target_for

    cfg = CLI.configure(opts)
    frame, source = data.load(cfg)
    with progress("training", 1) as update:
        result = stage.train(
            cfg, frame, source, progress=lambda s, done, total: update(done, total)
        )
    registration = pipeline.register(target_for(cfg), result)
    console().print(
        f"training run [bold]{registration.run_id}[/]: {registration.model_name} "
        f"v{registration.version} @challenger; `python -m retraining evaluate --run-id "
        f"{registration.run_id}` gates it",
        soft_wrap=True,
    )


@CLI.command(app)
def evaluate(opts: RetrainingOptions, out: ReportOptions, which: RunOptions) -> None:
    """Score a training's challenger and the champion on the window's validation period
    and promote it if better (the gate); write its evaluation to reports/custom/."""
    from mlflow import MlflowClient

    from retraining import data, pipeline
    from retraining import evaluate as stage
    from retraining import train as stages
    from retraining.interface import target_for
    from tenfold import tracking
    from tenfold.repro import write_metrics

    cfg = CLI.configure(opts, out)
    target = target_for(cfg)
    frame, source = data.load(cfg)
    training = tracking.read_training(target.config(), source, run_id=which.run_id)
    result = stages.from_run(cfg, frame, source, training)
    evaluation = stage.evaluate(result, cfg)
    tags = MlflowClient().get_run(training.run_id).data.tags
    registration = pipeline.Registration(
        training.run_id,
        tags.get("tenfold.registered_model", pipeline.registered_name(target, cfg)),
        tags.get("tenfold.registered_version", ""),
        tracking.inputs_sha256(target.config(), source),
    )
    if not registration.version:
        from tenfold.errors import RegistryError

        raise RegistryError(f"training run {training.run_id} registered no version: run `train`")
    decision = pipeline.gate(target, result, registration)
    written = write_metrics(
        cfg.reports_dir / "custom" / "evaluations" / training.run_id / "metrics.json",
        {**evaluation.metrics, "gate": dataclasses.asdict(decision)},
    )
    verdict = "promoted to @champion" if decision.promoted else "stays @challenger"
    console().print(
        f"{registration.model_name} v{registration.version} {verdict}: {decision.reason}; "
        f"→ {written}",
        soft_wrap=True,
    )


@app.command()
@user_errors
def land(
    file: Annotated[
        Path, typer.Option("--file", help="The CSV batch.", exists=True, dir_okay=False)
    ],
    day: Annotated[str, typer.Option("--day", help="The day it holds (YYYY-MM-DD).")],
    lake: LakeOption = "data/lake",
    project: ProjectOption = "fraud",
) -> None:
    """Put a CSV into the lake as a day's batch (what a producer does; an S3 upload
    there fires the `new-data` trigger)."""
    from retraining import data

    period = _date(day, "--day")
    cfg = dataclasses.replace(RetrainingConfig(), lake=lake, project=project)
    lake_ = data.open_lake(cfg)
    key = data.Layout(project).batch(period)
    console().print(f"{file} → {lake_.write_bytes(key, file.read_bytes())}", soft_wrap=True)


@app.command()
@user_errors
def predict(
    input_path: InputOption,
    output_path: OutputOption,
    model_uri: ModelUriOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Batch scoring with the champion (a fraud model): probability, decision and reason
    codes per transaction, any file size (fraud's own batch scoring)."""
    from fraud.__main__ import predict as score_transactions
    from retraining.serve import SPEC

    score_transactions(input_path, output_path, model_uri or SPEC.default_model_uri, verbose)


server_app = typer_app("A local Prefect server (127.0.0.1, its own PREFECT_HOME).")
app.add_typer(server_app, name="server")


@server_app.command("start")
@user_errors
def server_start(
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port.")] = 4200,
    home: Annotated[
        Path | None, typer.Option("--home", help="PREFECT_HOME (default .prefect/server).")
    ] = None,
) -> None:
    """Start `prefect server start` in the background; stop it with `server stop`."""
    from tenfold.flows import start_server

    where = home or _prefect_root() / "server"
    console().print(f"starting the Prefect server in {where} (15-60 s) ...")
    server = start_server(where, port=port)
    console().print(
        f"Prefect server pid {server.pid}: UI {server.api_url.removesuffix('/api')}, log "
        f"{server.log}\nexport PREFECT_API_URL={server.api_url}",
        soft_wrap=True,
    )


@server_app.command("stop")
@user_errors
def server_stop(
    home: Annotated[
        Path | None, typer.Option("--home", help="PREFECT_HOME (default .prefect/server).")
    ] = None,
) -> None:
    """Stop the server `server start` left running (by its process id)."""
    from tenfold.flows import stop_server

    where = home or _prefect_root() / "server"
    console().print("stopped" if stop_server(where) else f"no server running from {where}")


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
