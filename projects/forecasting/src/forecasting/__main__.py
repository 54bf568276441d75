"""Forecasting CLI: ``python -m forecasting run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make forecasting`` calls): data → Prophet tuned on
earlier data → 52-origin backtest of the three models → each refit on all the data →
MLflow (a run per model) → evaluation with plots → the best registered as challenger and
promoted to ``forecasting@champion`` if it beats the current one on the same backtest,
ready for ``serve`` and the app (``make forecasting-app``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

import typer

from forecasting.config import PROJECT_DIR, ForecastConfig
from tenfold.cli import (
    CsvOptions,
    ModelUriOption,
    ProjectCli,
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
    from forecasting.train import ForecastResult

app = typer_app(
    "Hourly load forecasting: seasonal naive, Prophet and LightGBM on a rolling backtest."
)


@dataclass(frozen=True)
class ForecastCli(ProjectCli[ForecastConfig]):
    """The shared CLI, plus one step after publishing: each model's run also gets its
    per-origin metrics as steps and the plots (:func:`forecasting.runs.log_per_model`)."""

    def publish(
        self,
        cfg: ForecastConfig,
        result: Any,
        summarise: Callable[[Mapping[str, Any]], Summary],
    ) -> None:
        from forecasting.runs import log_per_model

        super().publish(cfg, result, summarise)
        log_per_model(result, cfg.output_dir(result))


CLI = ForecastCli(
    PROJECT_DIR,
    service="forecasting.serve:app",
    results_table="forecasting.evaluate:results_table",
    sections={"timings": ("timings.json", "forecasting.evaluate:timings_table")},
    config=ForecastConfig,
)

TimeColOption = Annotated[str, typer.Option("--time-col", help="Timestamp column of --data.")]
TargetColOption = Annotated[str, typer.Option("--target-col", help="Value column of --data.")]
IdColOption = Annotated[
    str | None,
    typer.Option("--id-col", help="Series id column of --data (several series; default none)."),
]
OriginsOption = Annotated[
    int, typer.Option("--origins", min=1, max=520, help="Weekly backtest origins.")
]
JobsOption = Annotated[
    int, typer.Option("--jobs", min=1, max=64, help="Processes for the backtest fits.")
]


@dataclass(frozen=True)
class ForecastOptions(CsvOptions):
    """--data (any hourly or daily CSV, frequency inferred) with --time-col, --target-col
    and --id-col; --origins, --jobs, --seed, --verbose."""

    time_col: TimeColOption = "ds"
    target_col: TargetColOption = "y"
    id_col: IdColOption = None
    n_origins: OriginsOption = 52
    n_jobs: JobsOption = 2

    # the column options describe a user's CSV; PJME has its own
    CSV_ONLY: ClassVar[frozenset[str]] = CsvOptions.CSV_ONLY | {"time_col", "target_col", "id_col"}

    def apply(self, cfg: Any) -> Any:
        cfg = super().apply(cfg)
        if self.data_path is not None:
            named: dict[str, Any] = {"series_name": self.data_path.stem}
            cfg = dataclasses.replace(cfg, **named)
        return cfg


@contextmanager
def _stages() -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per stage (tuning, backtest fits, refit), as each starts."""
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
        f"{cleaning.imputed_steps} missing steps interpolated (never scored)",
        soft_wrap=True,
    )
    return series


def _train(cfg: ForecastConfig) -> ForecastResult:
    from forecasting import train

    series = _load(cfg)
    with _stages() as update:
        return train.train(cfg, series, progress=update)


def _read_back(cfg: ForecastConfig, run_id: str | None) -> ForecastResult:
    from forecasting import train

    series = _load(cfg)
    return train.from_run(cfg, series, CLI.training(cfg, series.source, run_id))


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from forecasting.models import DISPLAY_NAMES

    levels = metrics["protocol"]["levels"]
    protocol = metrics["protocol"]
    return Summary.of_models(
        metrics,
        title=(
            f"forecasting: {protocol['origins']}-origin backtest ({metrics['data']['kind']} data)"
        ),
        names={k: v.split(" (")[0] for k, v in DISPLAY_NAMES.items()},
        columns=(
            ("MAPE %", lambda m: f"{m['backtest']['mape']:.2f}"),
            ("median", lambda m: f"{m['backtest']['mape_median']:.2f}"),
            ("MASE", lambda m: f"{m['backtest']['mase']:.3f}"),
            *(
                (f"cov {lv} %", lambda m, lv=lv: f"{m['backtest'][f'coverage_{lv}']:.1f}")
                for lv in levels
            ),
        ),
    )


CLI.install_training(
    app,
    ForecastOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    helps={
        "run": "The whole project: data, Prophet tuning, backtest of three models, refit, "
        "evaluation, the promotion gate.",
        "train": "Tune, backtest and refit the three models, track them in MLflow, register "
        "the best as challenger.",
        "evaluate": "Metrics, plots and reports of a training's backtest (read back from "
        "MLflow), and promote its challenger if it beats the champion on the same backtest.",
    },
)

InputOption = Annotated[
    Path | None,
    typer.Option(
        "--input",
        help="A CSV of forecast requests (columns hours, and optionally start, series), one "
        "forecast each; without it one forecast of --hours from --start.",
        exists=True,
        dir_okay=False,
    ),
]
HoursOption = Annotated[int, typer.Option("--hours", min=1, max=168, help="Hours ahead.")]
StartOption = Annotated[
    datetime | None,
    typer.Option(
        "--start", help="Forecast from this known instant (default: the end of the data)."
    ),
]
OutputOption = Annotated[
    Path, typer.Option("--output", help="Where to write the forecasts (CSV; folders are created).")
]
SeriesOption = Annotated[
    str | None, typer.Option("--series", help="Series id (default: the first).")
]


@app.command()
@user_errors
def predict(
    output_path: OutputOption,
    input_path: InputOption = None,
    hours: HoursOption = 24,
    start: StartOption = None,
    series: SeriesOption = None,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Batch forecasts with the champion (from the end of the data, or replaying a start)."""
    import pandas as pd

    from forecasting.data import read_requests
    from forecasting.serve import SPEC, load

    setup_logging(verbose)
    requests = (
        read_requests(input_path)
        if input_path is not None
        else [{"hours": hours, "start": start, "series": series}]
    )
    service = load(model_uri or SPEC.default_model_uri)
    rows = []
    for i, request in enumerate(requests):
        forecast = service.forecast(request["hours"], request["start"], request["series"])
        rows += [
            {
                "request": i,
                "series": forecast.series,
                "start": forecast.start,
                "ds": p.ds,
                "yhat": p.yhat,
                **{
                    f"{side}_{interval.level}": getattr(interval, side)
                    for interval in p.intervals
                    for side in ("lower", "upper")
                },
                "actual": p.actual,
            }
            for p in forecast.points
        ]
    write_csv(pd.DataFrame(rows), output_path)
    console().print(
        f"{service.card.name} v{service.card.version} ({service.champion.name}): "
        f"{len(requests)} forecast(s), {len(rows)} steps → {output_path}",
        soft_wrap=True,
    )


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
