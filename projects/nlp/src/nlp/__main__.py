"""nlp CLI: ``python -m nlp run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make nlp`` calls): data → both models tuned and
tracked in MLflow → evaluation, error analysis and plots → champion registered, ready
for ``serve``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from nlp.config import MODELS, PROJECT_DIR, ModelName, NlpConfig
from tenfold.cli import (
    CvFoldsOption,
    HostOption,
    ModelUriOption,
    PortOption,
    ProjectCli,
    ReportsDirOption,
    SeedOption,
    Summary,
    console,
    data_option,
    input_option,
    output_option,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

CLI = ProjectCli(
    PROJECT_DIR,
    service="nlp.serve:app",
    results_table="nlp.evaluate:results_table",
    sections={"latency": ("latency.json", "nlp.evaluate:latency_table")},
)
app = typer_app("BBC News topics: TF-IDF baseline vs sentence embeddings, error analysis, API.")

DataOpt = data_option("Any labelled text CSV instead of BBC News.")
TextOpt = Annotated[str, typer.Option("--text-column", help="Column holding the text.")]
LabelOpt = Annotated[str, typer.Option("--label-column", help="Column holding the class.")]
ModelsOpt = Annotated[
    list[str] | None,
    typer.Option("--model", "-m", help="Train only these (repeat): tfidf, embeddings."),
]
TrialsOpt = Annotated[int, typer.Option("--trials", min=1, help="Optuna trials per model.")]
RealOpt = Annotated[
    bool,
    typer.Option(
        "--require-real-data",
        help="Fail instead of falling back to the synthetic corpus (image builds).",
    ),
]
ChoiceOpt = Annotated[
    str | None,
    typer.Option(
        "--serve-model", help="Registry alias: champion, tfidf or embeddings (default NLP_MODEL)."
    ),
]

DEFAULTS = NlpConfig()
InputOpt = input_option("CSV of articles (a text column, optional id).")
OutputOpt = output_option("Where to write the labels.")


def _config(
    data: Path | None = None,
    text_column: str = DEFAULTS.text_column,
    label_column: str = DEFAULTS.label_column,
    models: list[str] | None = None,
    trials: int = DEFAULTS.n_trials,
    seed: int = DEFAULTS.seed,
    cv_folds: int = DEFAULTS.cv_folds,
    reports_dir: Path | None = None,
) -> NlpConfig:
    from tenfold.data import DataError

    unknown = sorted(set(models or ()) - set(MODELS))
    if unknown:
        raise DataError(f"--model: unknown model(s) {unknown}; choose from {list(MODELS)}")
    chosen: tuple[ModelName, ...] = tuple(m for m in MODELS if m in (models or MODELS))
    changes: dict[str, Any] = {
        "n_trials": trials,
        "seed": seed,
        "cv_folds": cv_folds,
        "models": chosen,
        "text_column": text_column,
        "label_column": label_column,
    }
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
    if data is not None:
        changes.update(data_path=data.resolve(), experiment="nlp-custom")
    return dataclasses.replace(DEFAULTS, **changes)


def _output_dir(cfg: NlpConfig, kind: str, trained: tuple[str, ...]) -> Path:
    """Real BBC results with every model are the committed reports; anything else goes to
    a git-ignored sub-folder, so an offline run, another corpus or a run without the
    dense extra never overwrites the published numbers."""
    from tenfold.reports import output_dir

    out = output_dir(cfg.reports_dir, kind=kind, data_path=cfg.data_path)
    if out == cfg.reports_dir and trained != MODELS:
        return cfg.reports_dir / "custom" / "-".join(trained)
    return out


def _announce(source: Any, skipped: dict[str, str]) -> None:
    out = console()
    if not source.is_real:
        out.print(
            "[bold yellow]Using the SYNTHETIC corpus[/] (BBC News not found): a smoke run "
            "only, its numbers say nothing about real articles."
        )
    for name, reason in skipped.items():
        out.print(f"[bold yellow]Skipping the {name} model[/]: {reason}.")


@contextlib.contextmanager
def _staged_progress() -> Iterator[Callable[[str, int, int], None]]:
    """One progress bar per stage (embedding, then each model's Optuna trials)."""
    with contextlib.ExitStack() as stack:
        current: dict[str, Callable[[int, int], None]] = {}

        def report(stage: str, done: int, total: int) -> None:
            if stage not in current:
                stack.close()
                current.clear()
                label = "embedding articles" if stage == "embedding" else f"tuning {stage}"
                current[stage] = stack.enter_context(progress(label, total))
            current[stage](done, total)

        yield report


def _train(cfg: NlpConfig, require_real: bool = False) -> tuple[Any, Any]:
    from nlp import data, train
    from tenfold.data import DataError

    frame, source = data.load(cfg)
    if require_real and not source.is_real:
        raise DataError(
            "--require-real-data: BBC News could not be found or assembled (see the lines "
            "above); refusing to train on the synthetic corpus"
        )
    _, skipped = train.available_models(cfg)
    _announce(source, skipped)
    with _staged_progress() as report:
        result = train.train(cfg, frame, source, progress=report)
    return frame, result


def _write_reports(cfg: NlpConfig, result: Any) -> Path:
    """Evaluate on the test split; write metrics.json, figures and the error analysis;
    attach them to MLflow."""
    from nlp import evaluate
    from tenfold import tracking
    from tenfold.reports import write_reports

    out = _output_dir(cfg, result.source.kind, tuple(result.candidates))
    evaluation = evaluate.evaluate(result, cfg)
    written = write_reports(out, evaluation.metrics, evaluation.figures)
    analysis = out / "error_analysis.md"
    analysis.write_text(evaluation.error_analysis, encoding="utf-8")
    written.append(analysis)
    # test scores go back onto the runs that produced the models, reports onto the parent
    for name, candidate in result.candidates.items():
        test = evaluation.metrics["models"][name]["test"]
        scalar = {k: v for k, v in test.items() if isinstance(v, float)}
        tracking.log_metrics_to(candidate.run_id, scalar, prefix="test_")
    tracking.log_artifacts_to(result.parent_run_id, written, artifact_path="reports")
    return out


@app.command()
@user_errors
def run(
    data: DataOpt = None,
    text_column: TextOpt = DEFAULTS.text_column,
    label_column: LabelOpt = DEFAULTS.label_column,
    model: ModelsOpt = None,
    trials: TrialsOpt = DEFAULTS.n_trials,
    seed: SeedOption = DEFAULTS.seed,
    cv_folds: CvFoldsOption = DEFAULTS.cv_folds,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """The whole project: data, both models tuned, evaluation, error analysis, champion."""
    from nlp.features import embedding_cache

    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(data, text_column, label_column, model, trials, seed, cv_folds, reports_dir)
    # one embedding per article for the whole run: training and the reports share it
    with embedding_cache():
        _, result = _train(cfg)
        out = _write_reports(cfg, result)
    CLI.finish(out, started, _summary, model_name=cfg.registered_model_name)


@app.command()
@user_errors
def train(
    data: DataOpt = None,
    text_column: TextOpt = DEFAULTS.text_column,
    label_column: LabelOpt = DEFAULTS.label_column,
    model: ModelsOpt = None,
    trials: TrialsOpt = DEFAULTS.n_trials,
    seed: SeedOption = DEFAULTS.seed,
    cv_folds: CvFoldsOption = DEFAULTS.cv_folds,
    require_real_data: RealOpt = False,
    verbose: bool = False,
) -> None:
    """Tune and train the models, track them in MLflow, register the champion."""
    from nlp.evaluate import SHORT_NAMES
    from nlp.features import embedding_cache

    setup_logging(verbose)
    cfg = _config(data, text_column, label_column, model, trials, seed, cv_folds)
    with embedding_cache():
        _, result = _train(cfg, require_real_data)
    scores = ", ".join(
        f"{SHORT_NAMES[n]} {c.cv_macro_f1:.4f}" for n, c in result.candidates.items()
    )
    console().print(
        f"CV macro-F1: {scores}; champion [bold]{result.champion}[/], registered as "
        f"{cfg.registered_model_name}@champion (and @{', @'.join(result.candidates)}); "
        "`evaluate` scores the test split"
    )


@app.command()
@user_errors
def evaluate(
    data: DataOpt = None,
    text_column: TextOpt = DEFAULTS.text_column,
    label_column: LabelOpt = DEFAULTS.label_column,
    seed: SeedOption = DEFAULTS.seed,
    cv_folds: CvFoldsOption = DEFAULTS.cv_folds,
    trials: TrialsOpt = DEFAULTS.n_trials,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """Score the latest training's models on the test split; write the reports."""
    from nlp import data as nlp_data
    from nlp.features import embedding_cache
    from nlp.train import embedded_once, from_latest_run

    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(data, text_column, label_column, None, trials, seed, cv_folds, reports_dir)
    frame, source = nlp_data.load(cfg)
    result = from_latest_run(cfg, frame, source)
    cfg = dataclasses.replace(cfg, models=tuple(m for m in MODELS if m in result.candidates))
    with (
        embedding_cache(),
        _staged_progress() as report,
        embedded_once(tuple(result.candidates), result.prepared.X, cfg, report),
    ):
        out = _write_reports(cfg, result)
    CLI.finish(out, started, _summary, model_name=cfg.registered_model_name)


@app.command()
@user_errors
def predict(
    input_path: InputOpt,
    output_path: OutputOpt,
    text_column: TextOpt = "text",
    model_uri: ModelUriOption = None,
    serve_model: ChoiceOpt = None,
    verbose: bool = False,
) -> None:
    """Batch classification: label, confidence and class probabilities per article (any
    file size: read, classified and written in chunks)."""
    from collections import Counter

    from nlp import data as nlp_data
    from tenfold.batch import check_files, read_ahead, score_file

    setup_logging(verbose)
    check_files(input_path, output_path)
    chunks = read_ahead(nlp_data.article_chunks(input_path, text_column))
    predictor = _load(model_uri, serve_model)
    result = score_file(
        chunks,
        predictor.classify_frame,
        output_path,
        source=input_path,
        tally=lambda labels: Counter(labels["label"].tolist()),
        description="classifying articles",
    )
    counts = sum(result.tallies, Counter[str]())
    console().print(
        f"classified {result.rows} articles with {predictor.candidate} → {output_path} "
        f"({', '.join(f'{k}: {v}' for k, v in sorted(counts.items()))})"
    )


@app.command()
@user_errors
def serve(
    host: HostOption = "127.0.0.1",
    port: PortOption = 8000,
    model_uri: ModelUriOption = None,
    serve_model: ChoiceOpt = None,
) -> None:
    """Serve a model over HTTP (FastAPI + uvicorn); the champion unless told otherwise."""
    from nlp.serve import SPEC, settings_for
    from tenfold.serving import ServiceSettings, create_app
    from tenfold.serving import run as run_server

    setup_logging()
    settings = ServiceSettings()
    if model_uri:
        settings = settings.model_copy(update={"model_uri": model_uri})
    settings = settings_for(settings, _choice(serve_model))
    # loaded before the server starts, so a missing model is one clear line, not a crash
    predictor = _load(settings.model_uri, None)
    run_server(create_app(SPEC, settings, predictor=predictor), host=host, port=port)


def _choice(serve_model: str | None) -> Any:
    from tenfold.data import DataError

    if serve_model is not None and serve_model not in ("champion", *MODELS):
        raise DataError(
            f"--serve-model: {serve_model!r} is not one of champion, {', '.join(MODELS)}"
        )
    return serve_model


def _load(model_uri: str | None, serve_model: str | None) -> Any:
    """The predictor, or one clear line saying why it cannot be loaded."""
    from mlflow.exceptions import MlflowException

    from nlp.features import DenseUnavailable, WeightsError
    from nlp.serve import NlpSettings, load
    from nlp.serve import model_uri as alias_uri
    from tenfold.data import DataError

    uri = model_uri or alias_uri(_choice(serve_model) or NlpSettings().model)
    try:
        return load(uri)
    except (DenseUnavailable, WeightsError) as exc:
        raise DataError(str(exc)) from None
    except (MlflowException, OSError) as exc:
        message = getattr(exc, "message", str(exc))
        raise DataError(f"cannot load {uri}: {message} (train first: `make nlp`)") from None


def _summary(metrics: dict[str, Any]) -> Summary:
    from nlp.evaluate import SHORT_NAMES

    rows = []
    for name in (n for n in MODELS if n in metrics["models"]):
        row = metrics["models"][name]
        mark = " ★" if name == metrics["champion"] else ""
        test = row["test"]
        rows.append(
            (
                SHORT_NAMES[name] + mark,
                f"{row['cv_macro_f1']:.4f}",
                f"{test['macro_f1']:.4f}",
                f"{test['accuracy']:.4f}",
                f"{test['log_loss']:.3f}",
                f"{test['errors']} / {metrics['data']['test_documents']}",
            )
        )
    return Summary(
        title=f"nlp: held-out test ({metrics['data']['kind']} data)",
        columns=("model", "CV macro-F1", "test macro-F1", "accuracy", "log loss", "errors"),
        rows=rows,
        notes=("error analysis: error_analysis.md beside metrics.json",),
    )


CLI.install(app, serve=False)  # report; serve is nlp's own (a choice of model)

if __name__ == "__main__":
    app()
