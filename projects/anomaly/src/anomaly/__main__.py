"""Anomaly CLI: ``python -m anomaly run | train | evaluate | detect | predict | nab-score |
serve | report``.

``run`` is the whole project (what ``make anomaly`` calls): NAB realKnownCause and
C-MAPSS FD001 → every detector, causally → thresholds both ways → NAB scores, lead times,
plots → the model (detectors + thresholds) registered in MLflow, ready for ``serve``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from anomaly.config import PROJECT_DIR, AnomalyConfig
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

app = typer_app("Streaming anomaly detection on NAB and C-MAPSS, scored the NAB way.")

CLI = ProjectCli(
    PROJECT_DIR,
    service="anomaly.serve:app",
    results_table="anomaly.evaluate:results_table",
    sections={
        "cmapss": ("metrics.json", "anomaly.evaluate:cmapss_table"),
        "streaming": ("streaming.json", "anomaly.serve:benchmark_table"),
    },
)
DetectorsOpt = Annotated[
    list[str] | None,
    typer.Option("--detector", help="A detector to run (repeat); default: all installed."),
]
NoCmapssOpt = Annotated[bool, typer.Option("--no-cmapss", help="Skip C-MAPSS (NAB only).")]
TimeColOpt = Annotated[str, typer.Option("--time-col", help="The time column.")]
ValueColOpt = Annotated[
    list[str], typer.Option("--value-col", help="A value column (repeat for several sensors).")
]
ProbationOpt = Annotated[
    int | None,
    typer.Option(
        "--probation", min=2, help="Rows learnt before scoring (default: NAB's 15 %, ≤ 750)."
    ),
]
OutputOpt = Annotated[
    Path,
    typer.Option(
        "--output", help="Where to write one row per timestamp (scores, flags, agreement)."
    ),
]


def _config(
    seed: int, detectors: list[str] | None, no_cmapss: bool, reports_dir: Path | None = None
) -> AnomalyConfig:
    changes: dict[str, Any] = {"seed": seed, "run_cmapss": not no_cmapss}
    if detectors:
        changes["detectors"] = tuple(detectors)
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
    return dataclasses.replace(AnomalyConfig(), **changes)


def _train(cfg: AnomalyConfig) -> Any:
    from anomaly import data, train

    corpus = data.load_nab(cfg)
    if not corpus.source.is_real:
        announce_synthetic("NAB series (sensor series with injected anomalies)")
    cmapss = data.load_cmapss(cfg) if cfg.run_cmapss else None
    if cmapss is not None and not cmapss.source.is_real:
        announce_synthetic("C-MAPSS engines")
    with progress("detecting", len(corpus.series)) as update:
        return train.train(cfg, corpus, cmapss, progress=lambda stage, d, t: update(d, t))


def _published(cfg: AnomalyConfig, result: Any) -> dict[str, Any]:
    """NAB's published detectors re-scored on the same category (real data only)."""
    import numpy as np

    from anomaly import data, nab
    from anomaly.evaluate import published_check

    if not result.corpus.source.is_real:
        return {}
    thresholds = data.nab_thresholds(cfg)
    profile = result.corpus.profiles[cfg.profile]
    rescored, used = {}, {}
    for detector in data.PUBLISHED_DETECTORS:
        published = data.load_published(cfg, detector)
        if published is None:
            continue
        threshold = float(thresholds[detector][cfg.profile]["threshold"])
        used[detector] = threshold
        rescored[detector] = [
            nab.score_file(
                np.asarray(frame["anomaly_score"], dtype=float),
                result.scored[name].layout,
                threshold,
                profile,
            )
            for name, frame in published.outputs.items()
        ]
    return published_check(rescored, used, profile)


