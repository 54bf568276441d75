"""Shared CLI plumbing: logging through rich, progress bars, user-facing errors, the
options every project repeats, and :class:`ProjectCli`, the commands (``serve``,
``report``) and finishing steps that are the same in every project.

Functions elsewhere return values and never print; commands print through these.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect
import logging
import time
import typing
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from tenfold.errors import USER_ERRORS
from tenfold.training import ProjectConfig

if TYPE_CHECKING:
    import pandas as pd

    from tenfold import tracking
    from tenfold.data import DataSource
    from tenfold.training import TrainResult

P = ParamSpec("P")
R = TypeVar("R")


def console() -> Console:
    return Console(stderr=True)


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console(), show_path=False, rich_tracebacks=False)],
        force=True,
    )
    for noisy in (
        "mlflow",
        "alembic",
        "urllib3",
        "httpx",
        "numba",
        "matplotlib",
        "shap",
        "optuna",
        "PIL",
        "git",
    ):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def user_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn known user mistakes into one red line and exit code 2."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            console().print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
            raise typer.Exit(code=2) from None

    return wrapper


@contextmanager
def progress(description: str, total: int) -> Iterator[Callable[[int, int], None]]:
    """A progress bar on stderr; yields ``update(done, total)``.

    Without a terminal (a log file, CI) rich draws nothing until the bar stops, so a long
    stage would look hung: there a plain line is printed at every tenth of the work.
    """
    out = console()
    if not out.is_terminal:
        yield _progress_lines(out, description, total)
        return
    bar = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console(),
        transient=False,
    )
    task = bar.add_task(description, total=total)
    with bar:
        yield lambda done, total: bar.update(task, completed=done, total=total)


def _progress_lines(out: Console, description: str, total: int) -> Callable[[int, int], None]:
    start = time.monotonic()
    printed = [0]  # the last tenth printed

    def update(done: int, total_now: int) -> None:
        tenth = 10 if done >= total_now else 10 * done // total_now
        if tenth > printed[0]:
            printed[0] = tenth
            elapsed = time.monotonic() - start
            out.print(
                f"{description}: {done}/{total_now} ({elapsed:.0f} s)",
                highlight=False,
                soft_wrap=True,
            )

    return update


# Options every project's CLI repeats, each declared once (``serve``, ``predict`` and the
# training commands' option groups below use them).
HostOption = Annotated[str, typer.Option(help="Interface to bind.")]
PortOption = Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")]
ReportsDirOption = Annotated[
    Path | None,
    typer.Option(
        "--reports-dir",
        help="Write reports here instead of the project's reports/ folder.",
        file_okay=False,
    ),
]
SeedOption = Annotated[
    int, typer.Option("--seed", help="The one seed (every random_state and generator).")
]
CvFoldsOption = Annotated[int, typer.Option("--cv-folds", min=2, max=20, help="CV folds.")]
TrialsOption = Annotated[int, typer.Option("--trials", min=1, help="Optuna trials.")]
IdColumnOption = Annotated[
    str | None,
    typer.Option(
        "--id", help="Id column of --data, left out of the features (optional; default none)."
    ),
]
TargetOption = Annotated[str, typer.Option("--target", help="Target column of --data.")]
VerboseOption = Annotated[bool, typer.Option("--verbose", help="Debug logging.")]
RunIdOption = Annotated[
    str | None,
    typer.Option(
        "--run-id",
        help="The training run to evaluate (`train` prints it). Default: the newest "
        "finished training of these options and data.",
    ),
]
CsvOption = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="Your own CSV instead of the project's dataset: reports go to "
        "reports/custom/<file name>, the model registers as <project>-<file name>.",
        exists=True,
        dir_okay=False,
    ),
]


InputOption = Annotated[
    Path, typer.Option("--input", help="The CSV to score.", exists=True, dir_okay=False)
]
OutputOption = Annotated[
    Path, typer.Option("--output", help="Where to write the scores (folders are created).")
]


def data_option(help_text: str) -> Any:
    """``--data PATH``: a user's own CSV instead of the project's dataset (must exist)."""
    return Annotated[
        Path | None,
        typer.Option("--data", help=help_text, exists=True, dir_okay=False),
    ]


def input_option(help_text: str) -> Any:
    """``--input PATH``: the CSV a batch command reads (must exist)."""
    return Annotated[Path, typer.Option("--input", help=help_text, exists=True, dir_okay=False)]


def output_option(help_text: str) -> Any:
    """``--output PATH``: where a batch command writes (folders are created)."""
    return Annotated[Path, typer.Option("--output", help=help_text)]


def typer_app(help_text: str) -> typer.Typer:
    """A project's command group: help when called bare, no shell-completion commands."""
    return typer.Typer(add_completion=False, no_args_is_help=True, help=help_text)


