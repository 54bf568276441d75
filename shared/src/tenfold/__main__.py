"""``python -m tenfold datasets | fetch | export-model | audit | rollback``.

``datasets`` lists the manifest and ``fetch`` downloads datasets into the cache
(``data/cache/<dataset>/<file>`` has the layout of a data directory, so after ``fetch`` a
CI job can run real-data tests with ``TENFOLD_DATA_DIR=data/cache``). ``audit`` prints a
registered model's promotion history and ``rollback`` moves its ``champion`` back to the
previous champion (:mod:`tenfold.promotion`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from tenfold import data, paths
from tenfold.cli import console, setup_logging, user_errors

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="tenfold: datasets (list, fetch into the cache) and registered models (export, "
    "promotion audit, rollback).",
)
ModelArgument = Annotated[str, typer.Argument(help="A registered model name, e.g. churn.")]


@app.command()
def datasets() -> None:
    """List the datasets of the manifest with their licence."""
    manifest = data.Manifest.load()
    for name, spec in sorted(manifest.datasets.items()):
        files = ", ".join(spec.files)
        console().print(f"[bold]{name}[/]: {spec.title} ({files})\n  licence: {spec.licence}")


@app.command()
@user_errors
def fetch(
    names: Annotated[list[str] | None, typer.Argument(help="Datasets (default: all).")] = None,
) -> None:
    """Download datasets into data/cache (checksums verified); files already there are kept."""
    setup_logging()
    manifest = data.Manifest.load()
    failed = []
    for name in names or sorted(manifest.datasets):
        spec = manifest[name]
        resolved = data.resolve(
            name,
            [f for f, s in spec.files.items() if s.urls],
            manifest=manifest,
            data_dir=None,
            download=True,
        )
        if not resolved.found:
            failed.append(name)
    if failed:
        raise data.DataError(f"could not fetch {failed}; see the lines above")
    console().print(f"datasets in {paths.cache_dir()}")


@app.command("export-model")
@user_errors
def export_model(
    uri: Annotated[str, typer.Argument(help="e.g. models:/churn@champion")],
    output: Annotated[Path, typer.Argument(help="A new (or empty) folder for the model.")],
    sha256_file: Annotated[
        Path | None,
        typer.Option("--sha256-file", help="Also write the folder's sha256 to this file."),
    ] = None,
) -> None:
    """Copy a registered model out of the store (to bake into an image or mount) and
    record the folder's sha256 on that model version: a service loads the folder only
    when the registry recorded its hash, or when TENFOLD_MODEL_SHA256 pins it."""
    from tenfold import tracking

    exported = tracking.export_model(uri, output)
    if sha256_file is not None:
        sha256_file.parent.mkdir(parents=True, exist_ok=True)
        sha256_file.write_text(exported.sha256 + "\n", encoding="utf-8")
    out = console()
    out.print(f"{uri} (version {exported.version}) → {exported.path}", highlight=False)
    out.print(
        f"sha256 {exported.sha256}, recorded on {exported.name} version {exported.version}",
        highlight=False,
    )
    out.print(
        f"serve it with TENFOLD_MODEL_URI={exported.path}; where the registry is not "
        f"reachable (an image), also TENFOLD_MODEL_SHA256={exported.sha256}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
@user_errors
def audit(model: ModelArgument) -> None:
    """The promotion history of a registered model: every gate decision and rollback,
    one per line, oldest first."""
    from tenfold import promotion

    records = promotion.history(model)
    out = console()
    if not records:
        out.print(f"{model}: no promotion decisions recorded yet")
    for r in records:
        scores = ""
        if r.challenger_score is not None:
            old = "none" if r.champion_score is None else f"{r.champion_score:.4f}"
            scores = f" {r.metric}: {r.challenger_score:.4f} vs champion {old};"
        out.print(
            f"{r.at[:19].replace('T', ' ')} UTC  {r.action:<8} v{r.version} → champion "
            f"v{r.champion}.{scores} {r.reason}",
            soft_wrap=True,
            highlight=False,
        )
    validation = {(r.validation_set, r.validation_sha256) for r in records if r.validation_set}
    for name, digest in sorted(validation, key=str):
        out.print(f"validation set: {name} (sha256 {str(digest)[:12]}…)", soft_wrap=True)


@app.command()
@user_errors
def rollback(model: ModelArgument) -> None:
    """Move a model's champion alias back to the previous champion (recorded in the audit)."""
    from tenfold import promotion

    record = promotion.rollback(model)
    console().print(
        f"{model}@champion: v{record.previous_champion} → v{record.champion} (rolled back)"
    )


if __name__ == "__main__":
    app()