def _track_and_register(
    cfg: AnomalyConfig, result: Any, metrics: dict[str, Any], reports: list[Path]
) -> str:
    """The run in MLflow (config, data provenance, scores, reports) and the model
    registered with the alias ``champion`` (``anomaly-synthetic`` for the twin)."""
    import mlflow
    import pandas as pd

    from tenfold import tracking

    synthetic = not result.corpus.source.is_real
    name = cfg.registered_name(synthetic)
    experiment = f"{cfg.experiment}-synthetic" if synthetic else cfg.experiment
    with tracking.training_run(experiment, config=cfg, data=result.corpus.source, seed=cfg.seed):
        tracking.log_metrics(
            {
                n: {"nab": m["nab"]["normalised"], "loso": m["loso"]["normalised"]}
                for n, m in metrics["models"].items()
            },
            prefix="normalised.",
        )
        model = result.model()
        # long enough for every detector to learn its probationary rows
        example = pd.DataFrame({"value": [float(v % 17) for v in range(200)]})
        logged = tracking.log_sklearn_model(
            model,
            input_example=example,
            output_example=[False] * len(example),
            requirements=["pyod", "numpy", "pandas", "scipy"],
            metadata={"champion": result.champion, "thresholds": model.thresholds},
        )
        for file in reports:
            mlflow.log_artifact(str(file), "reports")
        return tracking.register_champion(result.champion, logged.model_uri, name)


def _write_reports(cfg: AnomalyConfig, result: Any) -> tuple[Path, str]:
    from anomaly import evaluate
    from tenfold.reports import output_dir, write_reports

    out = output_dir(cfg.reports_dir, kind=result.corpus.source.kind)
    evaluation = evaluate.evaluate(result, _published(cfg, result))
    written = write_reports(out, evaluation.metrics, evaluation.figures)
    version = _track_and_register(cfg, result, evaluation.metrics, written)
    return out, version