ModelUriOption = Annotated[
    str | None,
    typer.Option(
        "--model-uri",
        help="Default: the project's champion (models:/<project>@champion), or a model folder.",
    ),
]


# --------------------------------------------------------------------------- option groups
#
# A command's options come in groups, each a frozen dataclass whose fields carry their
# typer metadata. A command takes one parameter per group (``def run(opts: ChurnOptions,
# out: ReportOptions)``); :func:`expand_options` turns the groups' fields into the
# command's signature, so a project declares its own options once and `run`, `train` and
# `evaluate` share them, and the library declares the common ones once for every project.

Cfg = TypeVar("Cfg", bound=ProjectConfig)
# a field with this metadata keeps its own default instead of the config's value
OWN_DEFAULT: Mapping[str, bool] = {"own_default": True}


@dataclass(frozen=True)
class Options:
    """Base of the option groups. :meth:`apply` puts the options into a config: every
    field named like a config field, ``None`` meaning "the config's own value"; the fields
    of :attr:`CSV_ONLY` only with ``--data``: the project's own dataset has its own target,
    id and columns."""

    CSV_ONLY: ClassVar[frozenset[str]] = frozenset(
        {"target", "id_column", "text_column", "label_column"}
    )

    def apply(self, cfg: Any) -> Any:
        """``cfg`` (the project's config) with these options in it."""
        names = {f.name for f in dataclasses.fields(cfg)}
        custom = getattr(self, "data_path", None) is not None
        changes: dict[str, Any] = {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name in names
            and getattr(self, f.name) is not None
            and (custom or f.name not in self.CSV_ONLY)
        }
        return dataclasses.replace(cfg, **changes)


@dataclass(frozen=True)
class CommonOptions(Options):
    """What every training command takes."""

    seed: SeedOption = 42
    verbose: VerboseOption = False


@dataclass(frozen=True)
class CsvOptions(CommonOptions):
    """``--data``: a user's CSV instead of the project's dataset. Its model is registered
    under its own name and its runs go to the experiment ``<experiment>-custom``."""

    data_path: CsvOption = None

    def apply(self, cfg: Any) -> Any:
        cfg = super().apply(cfg)
        if self.data_path is None:
            return cfg
        changes: dict[str, Any] = {
            "data_path": self.data_path.resolve(),
            "experiment": f"{cfg.experiment}-custom",
        }
        return dataclasses.replace(cfg, **changes)


@dataclass(frozen=True)
class TabularOptions(CsvOptions):
    """``--data`` with a target column and an optional id column. The project's own id
    column belongs to its own dataset: a user's CSV has none unless ``--id`` names it."""

    target: TargetOption = ""
    id_column: IdColumnOption = field(default=None, metadata=OWN_DEFAULT)

    def apply(self, cfg: Any) -> Any:
        cfg = super().apply(cfg)
        if self.data_path is not None and self.id_column is None:
            no_id: dict[str, Any] = {"id_column": None}
            cfg = dataclasses.replace(cfg, **no_id)
        return cfg


@dataclass(frozen=True)
class TuningOptions(Options):
    """Cross-validation folds and the Optuna budget."""

    cv_folds: CvFoldsOption = 5
    n_trials: TrialsOption = 50


