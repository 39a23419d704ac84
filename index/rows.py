"""How gallery records map to SQLite rows and filters to SQL: the schema and the conversions."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np

from index.errors import FieldError
from index.metadata import check_metadata, check_text
from index.types import Box, GalleryItem, ItemMeta, SearchFilters, TrackRef

CHUNK = 500  # ids per `IN (...)` query

SCHEMA = """
CREATE TABLE IF NOT EXISTS gallery (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS items (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so a stale snapshot can't hit a new row
    sha256 TEXT NOT NULL UNIQUE,
    image_path TEXT NOT NULL,              -- relative to the data directory
    camera TEXT,
    captured_at TEXT,                      -- ISO 8601 as given
    captured_ts REAL,                      -- the same instant in Unix seconds (naive = UTC), for ranges
    external_id TEXT,
    extra TEXT NOT NULL DEFAULT '{}',      -- free JSON metadata
    model_id TEXT NOT NULL,
    embedding BLOB NOT NULL,               -- float32 [D], little-endian
    created_at TEXT NOT NULL,
    created_ts REAL                        -- created_at in Unix seconds (retention's fallback age)
);
CREATE INDEX IF NOT EXISTS items_camera ON items(camera);
CREATE INDEX IF NOT EXISTS items_captured ON items(captured_ts);
CREATE TABLE IF NOT EXISTS outbox (     -- changes waiting to reach the fleet's central collection
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    item_id INTEGER NOT NULL,
    op TEXT NOT NULL CHECK (op IN ('upsert', 'delete', 'sweep')),
    queued_ts REAL NOT NULL                -- Unix seconds
);
CREATE TABLE IF NOT EXISTS reindex_staging (
    id INTEGER PRIMARY KEY, model_id TEXT NOT NULL, embedding BLOB NOT NULL
);
"""

ITEM_COLUMNS = (
    "items.id, sha256, image_path, camera, captured_at, external_id, extra, model_id, items.created_at,"
    " track_id, box, quality, frame_path, tracks.key, tracks.first_seen, tracks.last_seen"
)
ITEM_FROM = "items LEFT JOIN tracks ON tracks.id = items.track_id"


def timestamp(moment: datetime) -> float:
    """Unix seconds of a datetime; a naive one is taken as UTC."""
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).timestamp()


def meta_values(meta: ItemMeta) -> tuple[Any, ...]:
    """(camera, captured_at, captured_ts, external_id, extra JSON) for an INSERT; bad metadata raises."""
    check_metadata(meta.extra)
    extra = json.dumps(meta.extra, sort_keys=True, allow_nan=False)
    captured = meta.captured_at
    return (
        meta.camera,
        captured.isoformat() if captured else None,
        timestamp(captured) if captured else None,
        meta.external_id,
        extra,
    )


def item_from_row(row: tuple[Any, ...]) -> GalleryItem:
    """A GalleryItem from a SELECT of ITEM_COLUMNS FROM ITEM_FROM."""
    item_id, sha, path, camera, captured, external_id, extra, model_id, created = row[:9]
    track_id, box, quality, frame_path, key, first_seen, last_seen = row[9:]
    track = None
    if track_id is not None and key is not None:
        first, last = datetime.fromisoformat(first_seen), datetime.fromisoformat(last_seen)
        track = TrackRef(key, first, last, int(track_id))
    meta = ItemMeta(
        camera=camera,
        captured_at=datetime.fromisoformat(captured) if captured else None,
        external_id=external_id,
        extra=json.loads(extra),
        track=track,
        box=tuple(json.loads(box)) if box else None,
        quality=quality,
    )
    return GalleryItem(item_id, sha, path, meta, model_id, datetime.fromisoformat(created), frame_path)


def crop_values(meta: ItemMeta) -> tuple[str | None, float | None]:
    """(box JSON, quality) of a camera crop for an INSERT; bad values raise FieldError."""
    if meta.quality is not None and not 0.0 <= meta.quality <= 1.0:
        raise FieldError("quality", f"a crop quality lies in [0, 1], not {meta.quality}")
    if meta.track is not None:
        check_text("track", meta.track.key)
        if not 0 < len(meta.track.key) <= 512:
            raise FieldError("track", "a track key is 1 to 512 characters")
    return box_json(meta.box), meta.quality


def box_json(box: Box | None) -> str | None:
    """A crop's box as stored: a JSON list of four finite numbers, x1 < x2 and y1 < y2."""
    if box is None:
        return None
    values = [float(v) for v in box]
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise FieldError("box", f"a box is four finite numbers x1, y1, x2, y2, not {list(box)!r}")
    if values[2] <= values[0] or values[3] <= values[1]:
        raise FieldError("box", f"a box needs x1 < x2 and y1 < y2, got {values}")
    return json.dumps([round(v, 2) for v in values])


def vectors_from_blobs(blobs: list[bytes], dim: int) -> np.ndarray:
    """float32 [N, D] from embedding blobs, refusing blobs of the wrong size."""
    data = b"".join(blobs)
    if len(data) != 4 * dim * len(blobs):
        raise ValueError(f"stored embeddings are not {dim}-d float32; the gallery record is damaged")
    return np.frombuffer(data, "<f4").reshape(len(blobs), dim).astype(np.float32)


def is_empty(filters: SearchFilters | None) -> bool:
    """Whether filters restrict nothing."""
    return filters is None or (
        filters.cameras is None
        and filters.captured_from is None
        and filters.captured_to is None
        and not filters.metadata
    )


def filter_sql(filters: SearchFilters) -> tuple[str, list[Any]]:
    """A WHERE clause (without the keyword) and its parameters for the filters."""
    clauses: list[str] = ["1"]
    params: list[Any] = []
    if filters.cameras is not None:
        cameras = sorted(filters.cameras)
        clauses.append(f"camera IN ({','.join('?' * len(cameras))})" if cameras else "0")
        params += cameras
    if filters.captured_from is not None:
        clauses.append("captured_ts >= ?")
        params.append(timestamp(filters.captured_from))
    if filters.captured_to is not None:
        clauses.append("captured_ts <= ?")
        params.append(timestamp(filters.captured_to))
    for key, value in sorted(filters.metadata.items()):  # checked by SearchFilters: scalars or None
        # json_each names top-level keys as they are, so any key works (a JSON path cannot quote `"`).
        if value is None:
            clauses.append("NOT EXISTS (SELECT 1 FROM json_each(extra) WHERE key = ? AND value IS NOT NULL)")
            params.append(key)
        else:
            clauses.append("EXISTS (SELECT 1 FROM json_each(extra) WHERE key = ? AND value = ?)")
            params += [key, value]
    return " AND ".join(clauses), params
