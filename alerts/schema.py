"""The alert tables, kept in the gallery's SQLite record beside the items they point at."""

from __future__ import annotations

from index.records import Records

SCHEMA = """
CREATE TABLE IF NOT EXISTS watchlists (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('text', 'image', 'item')),
    query_text TEXT,
    item_id INTEGER,                       -- kind item: the gallery item it was made from
    query_image BLOB,                      -- image and item: the picture, so a new model can re-embed it
    cameras TEXT,                          -- a JSON list, or NULL for every camera
    sensitivity REAL NOT NULL,
    webhook_url TEXT,
    model_id TEXT NOT NULL,
    embedding BLOB NOT NULL,               -- float32 [D], little-endian, unit length
    since_item INTEGER NOT NULL,           -- items up to this id were there before it: never scored
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,  -- also the SSE event id
    uid TEXT NOT NULL UNIQUE,              -- the idempotency key receivers deduplicate by
    watchlist_id INTEGER NOT NULL,
    watchlist_name TEXT NOT NULL,
    subject TEXT NOT NULL,                 -- track:<id> or item:<id>: one alert per watchlist and subject
    item_id INTEGER NOT NULL,
    track_id INTEGER,
    camera TEXT,
    captured_at TEXT,
    captured_ts REAL,
    has_frame INTEGER NOT NULL,
    score REAL NOT NULL,                   -- cosine between the watchlist's query and the crop
    calibrated REAL,                       -- share of the background sample the crop outscored
    threshold REAL NOT NULL,               -- the cosine it had to beat
    created_at TEXT NOT NULL,
    created_ts REAL NOT NULL,
    acked_at TEXT,
    UNIQUE (watchlist_id, subject)
);
CREATE INDEX IF NOT EXISTS alerts_watchlist ON alerts(watchlist_id, id);
CREATE INDEX IF NOT EXISTS alerts_created ON alerts(created_ts);
CREATE TABLE IF NOT EXISTS alert_outbox (  -- deliveries waiting, one queue (channel) per sink
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sink TEXT NOT NULL,
    alert_id INTEGER NOT NULL,
    queued_ts REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS alert_outbox_sink ON alert_outbox(sink, seq);
"""
CURSOR_KEY = "alerts_cursor"  # in the gallery table: the last item id scored against the watchlists


def ensure(records: Records) -> None:
    """Create the alert tables when missing (idempotent)."""
    records.conn().executescript(SCHEMA)
