"""Conversions between the gallery's records and the API's models."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from index.types import GalleryItem, ItemMeta, SearchFilters
from service.schemas import GalleryItemPublic, SearchFiltersIn, TrackPublic


def image_path(item_id: int) -> str:
    """The path of GET /gallery/{id}/image for an item."""
    return f"/gallery/{item_id}/image"


def site_image_url(public_url: str) -> Callable[[int], str]:
    """Absolute image links on this site, for the fleet's rows (hub results link back to the edge)."""
    base = public_url.rstrip("/")
    return lambda item_id: base + image_path(item_id)


def item_public(item: GalleryItem, site: str | None = None) -> GalleryItemPublic:
    """A stored item as the API shows it, with the URL of its image (and its site, on a fleet edge)."""
    track, meta = None, item.meta
    if (ref := meta.track) is not None and ref.id is not None:
        track = TrackPublic(id=ref.id, first_seen=ref.first_seen, last_seen=ref.last_seen)
    return GalleryItemPublic(
        id=item.id,
        sha256=item.sha256,
        image_url=image_path(item.id),
        site=site,
        camera=item.meta.camera,
        captured_at=item.meta.captured_at,
        external_id=item.meta.external_id,
        metadata=dict(item.meta.extra),
        model_id=item.model_id,
        created_at=item.created_at,
        track=track,
        box=list(meta.box) if meta.box is not None else None,
        quality=meta.quality,
        frame_url=f"/gallery/{item.id}/frame" if item.frame_path else None,
    )


def filters_in(filters: SearchFiltersIn | None) -> SearchFilters | None:
    """API filters -> the gallery's SearchFilters (None when nothing restricts)."""
    if filters is None:
        return None
    if not (filters.cameras or filters.captured_from or filters.captured_to or filters.metadata):
        return None
    return SearchFilters(
        cameras=frozenset(filters.cameras) if filters.cameras else None,
        captured_from=filters.captured_from,
        captured_to=filters.captured_to,
        metadata=dict(filters.metadata),
    )


def item_meta(
    camera: str | None, captured_at: datetime | None, external_id: str | None, extra: dict[str, Any]
) -> ItemMeta:
    """Upload form fields -> ItemMeta."""
    return ItemMeta(
        camera=camera or None, captured_at=captured_at, external_id=external_id or None, extra=extra
    )
