"""Shared CLI plumbing: logging through rich, progress bars, and user-facing errors.

Functions elsewhere return values and never print; commands print through these.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

from tenfold.data import DataError
from tenfold.pipelines import SchemaError
from tenfold.serving import InvalidInput

P = ParamSpec("P")
R = TypeVar("R")

# Errors whose message is the whole story for a user: no traceback.
USER_ERRORS: tuple[type[Exception], ...] = (DataError, SchemaError, InvalidInput)


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
ModelUriOption = Annotated[
    str | None,
    typer.Option(
        "--model-uri",
        help="Default: the project's champion (models:/<project>@champion), or a model folder.",
    ),
]
