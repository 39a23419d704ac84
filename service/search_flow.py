"""One search: embed the description (batched, cached), search the gallery or the fleet, time every stage."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from index import Hit
from service.errors import ApiError
from service.examples import example_vector, mix, searcher
from service.runtime import Runtime
from service.schemas import GalleryItemPublic, SearchMatch, SearchRequest, SearchResults
from service.upload import DecodedImage
from service.views import filters_in, item_public

if TYPE_CHECKING:
    from index.fleet import FleetHit


def check_limits(runtime: Runtime, request: SearchRequest) -> None:
    """Apply the configured text-length and top_k limits (the schema carries the defaults)."""
    limits = runtime.settings.limits
    if request.text is not None and len(request.text) > limits.max_text_chars:
        raise ApiError(422, f"text: longer than {limits.max_text_chars} characters", field="text")
    if request.top_k > limits.max_top_k:
        raise ApiError(422, f"top_k: must be between 1 and {limits.max_top_k}", field="top_k")


async def run_search(
    runtime: Runtime, request: SearchRequest, image: DecodedImage | None = None
) -> SearchResults:
    """Ranked matches for a description, an example, or both, with per-stage timings in ms."""
    start = time.perf_counter()
    check_limits(runtime, request)
    if request.text is None and request.like is None and image is None:
        raise ApiError(422, "text: give a description, an example (like) or an image", field="text")
    if runtime.settings.server.role == "hub":
        if request.like is not None or image is not None or request.group_by is not None:
            raise ApiError(422, "like: a fleet hub searches by description only, per crop", field="like")
        return await _search_fleet(runtime, request, start)
    if request.filters is not None and request.filters.sites is not None:
        raise ApiError(422, "filters.sites: only a fleet hub searches across sites", field="filters.sites")
    encoder, towers, gallery = runtime.parts()
    stages: dict[str, float] = {}
    example, named = await _example(runtime, request, image, stages)
    grouped = request.group_by == "track"
    search = searcher(gallery, request.top_k, filters_in(request.filters), request.min_score, grouped)
    cached = False
    if request.text is not None:
        hits, text_stages, cached = await towers.search_text(
            request.text, lambda text: search(mix(text, example, request.text_weight))
        )
        stages.update(text_stages)
    else:
        assert example is not None
        mark = time.perf_counter()
        hits = await run_in_threadpool(search, example)
        stages["search"] = (time.perf_counter() - mark) * 1000.0
    matches = await run_in_threadpool(_matches, runtime, hits, grouped, request.order)
    found = (matches, stages, cached)
    return _results(runtime, request, start, found, encoder.model_id, len(gallery), named)


async def _example(
    runtime: Runtime, request: SearchRequest, image: DecodedImage | None, stages: dict[str, float]
) -> tuple[np.ndarray | None, dict[str, Any] | None]:
    """The example's vector (a stored crop or track, or an uploaded image through the image tower)."""
    encoder, towers, gallery = runtime.parts()
    mark = time.perf_counter()
    if request.like is not None:
        vector, named = await run_in_threadpool(example_vector, gallery, request.like)
        stages["example"] = (time.perf_counter() - mark) * 1000.0
        return vector, named
    if image is None:
        return None, None
    pixels = await run_in_threadpool(encoder.preprocess, [image.image])  # (1, 3, H, W)
    rows, image_stages = await towers.embed_pixels(pixels)
    stages.update({f"example_{name}": ms for name, ms in image_stages.items()})
    return rows[0], {"image_sha256": image.sha256}


def _matches(runtime: Runtime, hits: list[Hit], grouped: bool, order: str) -> list[SearchMatch]:
    """Hits as the API shows them: with each track's crop count when grouped, in time order if asked."""
    _, _, gallery = runtime.parts()
    site = runtime.settings.fleet.site_id
    sizes = gallery.tracks.sizes(t.id for h in hits if (t := h.item.meta.track) and t.id) if grouped else {}
    matches = []
    for hit in hits:
        track = hit.item.meta.track
        crops = (sizes.get(track.id, 1) if track and track.id else 1) if grouped else None
        item = item_public(hit.item, site)
        matches.append(SearchMatch(rank=hit.rank, score=round(float(hit.score), 6), item=item, crops=crops))
    if order == "time":
        matches.sort(key=_seen_at)
    return matches


def _seen_at(match: SearchMatch) -> tuple[datetime, int]:
    """When a result's person was seen: its track's first sighting, its capture time, or its upload."""
    item = match.item
    when = item.track.first_seen if item.track else item.captured_at or item.created_at
    return (when if when.tzinfo else when.replace(tzinfo=UTC)), match.rank


async def _search_fleet(runtime: Runtime, request: SearchRequest, start: float) -> SearchResults:
    """The same search over every site's items in the fleet's central collection."""
    encoder, towers, hub = runtime.hub_parts()
    filters = filters_in(request.filters)
    sites = request.filters.sites if request.filters is not None else None
    assert request.text is not None  # a hub has no examples: run_search required a description
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
    example: dict[str, Any] | None = None,
) -> SearchResults:
    """The response, with the total time recorded for /latency and /metrics."""
    matches, stages, cached = found
    stages["total"] = (time.perf_counter() - start) * 1000.0
    runtime.observe("search", stages)
    return SearchResults(
        query=request.text,
        example=example,
        group_by=request.group_by,
        top_k=request.top_k,
        count=len(matches),
        matches=matches,
        cached=cached,
        model_id=model_id,
        gallery_size=size,
        timings_ms={k: round(v, 3) for k, v in stages.items()},
    )
