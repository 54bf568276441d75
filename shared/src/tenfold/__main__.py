"""``python -m tenfold datasets | fetch``: list the manifest, download datasets into the cache.

The cache (``data/cache/<dataset>/<file>``) has the layout of a data directory, so after
``fetch`` a CI job can run real-data tests with ``TENFOLD_DATA_DIR=data/cache``.
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
    help="tenfold datasets: list the manifest, fetch files into the cache.",
)


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
    output: Annotated[Path, typer.Argument(help="Folder to write the MLflow model into.")],
) -> None:
    """Copy a registered model out of the store (to bake into an image or mount)."""
    import mlflow

    from tenfold import tracking

    tracking.configure()
    output.mkdir(parents=True, exist_ok=True)
    path = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=str(output))
    console().print(f"{uri} → {path}; serve it with TENFOLD_MODEL_URI={path}")


if __name__ == "__main__":
    app()
