"""Shared CLI plumbing: logging through rich, progress bars, user-facing errors, the
options every project repeats, and :class:`ProjectCli`, the commands (``serve``,
``report``) and finishing steps that are the same in every project.

Functions elsewhere return values and never print; commands print through these.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import logging
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from tenfold.errors import USER_ERRORS

if TYPE_CHECKING:
    import pandas as pd

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
    """A progress bar on stderr; yields ``update(done, total)``."""
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


# Options every project's CLI repeats (``serve`` and the commands that write reports).
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
# ... and the ones of the commands that train (``run``, ``train``, ``evaluate``, ``predict``)
SeedOption = Annotated[int, typer.Option("--seed", help="The one seed.")]
CvFoldsOption = Annotated[int, typer.Option("--cv-folds", min=2, max=20, help="CV folds.")]
IdColumnOption = Annotated[
    str | None, typer.Option("--id", help="Id column, excluded from features.")
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


@dataclass(frozen=True)
class Summary:
    """The end-of-run table a project prints: one row per model, then a few notes."""

    title: str
    columns: Sequence[str]
    rows: Sequence[Sequence[str]]
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class ServeOption:
    """An option of a project's ``serve`` command that sets a field of the service's
    settings class (nlp: ``--serve-model`` → ``NlpSettings.model``); the settings class
    validates it (a bad value is one line naming the option)."""

    flag: str
    field: str
    help: str


@dataclass(frozen=True)
class ProjectCli:
    """What is the same in every project's CLI, from where the project lives and two
    names: the app factory (``"<pkg>.serve:app"``, a ``ServiceSettings → FastAPI``
    callable) and the README results renderer (``"<pkg>.evaluate:results_table"``,
    ``metrics → markdown``)."""

    project_dir: Path
    service: str
    results_table: str
    # more generated README sections: name → (file in reports/, "module:renderer"),
    # refreshed when the file exists (e.g. a benchmark's latency table)
    sections: Mapping[str, tuple[str, str]] = field(default_factory=dict)
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

    def finish(
        self,
        out: Path,
        started: float,
        summarise: Callable[[Mapping[str, Any]], Summary],
        *,
        model_name: str,
    ) -> None:
        """After a run wrote its reports to ``out``: refresh the README when they are the
        published ones (never for a synthetic run, a user's CSV or ``--reports-dir``),
        then print the summary table and where everything went."""
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
        seconds = time.perf_counter() - started
        out_console.print(
            f"reports → {out}; champion → models:/{model_name}@champion; {seconds:.0f} s"
        )

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
