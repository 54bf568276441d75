"""Forecasting CLI: ``python -m forecasting run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make forecasting`` calls): data → Prophet tuned on
earlier data → 52-origin backtest of the three models (tracked in MLflow) → evaluation
with plots → the champion refit on all data and registered, ready for ``serve`` and the
app (``make forecasting-app``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from forecasting.config import PROJECT_DIR, ForecastConfig
from tenfold.cli import (
    ModelUriOption,
    ProjectCli,
    ReportsDirOption,
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

if TYPE_CHECKING:
    from forecasting.data import Series
    from forecasting.evaluate import Evaluation
    from forecasting.runs import Runs
    from forecasting.train import TrainResult

app = typer_app(
    "Hourly load forecasting: seasonal naive, Prophet and LightGBM on a rolling backtest."
)

CLI = ProjectCli(
    PROJECT_DIR,
    service="forecasting.serve:app",
    results_table="forecasting.evaluate:results_table",
)
DataOpt = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Any hourly or daily CSV instead of PJME (frequency inferred).",
        exists=True,
        dir_okay=False,
    ),
]
TimeColOpt = Annotated[str, typer.Option("--time-col", help="Timestamp column of --data.")]
TargetColOpt = Annotated[str, typer.Option("--target-col", help="Value column of --data.")]
IdColOpt = Annotated[
    str | None, typer.Option("--id-col", help="Series id column of --data (several series).")
]
OriginsOpt = Annotated[
    int, typer.Option("--origins", min=1, max=520, help="Weekly backtest origins.")
]
JobsOpt = Annotated[
    int, typer.Option("--jobs", min=1, max=64, help="Processes for the backtest fits.")
]
HoursOpt = Annotated[int, typer.Option("--hours", min=1, max=168, help="Hours ahead.")]
StartOpt = Annotated[
    datetime | None,
    typer.Option(
        "--start", help="Forecast from this known instant (default: the end of the data)."
    ),
]
SeriesOpt = Annotated[str | None, typer.Option("--series", help="Series id (default: the first).")]
OutputOpt = Annotated[Path, typer.Option("--output", help="Where to write the forecast CSV.")]


def _config(
    data: Path | None,
    time_col: str,
    target_col: str,
    id_col: str | None,
    origins: int,
    seed: int,
    jobs: int,
    reports_dir: Path | None = None,
) -> ForecastConfig:
    changes: dict[str, Any] = {"n_origins": origins, "seed": seed, "n_jobs": jobs}
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
    if data is not None:
        changes.update(
            data_path=data.resolve(),
            time_col=time_col,
            target_col=target_col,
            id_col=id_col,
            series_name=data.stem,
        )
    return dataclasses.replace(ForecastConfig(), **changes)


@contextmanager
def _stages() -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per stage (tuning, backtest fits, champion), as each starts."""
    with ExitStack() as stack:
        bars: dict[str, Callable[[int, int], None]] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in bars:
                bars[stage] = stack.enter_context(progress(stage, total))
            bars[stage](done, total)

        yield update


def _load(cfg: ForecastConfig) -> Series:
    from forecasting import data

    series = data.load(cfg)
    if not series.source.is_real:
        announce_synthetic("PJM East hourly load")
    cleaning = series.cleaning
    console().print(
        f"{len(series.ids)} {series.cadence.name} series, {len(series.frame):,} steps; "
        f"{cleaning.duplicated_timestamps} duplicated timestamps averaged, "
        f"{cleaning.imputed_steps} missing steps interpolated (never scored)"
    )
    return series


def _train(cfg: ForecastConfig, series: Series) -> tuple[TrainResult, Runs]:
    from forecasting import runs, train

    with _stages() as update:
        result = train.train(cfg, series, progress=update)
    return result, runs.log_training(cfg, series, result)


def _evaluate(cfg: ForecastConfig, series: Series, result: TrainResult) -> Evaluation:
    from forecasting.evaluate import evaluate

    return evaluate(result.backtest, series, cfg, tuning=result.tuning, params=result.params)


def _write_reports(cfg: ForecastConfig, series: Series, evaluation: Evaluation, runs: Runs) -> Path:
    from forecasting.evaluate import write_per_origin
    from forecasting.runs import log_evaluation
    from tenfold.reports import output_dir, write_reports

    out = output_dir(cfg.reports_dir, kind=series.source.kind, data_path=cfg.data_path)
    written = write_reports(out, evaluation.metrics, evaluation.figures)
    written.append(write_per_origin(evaluation.per_origin, out / "backtest_origins.csv"))
    log_evaluation(runs, evaluation, written)
    return out


