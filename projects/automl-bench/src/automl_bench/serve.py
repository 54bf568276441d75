"""The results API: a read-only service over the published benchmark results.

A benchmark has no model to score requests with; what its users ask of it is the
comparison: which framework ranks where, per dataset, per fold, with which failures. The
service loads a publication (:mod:`automl_bench.results`: the registry's
``automl_bench@champion`` by default, or a results folder such as the committed
``reports/``) in ``lifespan`` like any model, follows the alias when a new publication
is promoted (``TENFOLD_RELOAD_SECONDS``), and answers from it on its own router; the
library gives it ``/health``, ``/ready``, ``/metrics``, ``/v1/model`` (which version of
the results it serves), the API key, error shapes and request ids.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from automl_bench.results import NotPublished, Publication, load
from tenfold.serving import ErrorMessage, ServiceSettings, ServiceSpec, current_predictor

# config.FRAMEWORKS, spelled out for the schema (a test checks they agree)
Framework = Literal["constant", "lightgbm", "manual", "flaml", "autogluon"]

# names as the benchmark spells them (profiles in constraints.toml, datasets in data.py
# or a datasets.toml entry)
NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ProfileName = Annotated[
    str, Path(pattern=NAME, description="a published profile: quick, full, repro")
]
DatasetName = Annotated[str, Path(pattern=NAME, description="a dataset of that profile")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorMessage, "description": "profile, dataset or framework not published"}
}


class ProfileSummary(BaseModel):
    """One published profile: its constraints and its outcome in a few numbers."""

    profile: str
    description: str
    budget: str = Field(description="per job: seconds of training, or iterations")
    folds: int
    cores_per_job: int
    memory_gb_per_job: float
    max_train_rows: int | None = Field(description="larger training folds are subsampled")
    datasets: list[str]
    frameworks: list[str]
    cells: int = Field(description="outer-fold cells reported")
    failed_cells: int = Field(description="time-outs, memory failures, crashes")
    data: Literal["real", "synthetic"]
    complete: bool = Field(description="every planned cell of the grid is stored")
    friedman_p_value: float | None
    critical_difference: float | None = Field(description="Nemenyi's, in mean ranks")


class LeaderboardRow(BaseModel):
    framework: str
    mean_rank: float | None = Field(description="over the datasets, 1 = best")
    mean_normalised: float | None = Field(description="0 = constant predictor, 1 = best")
    wins: int = Field(description="datasets where this framework ranked first")
    fit_seconds: float | None = Field(description="mean training time per fold")
    failed_cells: int


class Leaderboard(BaseModel):
    profile: str
    frameworks: list[LeaderboardRow]
    friedman_p_value: float | None
    critical_difference: float | None
    version: str | None = Field(description="the results version served")


class FrameworkScore(BaseModel):
    """A framework on one dataset: mean ± sd over the outer folds."""

    profile: str
    dataset: str
    framework: str
    metric: Literal["roc_auc", "log_loss", "rmse"]
    greater_is_better: bool
    mean: float | None
    std: float | None
    folds: int
    failed_folds: int = Field(description="scored as the constant predictor")
    rank: float | None = Field(description="among the frameworks on this dataset, 1 = best")
    normalised: float | None
    fit_seconds: float | None


class DatasetTraits(BaseModel):
    dataset: str
    task: Literal["binary", "multiclass", "regression"]
    rows: int
    features: str
    categorical_share: float
    max_cardinality: int
    missing_share: float
    balance: str
    folds: str = Field(description="how the outer folds are drawn")
    data: Literal["real", "synthetic"]


class FoldCell(BaseModel):
    """One cell: a framework on one outer fold (or churn's published holdout split)."""

    dataset: str
    framework: str
    fold: int | Literal["holdout"]
    metric: str
    status: Literal["ok", "failed"]
    score: float | None
    constant_score: float | None
    fit_seconds: float | None
    n_train: int
    n_test: int
    failure: str | None


class Failure(BaseModel):
    cell: str
    failure: str


class TelcoHoldout(BaseModel):
    """Each framework on churn's own test split, beside churn's published model."""

    chosen_by_cv: str | None = Field(description="the framework the Telco CV picks")
    churn_published_roc_auc: float
    roc_auc: dict[str, float | None]
    status: dict[str, str]


Results = Annotated[Publication, Depends(current_predictor)]


def _found(call: Any, *args: Any) -> Any:
    try:
        return call(*args)
    except NotPublished as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None


router = APIRouter(prefix="/v1", tags=["results"])


@router.get("/profiles", summary="The published profiles")
async def profiles(results: Results) -> list[ProfileSummary]:
    return [ProfileSummary(**results.summary(p)) for p in results.profiles]


def _leaderboard(results: Publication, profile: str) -> Leaderboard:
    summary = results.summary(profile)
    return Leaderboard(
        profile=profile,
        frameworks=[LeaderboardRow(**row) for row in results.leaderboard(profile)],
        friedman_p_value=summary["friedman_p_value"],
        critical_difference=summary["critical_difference"],
        version=results.card.version,
    )


@router.get(
    "/leaderboard",
    summary="The frameworks by mean rank, in the first published profile",
    responses=NOT_FOUND,
)
async def leaderboard(results: Results) -> Leaderboard:
    return _leaderboard(results, results.default_profile)


@router.get(
    "/profiles/{profile}/leaderboard",
    summary="The frameworks by mean rank over a profile's datasets",
    responses=NOT_FOUND,
)
async def profile_leaderboard(results: Results, profile: ProfileName) -> Leaderboard:
    return _found(_leaderboard, results, profile)  # type: ignore[no-any-return]


@router.get(
    "/profiles/{profile}/datasets",
    summary="The datasets' traits (rows, features, categorical share, balance)",
    responses=NOT_FOUND,
)
async def datasets(results: Results, profile: ProfileName) -> list[DatasetTraits]:
    return [DatasetTraits(**row) for row in _found(results.traits, profile)]


@router.get(
    "/profiles/{profile}/datasets/{dataset}",
    summary="Each framework on one dataset, by rank",
    responses=NOT_FOUND,
)
async def dataset_scores(
    results: Results,
    profile: ProfileName,
    dataset: DatasetName,
    framework: Annotated[Framework | None, Query(description="one framework only")] = None,
) -> list[FrameworkScore]:
    rows = _found(results.scores, profile, dataset, framework)
    return [FrameworkScore(**row) for row in rows]


@router.get(
    "/profiles/{profile}/datasets/{dataset}/cells",
    summary="The outer-fold cells behind a dataset's scores",
    responses=NOT_FOUND,
)
async def dataset_cells(
    results: Results,
    profile: ProfileName,
    dataset: DatasetName,
    framework: Annotated[Framework | None, Query(description="one framework only")] = None,
) -> list[FoldCell]:
    rows = _found(results.fold_cells, profile, dataset, framework)
    return [FoldCell(**row) for row in rows]


@router.get(
    "/profiles/{profile}/failures",
    summary="Failed cells and their causes",
    responses=NOT_FOUND,
)
async def failures(results: Results, profile: ProfileName) -> list[Failure]:
    return [Failure(**row) for row in _found(results.failures, profile)]


@router.get(
    "/profiles/{profile}/telco",
    summary="Telco: each framework on churn's own test split, beside churn's 0.848",
    responses=NOT_FOUND,
)
async def telco(results: Results, profile: ProfileName) -> TelcoHoldout:
    return TelcoHoldout(**_found(results.telco_holdout, profile))


def load_results(settings: ServiceSettings) -> Publication:
    """The publication ``TENFOLD_MODEL_URI`` / ``--model-uri`` names (resolved to the
    champion by the factory)."""
    return load(SPEC.model_uri(settings))


SPEC: ServiceSpec[ServiceSettings] = ServiceSpec(
    name="automl_bench",
    title="tenfold automl-bench results API",
    description="The published benchmark results, read-only: leaderboards, per-dataset "
    "scores and ranks, fold cells, failures, the Telco comparison with churn.",
    load=load_results,
    default_model_uri="models:/automl_bench@champion",
    routers=(router,),
)

# the ASGI app factory: ``uvicorn --factory automl_bench.serve:app``
app = SPEC.app
