"""Anomaly CLI: ``python -m anomaly run | train | evaluate | detect | predict | nab-score |
serve | report``.

``run`` is the whole project (what ``make anomaly`` calls): NAB realKnownCause and
C-MAPSS FD001 → every detector, causally → thresholds both ways → NAB scores, lead times,
plots → the best detector (by leave-one-series-out) registered in MLflow as challenger and
promoted to champion if it beats the current one through the gate, ready for ``serve``.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from anomaly.config import DISPLAY, PROJECT_DIR, AnomalyConfig
from tenfold.cli import (
    CommonOptions,
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
    from anomaly.train import AnomalyResult

app = typer_app("Streaming anomaly detection on NAB and C-MAPSS, scored the NAB way.")

CLI = ProjectCli(
    PROJECT_DIR,
    service="anomaly.serve:app",
    results_table="anomaly.evaluate:results_table",
    sections={
        "cmapss": ("metrics.json", "anomaly.evaluate:cmapss_table"),
        "streaming": ("streaming.json", "anomaly.serve:benchmark_table"),
    },
    config=AnomalyConfig,
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
        "--probation",
        min=10,
        help="Rows learnt before scoring (default: NAB's 15 %, ≤ 750, at least 10).",
    ),
]
OutputOpt = Annotated[
    Path,
    typer.Option(
        "--output", help="Where to write one row per timestamp (scores, flags, agreement)."
    ),
]


@dataclass(frozen=True)
class AnomalyOptions(CommonOptions):
    """--seed, --detector (repeat), --no-cmapss, --verbose."""

    detector_names: DetectorsOpt = None
    no_cmapss: NoCmapssOpt = False

    def apply(self, cfg: Any) -> Any:
        cfg = super().apply(cfg)
        changes: dict[str, Any] = {"run_cmapss": not self.no_cmapss}
        if self.detector_names:
            changes["detectors"] = tuple(self.detector_names)
        return dataclasses.replace(cfg, **changes)


def _train(cfg: AnomalyConfig) -> AnomalyResult:
    from anomaly import data, train

    loaded = data.load(cfg)
    if not loaded.corpus.source.is_real:
        announce_synthetic("NAB series (sensor series with injected anomalies)")
    if loaded.cmapss is not None and not loaded.cmapss.source.is_real:
        announce_synthetic("C-MAPSS engines")
    with progress("detecting", len(loaded.corpus.series)) as update:
        return train.train(cfg, loaded, progress=lambda stage, d, t: update(d, t))


def _read_back(cfg: AnomalyConfig, run_id: str | None) -> AnomalyResult:
    from anomaly import data, train

    loaded = data.load(cfg)
    return train.from_run(cfg, loaded, CLI.training(cfg, loaded.source, run_id))


def _summary(metrics: Mapping[str, Any]) -> Summary:
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


CLI.install_training(
    app,
    AnomalyOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    helps={
        "run": "The whole project: NAB and C-MAPSS, every detector, both threshold protocols, "
        "reports and plots, the best detector through the promotion gate.",
        "train": "Run the detectors, choose thresholds both ways, track every detector in "
        "MLflow and register the best (leave one series out) as challenger.",
        "evaluate": "Report a training's detectors (NAB both ways, C-MAPSS, plots) and promote "
        "its challenger if it beats the champion with each series held out.",
    },
)


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
    from tenfold.batch import check_files

    check_files(data_path, output)  # before the model loads: never overwrite the input
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


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