def _promote(
    cfg: ForecastConfig, series: Series, result: TrainResult, evaluation: Evaluation, runs: Runs
) -> str:
    from forecasting import runs as tracked
    from forecasting.train import retrain

    with _stages() as update:
        champion = retrain(cfg, series, evaluation.champion, result.fit_params, progress=update)
    logged = tracked.log_champion(champion, runs, evaluation)
    return tracked.promote(cfg, series.source.kind, logged, evaluation)


@app.command()
@user_errors
def run(
    data: DataOpt = None,
    time_col: TimeColOpt = "ds",
    target_col: TargetColOpt = "y",
    id_col: IdColOpt = None,
    origins: OriginsOpt = 52,
    seed: SeedOption = 42,
    jobs: JobsOpt = 2,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """The whole project: data, tuning, backtest, evaluation, registered champion."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(data, time_col, target_col, id_col, origins, seed, jobs, reports_dir)
    series = _load(cfg)
    result, runs = _train(cfg, series)
    evaluation = _evaluate(cfg, series, result)
    out = _write_reports(cfg, series, evaluation, runs)
    _promote(cfg, series, result, evaluation, runs)
    CLI.finish(out, started, _summary, model_name=cfg.registered_model_name(series.source.kind))


@app.command()
@user_errors
def train(
    data: DataOpt = None,
    time_col: TimeColOpt = "ds",
    target_col: TargetColOpt = "y",
    id_col: IdColOpt = None,
    origins: OriginsOpt = 52,
    seed: SeedOption = 42,
    jobs: JobsOpt = 2,
    verbose: bool = False,
) -> None:
    """Tune, backtest (tracked in MLflow) and register the champion; no reports."""
    setup_logging(verbose)
    cfg = _config(data, time_col, target_col, id_col, origins, seed, jobs)
    series = _load(cfg)
    result, runs = _train(cfg, series)
    evaluation = _evaluate(cfg, series, result)
    version = _promote(cfg, series, result, evaluation, runs)
    name = cfg.registered_model_name(series.source.kind)
    mape = evaluation.metrics["models"][evaluation.champion]["mape"]
    console().print(
        f"champion [bold]{evaluation.champion}[/] (backtest MAPE {mape:.2f} %), registered as "
        f"{name} version {version} @champion; `evaluate` writes the reports"
    )


@app.command()
@user_errors
def evaluate(
    data: DataOpt = None,
    time_col: TimeColOpt = "ds",
    target_col: TargetColOpt = "y",
    id_col: IdColOpt = None,
    origins: OriginsOpt = 52,
    seed: SeedOption = 42,
    jobs: JobsOpt = 2,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """Metrics, plots and reports of the latest training's backtest (read from MLflow)."""
    from forecasting.runs import from_latest_run

    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(data, time_col, target_col, id_col, origins, seed, jobs, reports_dir)
    series = _load(cfg)
    result, runs = from_latest_run(cfg, series)
    out = _write_reports(cfg, series, _evaluate(cfg, series, result), runs)
    CLI.finish(out, started, _summary, model_name=cfg.registered_model_name(series.source.kind))


@app.command()
@user_errors
def predict(
    output_path: OutputOpt,
    hours: HoursOpt = 24,
    start: StartOpt = None,
    series: SeriesOpt = None,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Forecast the next hours with the champion (from the end of the data, or replay a start)."""
    from forecasting.serve import SPEC, load

    setup_logging(verbose)
    service = load(model_uri or SPEC.default_model_uri)
    forecast = service.forecast(hours, start, series)
    rows = [
        {
            "series": forecast.series,
            "ds": p.ds,
            "yhat": p.yhat,
            **{
                f"{side}_{i.level}": getattr(i, side)
                for i in p.intervals
                for side in ("lower", "upper")
            },
            "actual": p.actual,
        }
        for p in forecast.points
    ]
    import pandas as pd

    write_csv(pd.DataFrame(rows), output_path)
    console().print(
        f"{forecast.model} v{forecast.model_version}: {len(rows)} steps from {forecast.start} "
        f"→ {output_path}"
    )


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from forecasting.models import DISPLAY_NAMES

    levels = metrics["protocol"]["levels"]
    rows = []
    for name, row in metrics["models"].items():
        mark = " ★" if name == metrics["champion"] else ""
        rows.append(
            (
                DISPLAY_NAMES.get(name, name).split(" (")[0] + mark,
                f"{row['mape']:.2f}",
                f"{row['mape_median']:.2f}",
                f"{row['mase']:.3f}",
                *(f"{row[f'coverage_{lv}']:.1f}" for lv in levels),
            )
        )
    protocol = metrics["protocol"]
    return Summary(
        title=(
            f"forecasting: {protocol['origins']}-origin backtest ({metrics['data']['kind']} data)"
        ),
        columns=("model", "MAPE %", "median", "MASE", *(f"cov {lv} %" for lv in levels)),
        rows=rows,
    )


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
