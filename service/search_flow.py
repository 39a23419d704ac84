"""One search: embed the description (batched, cached), search the gallery, time every stage."""

from __future__ import annotations

import time

from service.errors import ApiError
from service.runtime import Runtime
from service.schemas import SearchMatch, SearchRequest, SearchResults
from service.views import filters_in, item_public


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
    encoder, towers, gallery = runtime.parts()
    filters = filters_in(request.filters)
    hits, stages, cached = await towers.search_text(
        request.text, lambda query: gallery.search(query, request.top_k, filters, request.min_score, None)
    )
    stages["total"] = (time.perf_counter() - start) * 1000.0
    runtime.observe("search", stages)
    return SearchResults(
        query=request.text,
        top_k=request.top_k,
        count=len(hits),
        matches=[
            SearchMatch(rank=h.rank, score=round(float(h.score), 6), item=item_public(h.item)) for h in hits
        ],
        cached=cached,
        model_id=encoder.model_id,
        gallery_size=len(gallery),
        timings_ms={k: round(v, 3) for k, v in stages.items()},
    )