@dataclass(frozen=True)
class ReportOptions(Options):
    """Where ``run`` and ``evaluate`` write their reports."""

    reports_dir: ReportsDirOption = field(default=None, metadata=OWN_DEFAULT)

    def apply(self, cfg: Any) -> Any:
        if self.reports_dir is None:
            return cfg
        resolved: dict[str, Any] = {"reports_dir": self.reports_dir.resolve()}
        return dataclasses.replace(cfg, **resolved)


@dataclass(frozen=True)
class RunOptions(Options):
    """Which training ``evaluate`` reads back from MLflow."""

    run_id: RunIdOption = None


def expand_options(func: Callable[..., R], defaults: object | None = None) -> Callable[..., R]:
    """``func`` with its option-group parameters replaced by the groups' fields, for Typer.

    Each parameter of ``func`` annotated with an :class:`Options` subclass becomes that
    group's fields (keyword options); the wrapper builds the groups back and calls
    ``func`` with them. A field named like an attribute of ``defaults`` (the project's
    config) shows and uses that value as its default, unless its metadata is
    :data:`OWN_DEFAULT`.
    """
    groups = {
        name: hint
        for name, hint in typing.get_type_hints(func).items()
        if name != "return" and isinstance(hint, type) and issubclass(hint, Options)
    }
    parameters: list[inspect.Parameter] = []
    for group in groups.values():
        hints = typing.get_type_hints(group, include_extras=True)
        for f in dataclasses.fields(group):
            default = f.default
            if not f.metadata.get("own_default") and hasattr(defaults, f.name):
                default = getattr(defaults, f.name)
            if any(p.name == f.name for p in parameters):
                raise TypeError(f"option {f.name!r} is declared by two groups of {func.__name__}")
            parameters.append(
                inspect.Parameter(
                    f.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    default=default,
                    annotation=hints[f.name],
                )
            )

    parameters.sort(key=lambda p: p.name == "verbose")  # --verbose last in --help

    @functools.wraps(func)
    def wrapper(**values: Any) -> R:
        built = {
            name: group(**{f.name: values[f.name] for f in dataclasses.fields(group)})
            for name, group in groups.items()
        }
        return func(**built)

    wrapper.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    wrapper.__annotations__ = {p.name: p.annotation for p in parameters}
    return wrapper


def load_object(target: str) -> Any:
    """``"package.module:attribute"`` → the attribute, imported only when called (so a
    CLI module stays cheap to import, and ``--help`` does not load scikit-learn)."""
    module, _, attribute = target.partition(":")
    if not attribute:
        raise ValueError(f"{target!r} is not 'module:attribute'")
    return getattr(importlib.import_module(module), attribute)


def announce_synthetic(dataset: str, missing: str = "real file not found") -> None:
    """The one clear line a run prints when it falls back to a synthetic twin."""
    console().print(
        f"[bold yellow]Using the SYNTHETIC twin of the {dataset}[/] ({missing}): "
        "numbers are illustrative only."
    )


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    """A batch command's output file (folders created, no index column)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_csv(path, index=False)
    return path


# --------------------------------------------------------------------------- the end of a run


@dataclass(frozen=True)
class Summary:
    """The end-of-run table a project prints: one row per model, then a few notes."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    notes: Sequence[str] = ()

    @classmethod
    def of_models(
        cls,
        metrics: Mapping[str, Any],
        *,
        title: str,
        names: Mapping[str, str],
        columns: Sequence[tuple[str, Callable[[Mapping[str, Any]], str]]],
        notes: Sequence[str] = (),
    ) -> Summary:
        """One row per entry of ``metrics["models"]`` in the order of ``names`` (model →
        display name, the best of the training starred), one cell per column."""
        models = metrics["models"]
        rows = [
            (
                names[name] + (" ★" if name == metrics["champion"] else ""),
                *(cell(models[name]) for _, cell in columns),
            )
            for name in names
            if name in models
        ]
        return cls(title, ("model", *(header for header, _ in columns)), rows, notes)


