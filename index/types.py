"""The gallery's public records: what callers pass in and get back. No model code here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from index.metadata import check_filter, check_text, key_name


@dataclass(frozen=True)
class TrackRef:
    """The person track a crop belongs to: named by its source, with when it was first and last seen."""

    key: str  # the source's name for the track; the same key is always the same gallery track
    first_seen: datetime
    last_seen: datetime
    id: int | None = None  # the gallery's track id (set on items read back, ignored on the way in)


Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in the pixels of the evidence frame


@dataclass(frozen=True)
class ItemMeta:
    """What the uploader (or a camera) says about an image."""

    camera: str | None = None
    captured_at: datetime | None = None
    external_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # free JSON metadata
    track: TrackRef | None = None
    box: Box | None = None  # where the crop lies in its frame
    quality: float | None = None  # the camera pipeline's crop quality, in [0, 1]


@dataclass(frozen=True)
class GalleryItem:
    """One stored person crop, as the record in SQLite has it."""

    id: int
    sha256: str
    image_path: str  # relative to the gallery's data directory
    meta: ItemMeta
    model_id: str
    created_at: datetime
    frame_path: str | None = None  # the whole frame as evidence (a camera's JPEG), relative to data_dir


@dataclass(frozen=True)
class AddResult:
    """The outcome of adding one image: its id, and whether it was already there."""

    id: int
    sha256: str
    duplicate: bool = False  # the same bytes were already stored; nothing was added
    near_duplicate_of: int | None = None  # an existing item within the near-duplicate cosine threshold


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions applied inside the vector search, so k results come back when k exist."""

    cameras: frozenset[str] | None = None
    captured_from: datetime | None = None
    captured_to: datetime | None = None
    metadata: dict[str, Any] = field(default_factory=dict)  # equality on keys of ItemMeta.extra

    def __post_init__(self) -> None:
        """Refuse what SQLite or Milvus could not compare, naming it (FieldError), before any search."""
        for camera in self.cameras or ():
            check_text("filters.cameras", camera)
        for key, value in self.metadata.items():
            name = key_name("filters.metadata", key)
            check_text(name, key)
            check_filter(name, value)


@dataclass(frozen=True)
class Hit:
    """One search result."""

    item: GalleryItem
    score: float  # cosine similarity (inner product of unit vectors)
    rank: int  # 1-based
