"""recsys CLI: ``python -m recsys run | train | evaluate | predict | publish | serve | report``.

``run`` is the whole project (what ``make recsys`` calls): data → the recommenders split
→ every system tuned on validation and tracked in MLflow → test evaluation with plots →
the best registered as challenger with its precomputed lists, promoted to champion if it
beats the current one on the test part, and then published to Redis when it answers.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from recsys.config import MOVIELENS, PROJECT_DIR, RatingsFile, RecsysConfig, TrialBudget
from tenfold.cli import (
    CommonOptions,
    ModelUriOption,
    ProjectCli,
    Registration,
    ServeOption,
    Summary,
    announce_synthetic,
    console,
    progress,
    setup_logging,
    typer_app,
    user_errors,
)

if TYPE_CHECKING:
    from recsys.data import Interactions
    from recsys.train import RecsysResult
    from tenfold.training import TrainResult


class RecsysCli(ProjectCli[RecsysConfig]):
    """The shared CLI, with one step after the gate: a champion that moved is written to
    Redis (when it answers), so the API serves the new lists without a restart."""

    def promote(
        self, cfg: RecsysConfig, result: TrainResult[Any, Any], registration: Registration
    ) -> str:
        verdict = super().promote(cfg, result, registration)
        return f"{verdict}; {publish_promoted(cfg, result, registration)}"


app = typer_app("MovieLens recommendations: popularity → MF → content → hybrid, served from Redis.")
CLI = RecsysCli(
    PROJECT_DIR,
    service="recsys.serve:app",
    results_table="recsys.evaluate:results_table",
    sections={
        "latency": ("latency.json", "recsys.evaluate:benchmark_table"),
        "scale": ("scale.json", "recsys.evaluate:scale_table"),
    },
    config=RecsysConfig,
    serve_options=(
        ServeOption("--mode", "mode", "precomputed (the store's lists) or compute (per request)."),
    ),
)


@dataclass(frozen=True)
class RecsysOptions(CommonOptions):
    """--dataset or any interactions file (--ratings with its columns, --items), the
    tuning budget's scale, MiniLM on or off, the twin's size, --seed, --verbose."""

    dataset: Annotated[
        str, typer.Option("--dataset", help=f"A MovieLens release: {', '.join(MOVIELENS)}.")
    ] = "movielens-100k"
    ratings_path: Annotated[
        Path | None,
        typer.Option(
            "--ratings",
            help="Any interactions file instead of MovieLens: reports go to "
            "reports/custom/<file name>, the model registers as recsys-<file name>.",
            exists=True,
            dir_okay=False,
        ),
    ] = None
    user_col: Annotated[str, typer.Option("--user-col", help="User id column of --ratings.")] = (
        "userId"
    )
    item_col: Annotated[str, typer.Option("--item-col", help="Item id column of --ratings.")] = (
        "movieId"
    )
    rating_col: Annotated[
        str | None, typer.Option("--rating-col", help="Rating column (optional).")
    ] = None
    time_col: Annotated[
        str | None, typer.Option("--time-col", help="Timestamp column (optional).")
    ] = None
    items_path: Annotated[
        Path | None,
        typer.Option(
            "--items", help="Item catalogue (id, title, genres).", exists=True, dir_okay=False
        ),
    ] = None
    trial_scale: Annotated[
        float,
        typer.Option("--trial-scale", min=0.05, help="Multiply every tuning budget (CI: 0.25)."),
    ] = 1.0
    no_minilm: Annotated[
        bool, typer.Option("--no-minilm", help="Skip the sentence-embedding content model.")
    ] = False
    synthetic_users: Annotated[
        int,
        typer.Option(
            "--synthetic-users", min=20, help="Users of the synthetic twin (offline runs only)."
        ),
    ] = 943

    def apply(self, cfg: Any) -> Any:
        from tenfold.errors import DataError

        if self.dataset not in MOVIELENS:
            raise DataError(f"--dataset {self.dataset!r} is not one of {', '.join(MOVIELENS)}")
        cfg = super().apply(cfg)  # --seed, --dataset, --synthetic-users
        budget = TrialBudget(
            **{
                f.name: max(1, round(getattr(cfg.trials, f.name) * self.trial_scale))
                for f in dataclasses.fields(TrialBudget)
            }
        )
        changes: dict[str, Any] = {
            "trials": budget,
            "use_minilm": cfg.use_minilm and not self.no_minilm,
            # the twin keeps MovieLens' 1,682 items per 943 users
            "synthetic_items": min(1682, max(40, self.synthetic_users * 1682 // 943)),
        }
        if self.ratings_path is not None:
            changes["ratings"] = RatingsFile(
                self.ratings_path.resolve(),
                self.user_col,
                self.item_col,
                self.rating_col,
                self.time_col,
                self.items_path.resolve() if self.items_path else None,
            )
            changes["experiment"] = f"{cfg.experiment}-custom"
        return dataclasses.replace(cfg, **changes)


def _train(cfg: RecsysConfig, interactions: Interactions | None = None) -> RecsysResult:
    """Data → every system tuned on validation and refitted for serving."""
    from recsys import data, train

    interactions = interactions if interactions is not None else data.load(cfg)
    if not interactions.source.is_real:
        announce_synthetic("MovieLens 100K ratings")
    total = sum(getattr(cfg.trials, f.name) for f in dataclasses.fields(TrialBudget))
    done = {"n": 0}
    with progress("training", total) as update:

        def report(stage: str, step: int, of: int) -> None:
            if stage in ("als", "bpr", "ease"):
                done["n"] += 1
                update(done["n"], total)

        return train.train(cfg, interactions, progress=report)


def _read_back(cfg: RecsysConfig, run_id: str | None) -> RecsysResult:
    from recsys import data, train

    interactions = data.load(cfg)
    return train.from_run(cfg, interactions, CLI.training(cfg, interactions.source, run_id))


def publish_promoted(
    cfg: RecsysConfig, result: TrainResult[Any, Any], registration: Registration
) -> str:
    """Write the champion's lists to Redis when this gate made it the champion of the
    project's own model (a synthetic or custom model never replaces what the API serves)."""
    from recsys.store import StoreSettings, publish, sync_client_or_none
    from tenfold.tracking import registered_version

    name, version = registration.model_name, registration.version
    if name != cfg.model_name:
        return f"Redis untouched ({name} is not the served model {cfg.model_name})"
    if registered_version(f"models:/{name}@champion") != version:
        return "Redis keeps the champion's lists"
    settings = StoreSettings()
    client = sync_client_or_none(settings)
    if client is None:
        where = "RECSYS_STORE=memory" if settings.store == "memory" else settings.redis_url
        return f"not published to Redis ({where}): the API writes its lists when it starts"
    try:
        written = publish(client, result.best.model.snapshot, model=name, model_version=version)
    finally:
        client.close()
    return f"its lists published to Redis as {written}"