@dataclass(frozen=True)
class ServeOption:
    """An option of a project's ``serve`` command that sets a field of the service's
    settings class (nlp: ``--serve-model`` → ``NlpSettings.model``); the settings class
    validates it (a bad value is one line naming the option)."""

    flag: str
    field: str
    help: str


@dataclass(frozen=True)
class Registration:
    """Where a logged training's best candidate went in the registry."""

    run_id: str
    model_name: str
    version: str


# when the running command started (the end-of-run line reports its duration)
_started: ContextVar[float] = ContextVar("tenfold_command_started", default=0.0)


@dataclass(frozen=True)
class ProjectCli(Generic[Cfg]):
    """What is the same in every project's CLI, from where the project lives, its config
    class and two names: the app factory (``"<pkg>.serve:app"``, a ``ServiceSettings →
    FastAPI`` callable) and the README results renderer (``"<pkg>.evaluate:results_table"``,
    ``metrics → markdown``).

    The training commands are the project's own functions of option groups
    (:meth:`command`); what follows training is the same everywhere: log it
    (:meth:`register`: MLflow runs, the best candidate as ``challenger``), then
    :meth:`publish`: ``<pkg>.evaluate:evaluate`` writes the reports, the promotion gate of
    ``<pkg>.evaluate:promotion_gate`` decides on ``champion``, and a summary is printed.
    """

    project_dir: Path
    service: str
    results_table: str
    # more generated README sections: name → (file in reports/, "module:renderer"),
    # refreshed when the file exists (e.g. a benchmark's latency table)
    sections: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    config: Callable[[], Cfg] | None = None
    # register every candidate as a version with its own name as alias (``nlp@tfidf``)
    alias_every_candidate: bool = False

    @property
    def package(self) -> str:
        return self.service.partition(".")[0]

    # a project's own ``serve`` options, each setting a field of its settings class
    serve_options: Sequence[ServeOption] = ()

    @property
    def published(self) -> Path:
        """The committed reports folder whose ``metrics.json`` the README shows."""
        return self.project_dir / "reports"

    def refresh_readme(self) -> bool:
        """Regenerate the README's results section from the published metrics."""
        from tenfold.reports import update_readme
        from tenfold.repro import read_metrics

        sources = {"results": ("metrics.json", self.results_table), **self.sections}
        rendered = {
            name: load_object(renderer)(read_metrics(self.published / file))
            for name, (file, renderer) in sources.items()
            if (self.published / file).is_file()
        }
        return update_readme(self.project_dir / "README.md", rendered)

    # ------------------------------------------------------------------ commands

    def defaults(self) -> Cfg:
        if self.config is None:
            raise TypeError("ProjectCli(config=...) is needed for the training commands")
        return self.config()

    def command(self, app: typer.Typer) -> Callable[[Callable[..., None]], Callable[..., None]]:
        """Add a command whose parameters are option groups: their fields become its
        options (defaults from the project's config), known user mistakes are one red
        line (:func:`user_errors`), and logging starts at ``--verbose``'s level."""

        def add(func: Callable[..., None]) -> Callable[..., None]:
            expanded = expand_options(func, self.defaults())

            @functools.wraps(expanded)
            def timed(**values: Any) -> None:
                _started.set(time.perf_counter())
                setup_logging(bool(values.get("verbose", False)))
                expanded(**values)

            app.command(func.__name__)(user_errors(timed))
            return func

        return add

    def install_training(
        self,
        app: typer.Typer,
        options: type[Options],
        *,
        train: Callable[[Cfg], TrainResult[Any, Any]],
        read_back: Callable[[Cfg, str | None], TrainResult[Any, Any]],
        summary: Callable[[Mapping[str, Any]], Summary],
        helps: Mapping[str, str],
        around: Callable[[], AbstractContextManager[Any]] = nullcontext,
    ) -> None:
        """Add ``run``, ``train`` and ``evaluate``, the same in every project, sharing the
        project's ``options`` (and ``run``/``evaluate`` ``--reports-dir``, ``evaluate``
        ``--run-id``):

        - ``train``: ``train(cfg)``, then :meth:`register` (MLflow, challenger);
        - ``evaluate``: ``read_back(cfg, run_id)`` (the project's data and
          :meth:`training`), then :meth:`publish` (reports, the gate, ``summary``);
        - ``run``: both in one process (what ``make <project>`` calls).

        ``helps`` holds each command's help text; ``around`` a context every command runs
        in (nlp: one embedding cache for training, reports and the gate).
        """
        cli = self

        def run(opts: Options, out: ReportOptions) -> None:
            cfg = cli.configure(opts, out)
            with around():
                cli.publish(cfg, train(cfg), summary)

        def train_command(opts: Options) -> None:
            cfg = cli.configure(opts)
            with around():
                cli.register(cfg, train(cfg))

        def evaluate(opts: Options, out: ReportOptions, which: RunOptions) -> None:
            cfg = cli.configure(opts, out)
            with around():
                cli.publish(cfg, read_back(cfg, which.run_id), summary)

        for name, command, groups in (
            ("run", run, {"opts": options, "out": ReportOptions}),
            ("train", train_command, {"opts": options}),
            ("evaluate", evaluate, {"opts": options, "out": ReportOptions, "which": RunOptions}),
        ):
            command.__name__ = name
            command.__doc__ = helps[name]
            command.__annotations__ = {**groups, "return": None}
            self.command(app)(command)

    def configure(self, *groups: Options) -> Cfg:
        """The project's config with the options of ``groups`` in it."""
        cfg = self.defaults()
        for group in groups:
            cfg = group.apply(cfg)
        return cfg

    def register(
        self, cfg: Cfg, result: TrainResult[Any, Any], *, quiet: bool = False
    ) -> Registration:
        """Log a training to MLflow and register its best candidate as the ``challenger``
        (a new version; ``champion`` only moves after evaluation, through the gate)."""
        from tenfold import promotion, tracking

        run_id = tracking.log_training(result, config=cfg)
        name = cfg.registered_model_name(result.source)
        version = promotion.register_challenger(
            result, name, every_candidate=self.alias_every_candidate
        )
        if not quiet:
            best = result.best
            console().print(
                f"training run [bold]{run_id}[/]: best {best.name} (CV {best.metric} "
                f"{best.cv_score:.4f}) registered as {name} v{version} @challenger; "
                f"`python -m {self.package} evaluate --run-id {run_id}` scores it on "
                "held-out data and promotes it if it beats the champion",
                soft_wrap=True,
            )
        return Registration(run_id, name, version)

    def training(self, cfg: Cfg, source: DataSource, run_id: str | None) -> tracking.LoggedTraining:
        """The training ``evaluate`` reads back (``--run-id``, or the newest finished one
        of these options and data)."""
        from tenfold import tracking

        return tracking.read_training(cfg, source, run_id=run_id)

    def publish(
        self,
        cfg: Cfg,
        result: TrainResult[Any, Any],
        summarise: Callable[[Mapping[str, Any]], Summary],
    ) -> None:
        """Everything after training: log and register it (unless it was read back from
        MLflow), evaluate it, write the reports (and attach them to the run), put the
        challenger through the promotion gate, print the summary."""
        from tenfold import tracking
        from tenfold.reports import write_reports

        registration = (
            self.register(cfg, result, quiet=True)
            if result.run_id is None
            else _registration(result.run_id)
        )
        evaluation = load_object(f"{self.package}.evaluate:evaluate")(result, cfg)
        out = cfg.output_dir(result)
        written = write_reports(out, evaluation.metrics, evaluation.figures)
        for name, text in evaluation.files.items():
            (out / name).write_text(text, encoding="utf-8")
            written.append(out / name)
        tracking.log_evaluation(result, evaluation, written)
        verdict = f"training run {result.run_id} was not registered: no promotion"
        if registration is not None:
            verdict = f"training run {result.run_id}: " + self.promote(cfg, result, registration)
            if registration.model_name != cfg.model_name:
                # a synthetic or custom model is never served as the project's own
                verdict += (
                    f"; serve it with `python -m {self.package} serve --model-uri "
                    f"models:/{registration.model_name}@champion`"
                )
        self.finish(out, summarise, verdict)

    def promote(self, cfg: Cfg, result: TrainResult[Any, Any], registration: Registration) -> str:
        """The promotion gate on a registered challenger; one line saying what it did."""
        from tenfold import promotion

        gate, score = load_object(f"{self.package}.evaluate:promotion_gate")(result, cfg)
        decision, record = promotion.promote_if_better(
            registration.model_name, registration.version, gate, score
        )
        where = f"{registration.model_name} v{registration.version}"
        if decision.promote:
            return f"{where} promoted to @champion ({decision.reason})"
        return f"{where} stays @challenger, champion v{record.champion} kept ({decision.reason})"

    def finish(
        self, out: Path, summarise: Callable[[Mapping[str, Any]], Summary], verdict: str
    ) -> None:
        """After a run wrote its reports to ``out``: refresh the README when they are the
        published ones (never for a synthetic run, a user's CSV or ``--reports-dir``),
        then print the summary table, the gate's verdict and where everything went."""
        from rich.table import Table

        from tenfold.repro import read_metrics

        if out.resolve() == self.published.resolve():
            self.refresh_readme()
        summary = summarise(read_metrics(out / "metrics.json"))
        table = Table(title=summary.title)
        for column in summary.columns:
            table.add_column(column)
        for row in summary.rows:
            table.add_row(*row)
        out_console = console()
        out_console.print(table)
        for note in summary.notes:
            out_console.print(note)
        out_console.print(verdict, soft_wrap=True)
        seconds = time.perf_counter() - _started.get()
        out_console.print(f"reports → {out}; {seconds:.0f} s", soft_wrap=True)

    def install(self, app: typer.Typer, *, serve: bool = True) -> None:
        """Add the ``report`` and ``serve`` commands to a project's Typer app."""
        project = self
        if serve:
            self._install_serve(app)

        @app.command()
        def report() -> None:
            """Regenerate the README's generated tables from reports/."""
            changed = project.refresh_readme()
            console().print("README updated" if changed else "README already up to date")

    def _install_serve(self, app: typer.Typer) -> None:
        """``serve --host --port --model-uri`` and the project's own options: the service's
        settings from the environment and these, the model loaded (one clear line if it
        cannot be), then uvicorn."""
        project = self
        flags = {option.field: option.flag for option in self.serve_options}

        def serve(
            host: str = "127.0.0.1",
            port: int = 8000,
            model_uri: str | None = None,
            **options: Any,
        ) -> None:
            from tenfold.serving import serve_app

            setup_logging()
            serve_app(
                load_object(project.service),
                host=host,
                port=port,
                model_uri=model_uri,
                options=options,
                flags=flags,
            )

        keyword = inspect.Parameter.KEYWORD_ONLY
        parameters = [
            inspect.Parameter("host", keyword, default="127.0.0.1", annotation=HostOption),
            inspect.Parameter("port", keyword, default=8000, annotation=PortOption),
            inspect.Parameter("model_uri", keyword, default=None, annotation=ModelUriOption),
            *(
                inspect.Parameter(
                    option.field,
                    keyword,
                    default=None,
                    annotation=Annotated[str | None, typer.Option(option.flag, help=option.help)],
                )
                for option in self.serve_options
            ),
        ]
        # Typer reads the options from the signature: the project's own are added to it
        serve.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
        serve.__doc__ = "Serve the champion over HTTP (FastAPI + uvicorn)."
        app.command("serve")(user_errors(serve))


def _registration(run_id: str) -> Registration | None:
    """What a logged training registered (tags set by
    :func:`tenfold.promotion.register_challenger`), or None."""
    from mlflow import MlflowClient

    tags = MlflowClient().get_run(run_id).data.tags
    if "tenfold.registered_version" not in tags:
        return None
    return Registration(
        run_id, tags["tenfold.registered_model"], tags["tenfold.registered_version"]
    )
