"""Search the gallery by description: POST JSON for programs, GET for curl and the browser."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, Response

from service.deps import ReadAccess, RuntimeDep
from service.schemas import TEXT_CAP, TOP_K_CAP, SearchFiltersIn, SearchRequest, SearchResults
from service.search_flow import run_search

router = APIRouter(tags=["search"], dependencies=[ReadAccess])

EXAMPLES = {
    "plain": {
        "summary": "a description",
        "value": {"text": "a woman in a red jacket, black cap and brown shoes", "top_k": 10},
    },
    "filtered": {
        "summary": "one camera, a time window and a score floor",
        "value": {
            "text": "man with a blue backpack and white sneakers",
            "top_k": 5,
            "filters": {"cameras": ["gate-2"], "captured_from": "2024-05-01T00:00:00Z"},
            "min_score": 0.2,
        },
    },
}


def _json(results: SearchResults) -> Response:
    """Serialise once (the model was built and checked here; FastAPI would validate it again)."""
    return Response(results.model_dump_json(), media_type="application/json")


@router.post("/search", response_model=SearchResults)
async def search(
    runtime: RuntimeDep, request: Annotated[SearchRequest, Body(openapi_examples=EXAMPLES)]
) -> Response:
    """Rank gallery crops by how well they match a description."""
    return _json(await run_search(runtime, request))


@router.get("/search", response_model=SearchResults)
async def search_get(
    runtime: RuntimeDep,
    q: Annotated[
        str, Query(min_length=1, max_length=TEXT_CAP, description="the description", examples=["red jacket"])
    ],
    k: Annotated[int, Query(ge=1, le=TOP_K_CAP, description="how many matches")] = 10,
    camera: Annotated[list[str] | None, Query(max_length=64, description="keep only these cameras")] = None,
    min_score: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    site: Annotated[
        list[str] | None, Query(max_length=256, description="fleet hub only: keep only these sites")
    ] = None,
) -> Response:
    """The same search for curl: /search?q=red+jacket&k=5&camera=gate-2 (and &site=store-12 on a hub)."""
    filters = SearchFiltersIn(cameras=camera, sites=site) if camera or site else None
    return _json(
        await run_search(runtime, SearchRequest(text=q, top_k=k, filters=filters, min_score=min_score))
    )
