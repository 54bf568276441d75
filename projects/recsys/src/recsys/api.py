"""The recommendation routes: one FastAPI ``APIRouter`` and its response models.

Mounted by :mod:`recsys.serve` on the shared factory. The routes get the store through
one dependency, :func:`get_store`: the lifespan resource ``store`` as the served model
wants it read (its lists written there first when missing; or computed per request).
Handlers only await the store: no CPU work on the event loop (the compute-at-request-time
store scores on the service's threads).

- ``GET /v1/users/{user_id}/recommendations?k=10&exclude=ID&liked=ID``: the user's
  precomputed list; an unknown user is a cold start, flagged: the nearest taste of the
  ``liked`` items when given (their similar items, summed), else the most popular.
- ``GET /v1/items/{item_id}/similar?k=10``: the item's neighbours (an item nobody has
  rated has content neighbours).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated, Literal, Protocol

from fastapi import APIRouter, Depends, HTTPException, Path, Query
from pydantic import BaseModel, Field

from recsys.snapshot import Scored
from recsys.store import Store, Versioned
from tenfold.serving import ErrorMessage, current_predictor, resource

MAX_K = 100  # the precomputed list length (RecsysConfig.top_n)
# no slash, space or control character; spelt out rather than `\s`, which pydantic's
# regex engine and a JSON-schema client read differently (U+0085)
IdPath = Annotated[str, Path(min_length=1, max_length=128, pattern=r"^[^/\x00-\x20\x7f]+$")]
KQuery = Annotated[int, Query(ge=1, le=MAX_K, description="how many items (1-100)")]
IdsQuery = Annotated[list[str] | None, Query(max_length=200)]


class RecommendedItem(BaseModel):
    item_id: str
    title: str | None
    score: float = Field(description="the model's score (popularity: training interactions)")


class Recommendations(BaseModel):
    user_id: str
    items: list[RecommendedItem]
    cold_start: bool = Field(description="true when the user is not known to the model")
    strategy: Literal["precomputed", "computed", "profile", "popularity"]
    model_version: str | None = Field(description="the store version the whole answer came from")
    store: str


class SimilarItems(BaseModel):
    item_id: str
    title: str | None
    items: list[RecommendedItem]
    model_version: str | None
    store: str


class ListSource(Protocol):
    """The served model, as the routes need it (:class:`recsys.serve.RecsysModel`)."""

    async def store_for(self, store: Store) -> Store: ...


async def get_store(
    store: Annotated[Store, resource("store")],
    served: Annotated[ListSource, Depends(current_predictor)],
) -> Store:
    """The store to read (503 while no model is loaded)."""
    return await served.store_for(store)


StoreDep = Annotated[Store, Depends(get_store)]
router = APIRouter(prefix="/v1", tags=["recommendations"])


def _not_published() -> HTTPException:
    return HTTPException(status_code=503, detail="no model version published to the store yet")


async def _items(
    store: Store, version: str, entries: list[Scored], k: int, exclude: set[str]
) -> list[RecommendedItem]:
    titles = await store.titles(version)
    picked = [e for e in entries if e.item not in exclude][:k]
    return [
        RecommendedItem(item_id=e.item, title=titles.get(e.item), score=e.score) for e in picked
    ]


async def _profile(store: Store, liked: list[str]) -> Versioned | None:
    """Sum of the similar-items lists of ``liked`` (one version: re-read on a switch)."""
    for _ in range(3):
        found = [await store.read("similar", item) for item in liked]
        versions = {f.version for f in found if f is not None}
        if len(versions) > 1:  # a new version was switched in between: read again
            continue
        if not versions:
            return None
        totals: dict[str, float] = defaultdict(float)
        for f in found:
            for e in f.entries if f is not None else []:
                totals[e.item] += e.score
        ranked = sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))
        return Versioned(versions.pop(), [Scored(i, round(s, 6)) for i, s in ranked])
    return None


@router.get(
    "/users/{user_id}/recommendations",
    response_model=Recommendations,
    summary="Top-k items for a user (cold start: profile or popularity)",
    responses={503: {"model": ErrorMessage, "description": "no model loaded or published yet"}},
)
async def recommendations(
    user_id: IdPath,
    store: StoreDep,
    k: KQuery = 10,
    exclude: IdsQuery = None,
    liked: IdsQuery = None,
) -> Recommendations:
    excluded = set(exclude or [])
    # the first k + |exclude| entries are enough unless the user turns out to be new
    needed = k + len(excluded)
    found = await store.read("user", user_id, needed)
    if found is None:
        raise _not_published()
    strategy: Literal["precomputed", "computed", "profile", "popularity"]
    if found.entries:
        strategy = "computed" if store.backend == "compute" else "precomputed"
        answer: Versioned = found
    else:
        profile = await _profile(store, list(liked)) if liked else None
        if profile is not None and profile.entries:
            strategy, answer = "profile", profile
            excluded |= set(liked or [])
        else:
            popular = await store.read("popular", "", needed + len(liked or []))
            if popular is None:
                raise _not_published()
            strategy, answer = "popularity", popular
    return Recommendations(
        user_id=user_id,
        items=await _items(store, answer.version, answer.entries, k, excluded),
        cold_start=strategy in ("profile", "popularity"),
        strategy=strategy,
        model_version=answer.version,
        store=store.backend,
    )


@router.get(
    "/items/{item_id}/similar",
    response_model=SimilarItems,
    summary="Items most similar to an item",
    responses={
        404: {"model": ErrorMessage, "description": "unknown item"},
        503: {"model": ErrorMessage, "description": "no model loaded or published yet"},
    },
)
async def similar_items(item_id: IdPath, store: StoreDep, k: KQuery = 10) -> SimilarItems:
    found = await store.read("similar", item_id, k + 1)
    if found is None:
        raise _not_published()
    titles = await store.titles(found.version)
    if item_id not in titles:
        raise HTTPException(status_code=404, detail=f"unknown item {item_id!r}")
    return SimilarItems(
        item_id=item_id,
        title=titles.get(item_id),
        items=await _items(store, found.version, found.entries, k, {item_id}),
        model_version=found.version,
        store=store.backend,
    )
