"""One search: embed the description (batched, cached), search the gallery or the fleet, time every stage."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from service.errors import ApiError
from service.runtime import Runtime
from service.schemas import GalleryItemPublic, SearchMatch, SearchRequest, SearchResults
from service.views import filters_in, item_public

if TYPE_CHECKING:
    from index.fleet import FleetHit


def check_limits(runtime: Runtime, request: SearchRequest) -> None:
    """Apply the configured text-length and top_k limits (the schema carries the defaults)."""
    limits = runtime.settings.limits
    if len(request.text) > limits.max_text_chars:
        raise ApiError(422, f"text: longer than {limits.max_text_chars} characters", field="text")
    if request.top_k > limits.max_top_k:
        raise ApiError(422, f"top_k: must be between 1 and {limits.max_top_k}", field="top_k")


async def run_search(runtime: Runtime, request: SearchRequest) -> SearchResults:
    """Ranked matches for one description, with per-stage timings in ms."""
    start = time.perf_counter()
    check_limits(runtime, request)
    if runtime.settings.server.role == "hub":
        return await _search_fleet(runtime, request, start)
    if request.filters is not None and request.filters.sites is not None:
        raise ApiError(422, "filters.sites: only a fleet hub searches across sites", field="filters.sites")
    encoder, towers, gallery = runtime.parts()
    filters = filters_in(request.filters)
    hits, stages, cached = await towers.search_text(
        request.text, lambda query: gallery.search(query, request.top_k, filters, request.min_score, None)
    )
    site = runtime.settings.fleet.site_id
    matches = [
        SearchMatch(rank=h.rank, score=round(float(h.score), 6), item=item_public(h.item, site)) for h in hits
    ]
    return _results(runtime, request, start, (matches, stages, cached), encoder.model_id, len(gallery))


async def _search_fleet(runtime: Runtime, request: SearchRequest, start: float) -> SearchResults:
    """The same search over every site's items in the fleet's central collection."""
    encoder, towers, hub = runtime.hub_parts()
    filters = filters_in(request.filters)
    sites = request.filters.sites if request.filters is not None else None
    # Both Milvus calls run on the text worker, never on the event loop; the size is the probe's count.
    (hits, size), stages, cached = await towers.search_text(
        request.text, lambda query: (hub.search(query, request.top_k, filters, sites), hub.size())
    )
    kept = [h for h in hits if request.min_score is None or h.score >= request.min_score]
    matches = [
        SearchMatch(rank=rank, score=round(h.score, 6), item=fleet_item(h, encoder.model_id))
        for rank, h in enumerate(kept, 1)
    ]
    return _results(runtime, request, start, (matches, stages, cached), encoder.model_id, size)


def fleet_item(hit: FleetHit, model_id: str) -> GalleryItemPublic:
    """A central-collection row as the API shows an item: its site's id, its site, a link to its site."""
    f = hit.fields
    return GalleryItemPublic(
        id=f["local_id"],
        sha256=f["sha256"],
        image_url=f["image_url"],
        site=f["site"],
        camera=f["camera"],
        captured_at=f["captured_at"],
        external_id=f["external_id"],
        metadata=f["metadata"] or {},
        model_id=model_id,
        created_at=f["created_at"],
    )


def _results(
    runtime: Runtime,
    request: SearchRequest,
    start: float,
    found: tuple[list[SearchMatch], dict[str, float], bool],
    model_id: str,
    size: int,
) -> SearchResults:
    """The response, with the total time recorded for /latency and /metrics."""
    matches, stages, cached = found
    stages["total"] = (time.perf_counter() - start) * 1000.0
    runtime.observe("search", stages)
    return SearchResults(
        query=request.text,
        top_k=request.top_k,
        count=len(matches),
        matches=matches,
        cached=cached,
        model_id=model_id,
        gallery_size=size,
        timings_ms={k: round(v, 3) for k, v in stages.items()},
    )
