"""Search the gallery by description, by example (a stored crop or track, or an uploaded image), or both:
POST JSON or multipart for programs, GET for curl and the browser."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile

from service.audit import Action
from service.audit_details import search_details
from service.deps import ActorDep, ReadAccess, RuntimeDep
from service.errors import ApiError
from service.openapi import example_form, json_or_form_body
from service.schemas import TEXT_CAP, TOP_K_CAP, LikeIn, SearchFiltersIn, SearchRequest, SearchResults
from service.search_flow import run_search
from service.upload import DecodedImage, decode_upload

router = APIRouter(tags=["search"], dependencies=[ReadAccess])
EXAMPLES = {
    "text": {"value": {"text": "a woman in a red jacket and black cap", "top_k": 10}},
    "like": {"value": {"like": {"item_id": 42}, "group_by": "track", "top_k": 5}},
    "both": {"value": {"text": "a backpack", "like": {"track_id": 7}, "text_weight": 0.3}},
}
BODY_DOC = json_or_form_body(
    "SearchRequest", example_form("optional: the rest of a SearchRequest as JSON"), EXAMPLES
)


def _json(results: SearchResults) -> Response:
    """Serialise once (the model was built and checked here; FastAPI would validate it again)."""
    return Response(results.model_dump_json(), media_type="application/json")


def _parse(raw: str | bytes, field: str) -> SearchRequest:
    """A SearchRequest from JSON text; 422 naming the field that is wrong (or the part that is not JSON)."""
    try:
        value = json.loads(raw or b"{}")
    except (ValueError, RecursionError) as exc:
        raise ApiError(422, f"{field}: not valid JSON ({exc})", field=field) from exc
    return SearchRequest.model_validate(value)


async def _multipart(runtime: RuntimeDep, request: Request) -> tuple[SearchRequest, DecodedImage]:
    """The uploaded example image (checked like an upload) and the optional rest of the request."""
    limits = runtime.settings.limits
    form = await request.form(max_files=1, max_fields=4, max_part_size=limits.max_json_bytes)
    image, rest = form.get("image"), form.get("request")
    if not isinstance(image, UploadFile):
        raise ApiError(422, "image: the multipart form needs an image file part", field="image")
    data = await image.read()
    name = image.filename or "image"
    decoded = await run_in_threadpool(
        decode_upload, name, data, limits.max_file_bytes, limits.max_pixels, limits.min_side
    )
    body = _parse(rest if isinstance(rest, str) else "{}", "request")
    return body, decoded


@router.post("/search", response_model=SearchResults, openapi_extra=BODY_DOC)
async def search(runtime: RuntimeDep, request: Request, actor: ActorDep) -> Response:
    """Rank gallery crops (or person tracks) by a description, an example, or both."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        body, image = await _multipart(runtime, request)
        results = await run_search(runtime, body, image)
    else:
        body = _parse(await request.body(), "body")
        results = await run_search(runtime, body)
    runtime.audit.record(Action.SEARCH, actor, search_details(body, results))
    return _json(results)


@router.get("/search", response_model=SearchResults)
async def search_get(
    runtime: RuntimeDep,
    actor: ActorDep,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=TEXT_CAP, description="the description", examples=["red jacket"]),
    ] = None,
    k: Annotated[int, Query(ge=1, le=TOP_K_CAP, description="how many matches")] = 10,
    camera: Annotated[list[str] | None, Query(max_length=64, description="keep only these cameras")] = None,
    min_score: Annotated[float | None, Query(ge=-1.0, le=1.0)] = None,
    like_item: Annotated[int | None, Query(ge=1, le=2**62, description="search like this item")] = None,
    like_track: Annotated[int | None, Query(ge=1, le=2**62, description="search like this track")] = None,
    group_by: Annotated[Literal["track"] | None, Query(description="track: one result per track")] = None,
    order: Annotated[Literal["score", "time"], Query(description="time: in time order")] = "score",
    site: Annotated[
        list[str] | None, Query(max_length=256, description="fleet hub only: keep only these sites")
    ] = None,
) -> Response:
    """The same search for curl: /search?q=red+jacket&k=5&camera=gate-2 or ?like_item=42&group_by=track."""
    filters = SearchFiltersIn(cameras=camera, sites=site) if camera or site else None
    fields: dict[str, Any] = {"text": q, "top_k": k, "filters": filters, "min_score": min_score}
    if like_item is not None or like_track is not None:
        fields["like"] = LikeIn(item_id=like_item, track_id=like_track)
    body = SearchRequest(**fields, group_by=group_by, order=order)
    results = await run_search(runtime, body)
    runtime.audit.record(Action.SEARCH, actor, search_details(body, results))
    return _json(results)
