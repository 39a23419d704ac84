"""Search by example: the query vector of a stored crop, a whole track or an uploaded image, mixed with
a description's when both are given; and grouping ranked crops into one result per person track."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from index import Gallery, Hit, SearchFilters
from service.errors import ApiError
from service.schemas import LikeIn

GROUP_FETCH_CAP = 4096  # crops read at most to fill top_k groups
GROUP_FIRST_FETCH = 16  # crops read per wanted track at first: one index search usually fills them


def example_vector(gallery: Gallery, like: LikeIn) -> tuple[np.ndarray, dict[str, Any]]:
    """The stored example's unit vector and how the response names it; 404 for an unknown id."""
    if like.item_id is not None:
        vector = gallery.vector(like.item_id)
        if vector is None:
            raise ApiError(404, f"like.item_id: no gallery item {like.item_id}", field="like.item_id")
        return vector, {"item_id": like.item_id}
    assert like.track_id is not None
    vector = gallery.tracks.embedding(like.track_id)
    if vector is None:
        raise ApiError(404, f"like.track_id: no track {like.track_id}", field="like.track_id")
    return vector, {"track_id": like.track_id}


def mix(text: np.ndarray | None, example: np.ndarray | None, text_weight: float) -> np.ndarray:
    """One unit query from a description's and an example's vectors (either may be missing)."""
    if text is None or example is None:
        chosen = text if text is not None else example
        assert chosen is not None
        return chosen
    query = text_weight * text + (1.0 - text_weight) * example
    return (query / max(float(np.linalg.norm(query)), 1e-12)).astype(np.float32)


def group_key(hit: Hit) -> tuple[str, int]:
    """What a result stands for: its track, or the crop itself when it has none (an upload)."""
    track = hit.item.meta.track
    return ("track", track.id) if track is not None and track.id is not None else ("item", hit.item.id)


def grouped_search(
    gallery: Gallery, query: np.ndarray, k: int, filters: SearchFilters | None, min_score: float | None
) -> list[Hit]:
    """The k best person tracks: crops read in growing batches until k distinct tracks are found (an index
    search costs about the same for 40 or 160 crops, so the first batch is large enough to need no second)."""
    fetch = k * GROUP_FIRST_FETCH
    while True:
        hits = gallery.search(query, min(fetch, GROUP_FETCH_CAP), filters, min_score)
        best: dict[tuple[str, int], Hit] = {}
        for hit in hits:  # best first: the first crop of each track is its best
            best.setdefault(group_key(hit), hit)
        if len(best) >= k or len(hits) < fetch or fetch >= GROUP_FETCH_CAP:
            chosen = list(best.values())[:k]
            return [Hit(h.item, h.score, rank) for rank, h in enumerate(chosen, 1)]
        fetch *= 4


def searcher(
    gallery: Gallery, k: int, filters: SearchFilters | None, min_score: float | None, grouped: bool
) -> Callable[[np.ndarray], list[Hit]]:
    """The search to run on a query vector: per crop, or per track."""
    if grouped:
        return lambda query: grouped_search(gallery, query, k, filters, min_score)
    return lambda query: gallery.search(query, k, filters, min_score, None)