@app.command()
@user_errors
def run(
    seed: SeedOption = 42,
    detector: DetectorsOpt = None,
    no_cmapss: NoCmapssOpt = False,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """The whole project: NAB and C-MAPSS, every detector, both threshold protocols,
    reports and plots, the model registered."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(seed, detector, no_cmapss, reports_dir)
    result = _train(cfg)
    out, _ = _write_reports(cfg, result)
    synthetic = not result.corpus.source.is_real
    CLI.finish(out, started, _summary, model_name=cfg.registered_name(synthetic))


@app.command()
@user_errors
def train(
    seed: SeedOption = 42,
    detector: DetectorsOpt = None,
    no_cmapss: NoCmapssOpt = False,
    verbose: bool = False,
) -> None:
    """Run the detectors, choose thresholds both ways, register the model (no reports)."""
    from anomaly import evaluate as ev

    setup_logging(verbose)
    cfg = _config(seed, detector, no_cmapss)
    result = _train(cfg)
    metrics = ev.evaluate(result).metrics
    version = _track_and_register(cfg, result, metrics, [])
    synthetic = not result.corpus.source.is_real
    console().print(
        f"champion detector [bold]{result.champion}[/]; registered as "
        f"{cfg.registered_name(synthetic)} version {version} @champion"
    )


@app.command()
@user_errors
def evaluate(
    model_uri: ModelUriOption = None,
    seed: SeedOption = 42,
    verbose: bool = False,
) -> None:
    """Score the NAB category with a registered model's thresholds (per file, JSON)."""
    from anomaly import data, nab
    from anomaly.serve import load_model

    setup_logging(verbose)
    cfg = _config(seed, None, True)
    model = load_model(model_uri)
    corpus = data.load_nab(cfg)
    if not corpus.source.is_real:
        announce_synthetic("NAB series")
    profile = corpus.profiles[cfg.profile]
    report: dict[str, Any] = {}
    for name in (*model.detectors, "consensus", "union"):
        threshold = (model.thresholds or {}).get(name)
        if threshold is None:
            continue
        files = {}
        for series_name, series in sorted(corpus.series.items()):
            detection = model.score_series(series.values)[name]
            files[series_name] = nab.score_file(
                detection.score, series.layout(cfg.probation_fraction), threshold, profile
            ).as_dict()
        raw = sum(float(f["score"]) for f in files.values())
        report[name] = {
            "threshold": threshold,
            "normalised": nab.normalised(raw, corpus.n_windows, profile),
            "files": files,
        }
    typer.echo(json.dumps(report, indent=2))


def _detect(
    data_path: Path,
    time_col: str,
    value_cols: list[str],
    output: Path,
    probation: int | None,
    model_uri: str | None,
) -> None:
    from anomaly import data
    from anomaly.serve import load_model

    sensor = data.read_sensor_csv(data_path, time_col, value_cols)
    if sensor.filled:
        console().print(f"{sensor.filled} missing reading(s) took the value before them")
    model = load_model(model_uri)
    if probation is not None and probation >= len(sensor.values):
        from tenfold.errors import DataError

        raise DataError(f"--probation {probation}: the file has only {len(sensor.values)} rows")
    frame = model.flags_frame(sensor.timestamps, sensor.values, probation)
    for k, column in enumerate(sensor.value_columns):
        frame.insert(1 + k, column, sensor.values[:, k])
    write_csv(frame, output)
    learnt = model.probation(len(frame)) if probation is None else probation
    flagged = int((frame["families_flagged"] > 0).sum())
    agreed = int(frame["consensus_flag"].sum()) if "consensus_flag" in frame else 0
    console().print(
        f"{len(frame)} rows ({learnt} learnt first) → {output}: {flagged} flagged by at "
        f"least one family, {agreed} by the consensus"
    )


@app.command()
@user_errors
def detect(
    data_path: Annotated[
        Path, typer.Option("--data", help="A sensor CSV.", exists=True, dir_okay=False)
    ],
    time_col: TimeColOpt,
    value_col: ValueColOpt,
    output: OutputOpt,
    probation: ProbationOpt = None,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Any sensor CSV: each detector's score and flag per timestamp, and the agreement."""
    setup_logging(verbose)
    _detect(data_path, time_col, value_col, output, probation, model_uri)


@app.command()
@user_errors
def predict(
    input_path: Annotated[
        Path, typer.Option("--input", help="A sensor CSV.", exists=True, dir_okay=False)
    ],
    output: OutputOpt,
    time_col: TimeColOpt = "timestamp",
    value_col: ValueColOpt = ["value"],  # noqa: B006 - typer reads the default
    probation: ProbationOpt = None,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Batch scoring (``detect`` with NAB's column names as defaults)."""
    setup_logging(verbose)
    _detect(input_path, time_col, value_col, output, probation, model_uri)


@app.command("nab-score")
@user_errors
def nab_score(
    results: Annotated[
        Path,
        typer.Option("--results", help="Folder of NAB-format detector outputs.", file_okay=False),
    ],
    threshold: Annotated[float, typer.Option("--threshold", help="Detection threshold.")],
    profile: Annotated[str, typer.Option("--profile", help="NAB profile.")] = "standard",
    windows: Annotated[
        Path | None,
        typer.Option("--windows", help="Label windows JSON (default: NAB's).", dir_okay=False),
    ] = None,
) -> None:
    """Score a folder of NAB-format outputs (timestamp, anomaly_score): per-file Score,
    TP, TN, FP, FN and the normalised score, as JSON on stdout."""
    from anomaly import data, nab
    from tenfold.errors import DataError

    cfg = AnomalyConfig()
    profiles = data.nab_profiles(cfg)
    if profile not in profiles:
        raise DataError(f"--profile {profile!r}: use one of {sorted(profiles)}")
    if windows is not None:
        try:
            labels = json.loads(windows.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise DataError(f"{windows}: not a label-windows JSON file ({exc})") from None
    else:
        labels = data.nab_label_windows(cfg)
    outputs = data.read_nab_results(results, labels)
    files, total, n_windows = {}, 0.0, 0
    for key, frame in sorted(outputs.items()):
        where = nab.layout(len(frame), nab.window_rows(frame["timestamp"].to_numpy(), labels[key]))
        scored = nab.score_file(
            frame["anomaly_score"].to_numpy(), where, threshold, profiles[profile]
        )
        files[key] = scored.as_dict()
        total += scored.score
        n_windows += scored.n_windows
    document = {
        "profile": profile,
        "threshold": threshold,
        "files": files,
        "score": total,
        "windows": n_windows,
        "normalised": nab.normalised(total, n_windows, profiles[profile]) if n_windows else None,
    }
    typer.echo(json.dumps(document, indent=2))


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from anomaly.evaluate import DISPLAY

    rows = []
    for name, row in metrics["models"].items():
        mark = " ★" if name == metrics["champion"] else ""
        lead = row.get("cmapss", {}).get("lead_cycles_median")
        rows.append(
            (
                DISPLAY.get(name, name) + mark,
                f"{row['nab']['normalised']:.1f}",
                f"{row['loso']['normalised']:.1f}",
                "–" if lead is None else f"{lead:.0f}",
            )
        )
    return Summary(
        title=f"anomaly: NAB {metrics['data']['nab']['category']} ({metrics['data']['kind']} data)",
        columns=("detector", "NAB protocol", "leave one out", "C-MAPSS lead"),
        rows=rows,
    )


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
