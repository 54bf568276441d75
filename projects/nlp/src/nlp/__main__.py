"""nlp CLI: ``python -m nlp run | train | evaluate | predict | serve | report``.

``run`` is the whole project (what ``make nlp`` calls): data → both models tuned and
tracked in MLflow → evaluation, error analysis and plots → each model registered under
its own alias, the best as challenger, promoted to champion if it beats the current one
on the test split, ready for ``serve``.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer

from nlp.config import MODELS, PROJECT_DIR, ModelName, NlpConfig
from tenfold.cli import (
    CsvOptions,
    InputOption,
    ModelUriOption,
    OutputOption,
    ProjectCli,
    ServeOption,
    Summary,
    TuningOptions,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

if TYPE_CHECKING:
    from nlp.train import NlpResult
    from tenfold.data import DataSource

CLI = ProjectCli(
    PROJECT_DIR,
    service="nlp.serve:app",
    results_table="nlp.evaluate:results_table",
    sections={"latency": ("latency.json", "nlp.evaluate:latency_table")},
    config=NlpConfig,
    alias_every_candidate=True,  # nlp@tfidf, nlp@embeddings: serve either by name
    serve_options=(
        ServeOption(
            "--serve-model",
            "model",
            "Registry alias: champion, tfidf or embeddings (default NLP_MODEL).",
        ),
    ),
)
app = typer_app("BBC News topics: TF-IDF baseline vs sentence embeddings, error analysis, API.")

TextOpt = Annotated[str, typer.Option("--text-column", help="Column holding the text.")]
ChoiceOpt = Annotated[
    str | None,
    typer.Option(
        "--serve-model", help="Registry alias: champion, tfidf or embeddings (default NLP_MODEL)."
    ),
]


@dataclass(frozen=True)
class NlpOptions(TuningOptions, CsvOptions):
    """--data (any labelled text CSV) with its two columns, --model, --seed, --cv-folds,
    --trials (per model)."""

    text_column: Annotated[
        str, typer.Option("--text-column", help="Column of --data holding the text.")
    ] = "text"
    label_column: Annotated[
        str, typer.Option("--label-column", help="Column of --data holding the class.")
    ] = "category"
    model: Annotated[
        list[str] | None,
        typer.Option("--model", "-m", help="Train only these (repeat): tfidf, embeddings."),
    ] = None
    require_real_data: Annotated[
        bool,
        typer.Option(
            "--require-real-data",
            help="Fail instead of falling back to the synthetic corpus (image builds).",
        ),
    ] = False

    def apply(self, cfg: Any) -> Any:
        from tenfold.data import DataError

        unknown = sorted(set(self.model or ()) - set(MODELS))
        if unknown:
            raise DataError(f"--model: unknown model(s) {unknown}; choose from {list(MODELS)}")
        chosen: tuple[ModelName, ...] = tuple(m for m in MODELS if m in (self.model or MODELS))
        return dataclasses.replace(super().apply(cfg), models=chosen)


def _announce(source: DataSource, skipped: Mapping[str, str]) -> None:
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


def _train(cfg: NlpConfig) -> NlpResult:
    from nlp import data, train
    from tenfold.data import DataError

    frame, source = data.load(cfg)
    if cfg.require_real_data and not source.is_real:
        raise DataError(
            "--require-real-data: BBC News could not be found or assembled (see the lines "
            "above); refusing to train on the synthetic corpus"
        )
    _, skipped = train.available_models(cfg)
    _announce(source, skipped)
    with _staged_progress() as report:
        return train.train(cfg, frame, source, progress=report)


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from nlp.evaluate import SHORT_NAMES

    test_documents = metrics["data"]["test_documents"]
    return Summary.of_models(
        metrics,
        title=f"nlp: held-out test ({metrics['data']['kind']} data)",
        names={n: SHORT_NAMES[n] for n in MODELS},
        columns=(
            ("CV macro-F1", lambda m: f"{m['cv_macro_f1']:.4f}"),
            ("test macro-F1", lambda m: f"{m['test']['macro_f1']:.4f}"),
            ("accuracy", lambda m: f"{m['test']['accuracy']:.4f}"),
            ("log loss", lambda m: f"{m['test']['log_loss']:.3f}"),
            ("errors", lambda m: f"{m['test']['errors']} / {test_documents}"),
        ),
        notes=("error analysis: error_analysis.md beside metrics.json",),
    )


def _read_back(cfg: NlpConfig, run_id: str | None) -> NlpResult:
    from nlp import data, train

    frame, source = data.load(cfg)
    result = train.from_run(cfg, frame, source, CLI.training(cfg, source, run_id))
    # every article embedded once, up front, into the command's cache: a progress bar
    # instead of a silent pause inside the evaluation
    names = tuple(result.candidates)
    texts = result.data.prepared.X
    with _staged_progress() as report, train.embedded_once(names, texts, cfg, report):
        return result


def _embeddings_once() -> contextlib.AbstractContextManager[Any]:
    """One embedding per article for a whole command: training, the reports, the gate."""
    from nlp.features import embedding_cache

    return embedding_cache()


CLI.install_training(
    app,
    NlpOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    around=_embeddings_once,
    helps={
        "run": "The whole project: data, both models tuned, evaluation, error analysis, the "
        "promotion gate.",
        "train": "Tune and train the models, track them in MLflow, register each under its "
        "own alias and the best as challenger.",
        "evaluate": "Score a training's models on the test split, write the reports, and "
        "promote its challenger if it beats the champion.",
    },
)


@app.command()
@user_errors
def predict(
    input_path: InputOption,
    output_path: OutputOption,
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


CLI.install(app)  # serve (with --serve-model) and report, the same in every project

if __name__ == "__main__":
    app()
