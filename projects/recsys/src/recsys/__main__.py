"""recsys CLI: ``python -m recsys run | train | evaluate | predict | publish | serve | report``.

``run`` is the whole project (what ``make recsys`` calls): data → the recommenders split
→ every system tuned on validation and tracked in MLflow → test evaluation with plots →
the champion registered with its precomputed lists, published to Redis when it answers.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from recsys.config import MOVIELENS, PROJECT_DIR, RatingsFile, RecsysConfig, TrialBudget
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

app = typer_app("MovieLens recommendations: popularity → MF → content → hybrid, served from Redis.")
CLI = ProjectCli(
    PROJECT_DIR,
    service="recsys.serve:app",
    results_table="recsys.evaluate:results_table",
    sections={
        "latency": ("latency.json", "recsys.evaluate:benchmark_table"),
        "scale": ("scale.json", "recsys.evaluate:scale_table"),
    },
)

RatingsOpt = Annotated[
    Path | None,
    typer.Option(
        "--ratings", help="Any interactions file instead of MovieLens.", exists=True, dir_okay=False
    ),
]
UserColOpt = Annotated[str, typer.Option("--user-col", help="User id column of --ratings.")]
ItemColOpt = Annotated[str, typer.Option("--item-col", help="Item id column of --ratings.")]
RatingColOpt = Annotated[str | None, typer.Option("--rating-col", help="Rating column (optional).")]
TimeColOpt = Annotated[str | None, typer.Option("--time-col", help="Timestamp column (optional).")]
ItemsOpt = Annotated[
    Path | None,
    typer.Option(
        "--items", help="Item catalogue (id, title, genres).", exists=True, dir_okay=False
    ),
]
DatasetOpt = Annotated[
    str, typer.Option("--dataset", help=f"A MovieLens release: {', '.join(MOVIELENS)}.")
]
TrialsOpt = Annotated[
    float, typer.Option("--trial-scale", min=0.05, help="Multiply every tuning budget (CI: 0.25).")
]
SyntheticOpt = Annotated[
    int,
    typer.Option(
        "--synthetic-users", min=20, help="Users of the synthetic twin (offline runs only)."
    ),
]
NoMiniLMOpt = Annotated[
    bool, typer.Option("--no-minilm", help="Skip the sentence-embedding content model.")
]


def _config(
    dataset: str = "movielens-100k",
    ratings: Path | None = None,
    user_col: str = "userId",
    item_col: str = "movieId",
    rating_col: str | None = None,
    time_col: str | None = None,
    items: Path | None = None,
    seed: int = 42,
    trial_scale: float = 1.0,
    no_minilm: bool = False,
    reports_dir: Path | None = None,
    synthetic_users: int = 943,
) -> RecsysConfig:
    from tenfold.errors import DataError

    if dataset not in MOVIELENS:
        raise DataError(f"--dataset {dataset!r} is not one of {', '.join(MOVIELENS)}")
    base = RecsysConfig()
    budget = TrialBudget(
        **{
            f.name: max(1, round(getattr(base.trials, f.name) * trial_scale))
            for f in dataclasses.fields(TrialBudget)
        }
    )
    changes: dict[str, Any] = {"dataset": dataset, "seed": seed, "trials": budget}
    changes["use_minilm"] = not no_minilm
    # the twin keeps MovieLens' 1,682 items per 943 users
    changes["synthetic_users"] = synthetic_users
    changes["synthetic_items"] = min(1682, max(40, synthetic_users * 1682 // 943))
    if reports_dir is not None:
        changes["reports_dir"] = reports_dir.resolve()
    if ratings is not None:
        changes["ratings"] = RatingsFile(
            ratings.resolve(),
            user_col,
            item_col,
            rating_col,
            time_col,
            items.resolve() if items else None,
        )
        changes["experiment"] = "recsys-custom"
    return dataclasses.replace(base, **changes)


def _train(
    cfg: RecsysConfig, *, log_runs: bool = True, interactions: Any = None
) -> tuple[Any, Any]:
    """Data → prepared → candidates (tracked)."""
    from recsys import data, train

    interactions = interactions if interactions is not None else data.load(cfg)
    if not interactions.source.is_real:
        announce_synthetic("MovieLens 100K ratings")
    prepared = train.prepare(interactions, cfg)
    total = sum(getattr(cfg.trials, f.name) for f in dataclasses.fields(TrialBudget))
    done = {"n": 0}
    with progress("training", total) as update:

        def report(stage: str, step: int, of: int) -> None:
            if stage in ("als", "bpr", "ease"):
                done["n"] += 1
                update(done["n"], total)

        result = train.train(
            prepared, cfg, progress=report, tracker=_log_candidate if log_runs else None
        )
    return prepared, result


def _log_candidate(candidate: Any) -> None:
    from tenfold import tracking

    with tracking.start_run(
        "recsys",
        candidate.name,
        nested=True,
        tags={"tenfold.stage": "candidate", "tenfold.candidate": candidate.name},
    ) as run:
        import mlflow

        mlflow.log_params({k: str(v) for k, v in candidate.params.items()} or {"none": "-"})
        tracking.log_metrics(candidate.validation, prefix="validation_")
        candidate.run_id = run.info.run_id


def _run(cfg: RecsysConfig, *, publish_to_redis: bool = True) -> tuple[Path, str]:
    """Train, evaluate, register and publish inside one MLflow training run."""
    import pandas as pd

    from recsys import data as recsys_data
    from recsys import evaluate, train
    from recsys.store import StoreSettings, publish, sync_client_or_none
    from tenfold import tracking
    from tenfold.reports import output_dir, write_reports

    interactions = recsys_data.load(cfg)
    synthetic = not interactions.source.is_real
    model_name = cfg.registered_model_name(synthetic=synthetic)
    with tracking.training_run(
        cfg.experiment, config=cfg, data=interactions.source, seed=cfg.seed
    ) as parent:
        _, result = _train(cfg, interactions=interactions)
        evaluation = evaluate.evaluate(result, cfg)
        for name, candidate in result.candidates.items():
            if candidate.run_id:
                tracking.log_metrics_to(
                    candidate.run_id, evaluation.metrics["models"][name]["test"], prefix="test_"
                )
        serving = train.serving_model(result, cfg)
        example = pd.DataFrame({"user_id": [str(u) for u in serving.snapshot.users[:3]]})
        with tracking.start_run(
            cfg.experiment, "serving", nested=True, tags={"tenfold.stage": "serving"}
        ):
            logged = tracking.log_sklearn_model(
                serving,
                input_example=example,
                output_example=serving.predict(example),
                requirements=[
                    "implicit",
                    "cornac",
                    "scikit-surprise",
                    "numpy",
                    "scipy",
                    "pandas",
                    "cloudpickle",
                ],
                metadata={"champion": result.champion, "top_n": cfg.top_n},
            )
        best = result.best
        version = tracking.register_champion(
            result.champion,
            logged.model_uri,
            model_name,
            tags={
                "data_kind": interactions.source.kind,
                f"validation_precision_at_{cfg.k}": f"{best.validation[f'precision@{cfg.k}']:.4f}",
            },
        )
        out = output_dir(
            cfg.reports_dir,
            kind=interactions.source.kind,
            data_path=cfg.ratings.path if cfg.ratings else None,
        )
        if cfg.dataset != "movielens-100k" and cfg.ratings is None:
            out = cfg.reports_dir / "custom" / cfg.dataset
        written = write_reports(out, evaluation.metrics, evaluation.figures)
        tracking.log_artifacts_to(parent.info.run_id, written, artifact_path="reports")
    where = "not published (no Redis)"
    if publish_to_redis:
        client = sync_client_or_none(StoreSettings())
        if client is not None:
            published = publish(client, serving.snapshot, model=model_name, model_version=version)
            client.close()
            where = f"published to Redis as {published}"
    return out, f"{model_name} version {version}, {where}"


@app.command()
@user_errors
def run(
    dataset: DatasetOpt = "movielens-100k",
    ratings: RatingsOpt = None,
    user_col: UserColOpt = "userId",
    item_col: ItemColOpt = "movieId",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    items: ItemsOpt = None,
    seed: SeedOption = 42,
    trial_scale: TrialsOpt = 1.0,
    no_minilm: NoMiniLMOpt = False,
    reports_dir: ReportsDirOption = None,
    synthetic_users: SyntheticOpt = 943,
    verbose: bool = False,
) -> None:
    """The whole project: data, tuned systems, evaluation, champion registered and published."""
    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(
        dataset,
        ratings,
        user_col,
        item_col,
        rating_col,
        time_col,
        items,
        seed,
        trial_scale,
        no_minilm,
        reports_dir,
        synthetic_users,
    )
    out, registered = _run(cfg)
    CLI.finish(out, started, _summary, model_name=registered.split(" ")[0])
    console().print(f"champion: {registered}")


@app.command()
@user_errors
def train(
    dataset: DatasetOpt = "movielens-100k",
    ratings: RatingsOpt = None,
    user_col: UserColOpt = "userId",
    item_col: ItemColOpt = "movieId",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    items: ItemsOpt = None,
    seed: SeedOption = 42,
    trial_scale: TrialsOpt = 1.0,
    no_minilm: NoMiniLMOpt = False,
    verbose: bool = False,
) -> None:
    """Tune every system on the validation split; print the validation table (no test)."""
    setup_logging(verbose)
    cfg = _config(
        dataset,
        ratings,
        user_col,
        item_col,
        rating_col,
        time_col,
        items,
        seed,
        trial_scale,
        no_minilm,
    )
    _, result = _train(cfg, log_runs=False)
    k = cfg.k
    for name, candidate in result.candidates.items():
        mark = " ★" if name == result.champion else ""
        console().print(
            f"{name}{mark}: validation P@{k} {candidate.validation[f'precision@{k}']:.4f}"
        )


@app.command()
@user_errors
def evaluate(
    dataset: DatasetOpt = "movielens-100k",
    ratings: RatingsOpt = None,
    user_col: UserColOpt = "userId",
    item_col: ItemColOpt = "movieId",
    rating_col: RatingColOpt = None,
    time_col: TimeColOpt = None,
    items: ItemsOpt = None,
    seed: SeedOption = 42,
    trial_scale: TrialsOpt = 1.0,
    no_minilm: NoMiniLMOpt = False,
    reports_dir: ReportsDirOption = None,
    verbose: bool = False,
) -> None:
    """Train (deterministic, seeded), then score the test split once; write the reports
    (no registration, no publishing)."""
    from recsys import evaluate as recsys_evaluate
    from tenfold.reports import output_dir, write_reports

    setup_logging(verbose)
    started = time.perf_counter()
    cfg = _config(
        dataset,
        ratings,
        user_col,
        item_col,
        rating_col,
        time_col,
        items,
        seed,
        trial_scale,
        no_minilm,
        reports_dir,
    )
    prepared, result = _train(cfg, log_runs=False)
    evaluation = recsys_evaluate.evaluate(result, cfg)
    kind = prepared.interactions.source.kind
    out = output_dir(
        cfg.reports_dir, kind=kind, data_path=cfg.ratings.path if cfg.ratings else None
    )
    write_reports(out, evaluation.metrics, evaluation.figures)
    CLI.finish(
        out, started, _summary, model_name=cfg.registered_model_name(synthetic=kind != "real")
    )


# spelled out (tenfold.cli.input_option returns Any, which mypy --strict refuses as a type)
InputOpt = Annotated[
    Path,
    typer.Option("--input", help="CSV with a user_id column.", exists=True, dir_okay=False),
]
OutputOpt = Annotated[
    Path, typer.Option("--output", help="Where to write user_id, rank, item_id, title, score.")
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
    """Batch: top-k for every user of a CSV (unknown users get the popular items)."""
    import pandas as pd

    from recsys.serve import DEFAULT_MODEL_URI, load_serving_model
    from tenfold.data import DataError, read_user_csv

    setup_logging(verbose)
    frame, _ = read_user_csv(input_path)
    if "user_id" not in frame.columns:
        raise DataError(f"{input_path}: no user_id column; found {list(frame.columns)}")
    model, _ = load_serving_model(model_uri or DEFAULT_MODEL_URI)
    snap = model.snapshot
    titles = snap.title_map()
    rows = []
    for user in frame["user_id"].astype(str):
        found = snap.for_user(user)
        cold = found is None
        entries = snap.most_popular() if found is None else found
        for rank, e in enumerate(entries[:k], start=1):
            rows.append((user, rank, e.item, titles.get(e.item), e.score, cold))
    out = pd.DataFrame(rows, columns=["user_id", "rank", "item_id", "title", "score", "cold_start"])
    write_csv(out, output_path)
    console().print(f"{frame['user_id'].nunique()} users → {output_path}")


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
    version = publish_snapshot(client, model.snapshot, model=card.name, model_version=card.version)
    console().print(f"published {card.name} version {card.version} as {version}")


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


CLI.install(app)  # serve and report, the same in every project

if __name__ == "__main__":
    app()