def _summary(metrics: Mapping[str, Any]) -> Summary:
    from recsys.evaluate import DISPLAY_NAMES, ordered

    k = metrics["protocol"]["k"]
    rows = []
    for name, row in ordered(metrics["models"]):
        mark = " ★" if name == metrics["champion"] else ""
        test = row["test"]
        rows.append(
            (
                DISPLAY_NAMES.get(name, name) + mark,
                f"{row['validation'][f'precision@{k}']:.4f}",
                f"{test[f'precision@{k}']:.4f}",
                f"{test[f'ndcg@{k}']:.4f}",
                f"{test[f'map@{k}']:.4f}",
                f"{test['coverage']:.3f}",
            )
        )
    return Summary(
        title=f"recsys: test part ({metrics['data']['kind']} data)",
        columns=("system", f"val P@{k}", f"P@{k}", f"NDCG@{k}", f"MAP@{k}", "coverage"),
        rows=rows,
    )


CLI.install_training(
    app,
    RecsysOptions,
    train=_train,
    read_back=_read_back,
    summary=_summary,
    helps={
        "run": "The whole project: data, tuned systems, evaluation, the promotion gate, the "
        "champion's lists published to Redis.",
        "train": "Tune every system on the validation split, track them in MLflow, register "
        "the best as challenger (no test scores).",
        "evaluate": "Score a training's systems on the test part, write the reports, and "
        "promote its challenger if it beats the champion.",
    },
)


# spelled out (tenfold.cli.input_option returns Any, which mypy --strict refuses as a type)
InputOpt = Annotated[
    Path,
    typer.Option("--input", help="CSV with a user_id column.", exists=True, dir_okay=False),
]
OutputOpt = Annotated[
    Path,
    typer.Option(
        "--output", help="Where to write user_id, rank, item_id, title, score, cold_start."
    ),
]
KOpt = Annotated[int, typer.Option("--k", min=1, max=100, help="Items per user.")]


@app.command()
@user_errors
def predict(
    input_path: InputOpt,
    output_path: OutputOpt,
    k: KOpt = 10,
    model_uri: ModelUriOption = None,
    verbose: bool = False,
) -> None:
    """Batch: the top-k of every user of a CSV (unknown users get the popular items),
    from the model's precomputed lists (any file size: read and written in chunks)."""
    from recsys import data as recsys_data
    from recsys.serve import DEFAULT_MODEL_URI, load_serving_model
    from tenfold.batch import check_files, read_ahead, score_file

    setup_logging(verbose)
    check_files(input_path, output_path)
    chunks = read_ahead(recsys_data.user_chunks(input_path))
    model, card = load_serving_model(model_uri or DEFAULT_MODEL_URI)
    snapshot = model.snapshot

    def counts(lists: Any) -> tuple[int, int]:
        first = lists[lists["rank"] == 1]
        return len(first), int(first["cold_start"].sum())

    result = score_file(
        chunks,
        lambda frame: snapshot.top_frame(frame["user_id"], k),
        output_path,
        source=input_path,
        tally=counts,
        description="recommending",
    )
    users = sum(n for n, _ in result.tallies)
    cold = sum(c for _, c in result.tallies)
    console().print(
        f"top-{k} of {users} users from {card.name} v{card.version} → {output_path} "
        f"({cold} unknown: the most popular items)"
    )


@app.command()
@user_errors
def publish(model_uri: ModelUriOption = None, verbose: bool = False) -> None:
    """Write the champion's precomputed lists to Redis as a new version, switch atomically."""
    from recsys.serve import DEFAULT_MODEL_URI, load_serving_model
    from recsys.store import StoreSettings, sync_client_or_none
    from recsys.store import publish as publish_snapshot
    from tenfold.errors import DataError

    setup_logging(verbose)
    settings = StoreSettings()
    client = sync_client_or_none(settings)
    if client is None:
        raise DataError(
            f"Redis at {settings.redis_url} does not answer (start it: make redis-start)"
        )
    model, card = load_serving_model(model_uri or DEFAULT_MODEL_URI)
    try:
        version = publish_snapshot(
            client, model.snapshot, model=card.name, model_version=card.version
        )
    finally:
        client.close()
    console().print(f"published {card.name} version {card.version} as {version}")


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
