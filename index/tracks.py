"""Person tracks in the gallery record: one row per track, named at its source by a key.

A camera (or an external tracker posting crops) names each track with a key; the same key always maps
to the same gallery track, so re-reading a video adds nothing twice. Gallery track ids come from an
AUTOINCREMENT column: they never repeat, across cameras, processes and restarts.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from datetime import datetime

from index.rows import timestamp
from index.types import TrackRef

TRACK_SCHEMA = """
CREATE TABLE IF NOT EXISTS tracks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused
    key TEXT NOT NULL UNIQUE,              -- the source's name for the track
    first_seen TEXT NOT NULL,              -- ISO 8601
    first_ts REAL NOT NULL,
    last_seen TEXT NOT NULL,
    last_ts REAL NOT NULL
);
"""
ITEM_TRACK_COLUMNS = {"track_id": "INTEGER", "box": "TEXT", "quality": "REAL", "frame_path": "TEXT"}


def migrate(conn: sqlite3.Connection) -> None:
    """Add the track columns to a gallery made before tracks existed (idempotent)."""
    conn.executescript(TRACK_SCHEMA)
    have = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
    for name, kind in ITEM_TRACK_COLUMNS.items():
        if name not in have:
            conn.execute(f"ALTER TABLE items ADD COLUMN {name} {kind}")
    conn.execute("CREATE INDEX IF NOT EXISTS items_track ON items(track_id)")


def upsert_tracks(conn: sqlite3.Connection, refs: Iterable[TrackRef]) -> dict[str, int]:
    """Create or widen the tracks these refs name, inside the caller's transaction -> key: track id."""
    ids: dict[str, int] = {}
    for ref in refs:
        first, last = _span(ref.first_seen, ref.last_seen)
        conn.execute(
            "INSERT INTO tracks (key, first_seen, first_ts, last_seen, last_ts) VALUES (?, ?, ?, ?, ?)"
            " ON CONFLICT(key) DO UPDATE SET"
            " first_seen = iif(excluded.first_ts < first_ts, excluded.first_seen, first_seen),"
            " first_ts = min(first_ts, excluded.first_ts),"
            " last_seen = iif(excluded.last_ts > last_ts, excluded.last_seen, last_seen),"
            " last_ts = max(last_ts, excluded.last_ts)",
            (ref.key, *first, *last),
        )
        ids[ref.key] = int(conn.execute("SELECT id FROM tracks WHERE key = ?", (ref.key,)).fetchone()[0])
    return ids


def _span(first: datetime, last: datetime) -> tuple[tuple[str, float], tuple[str, float]]:
    """((first ISO, first ts), (last ISO, last ts)), refusing a track that ends before it starts."""
    if timestamp(last) < timestamp(first):
        raise ValueError(f"a track cannot end ({last.isoformat()}) before it starts ({first.isoformat()})")
    return (first.isoformat(), timestamp(first)), (last.isoformat(), timestamp(last))


def drop_empty_tracks(conn: sqlite3.Connection, track_ids: Iterable[int]) -> None:
    """Delete tracks no item refers to any more (inside the caller's transaction)."""
    for track_id in set(track_ids):
        conn.execute(
            "DELETE FROM tracks WHERE id = ? AND NOT EXISTS (SELECT 1 FROM items WHERE track_id = ?)",
            (track_id, track_id),
        )
