"""Alert rows: written once per (watchlist, track or item), read back as history, acknowledged by people."""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from alerts.scoring import Crop
from alerts.watchlists import Watchlist
from index.records import Records
from index.rows import timestamp

COLUMNS = (
    "id, uid, watchlist_id, watchlist_name, item_id, track_id, camera, captured_at, has_frame, score,"
    " calibrated, threshold, created_at, acked_at"
)


@dataclass(frozen=True)
class Alert:
    """One alert: which watchlist, which crop, how well it matched."""

    id: int
    uid: str  # idempotency key: the same alert delivered twice carries the same uid
    watchlist_id: int
    watchlist_name: str
    item_id: int
    track_id: int | None
    camera: str | None
    captured_at: datetime | None  # the frame time of the crop
    has_frame: bool
    score: float
    calibrated: float | None
    threshold: float
    created_at: datetime
    acked_at: datetime | None


@dataclass(frozen=True)
class AlertQuery:
    """Filters and paging of the alert history (newest first)."""

    watchlist_id: int | None = None
    since: datetime | None = None  # created at or after
    until: datetime | None = None  # created at or before
    acked: bool | None = None
    before_id: int | None = None  # paging: only alerts older than this id
    limit: int = 50


def _from_row(row: tuple[Any, ...]) -> Alert:
    aid, uid, wid, name, item, track, camera, captured, frame, score, calibrated, threshold = row[:12]
    created, acked = row[12:]
    return Alert(
        int(aid), uid, int(wid), name, int(item), track, camera,
        datetime.fromisoformat(captured) if captured else None, bool(frame), float(score),
        calibrated, float(threshold), datetime.fromisoformat(created),
        datetime.fromisoformat(acked) if acked else None,
    )  # fmt: skip


class AlertStore:
    """The alert history of one gallery."""

    def __init__(self, records: Records) -> None:
        self.records = records

    def insert(
        self,
        conn: sqlite3.Connection,
        watchlist: Watchlist,
        crop: Crop,
        scores: tuple[float, float | None, float],
    ) -> int | None:
        """Record an alert inside the caller's transaction -> its id, or None when its watchlist already
        alerted on this track (or item)."""
        score, calibrated, threshold = scores
        now = datetime.now(UTC)
        cursor = conn.execute(
            "INSERT OR IGNORE INTO alerts (uid, watchlist_id, watchlist_name, subject, item_id, track_id,"
            " camera, captured_at, captured_ts, has_frame, score, calibrated, threshold, created_at,"
            " created_ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                uuid.uuid4().hex, watchlist.id, watchlist.name, crop.subject, crop.item_id, crop.track_id,
                crop.camera, crop.captured_at, crop.captured_ts, int(crop.has_frame), score, calibrated,
                threshold, now.isoformat(), now.timestamp(),
            ),
        )  # fmt: skip
        return int(cursor.lastrowid or 0) if cursor.rowcount > 0 else None

    def get(self, alert_id: int) -> Alert | None:
        """One alert, or None."""
        row = (
            self.records.conn().execute(f"SELECT {COLUMNS} FROM alerts WHERE id = ?", (alert_id,)).fetchone()
        )
        return _from_row(row) if row else None

    def find(self, query: AlertQuery) -> list[Alert]:
        """The history, newest first, filtered and paged."""
        clauses, params = ["1"], []
        for clause, value in (
            ("watchlist_id = ?", query.watchlist_id),
            ("created_ts >= ?", timestamp(query.since) if query.since else None),
            ("created_ts <= ?", timestamp(query.until) if query.until else None),
            ("id < ?", query.before_id),
        ):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        if query.acked is not None:
            clauses.append("acked_at IS NOT NULL" if query.acked else "acked_at IS NULL")
        sql = f"SELECT {COLUMNS} FROM alerts WHERE {' AND '.join(clauses)} ORDER BY id DESC LIMIT ?"
        return [_from_row(r) for r in self.records.conn().execute(sql, [*params, query.limit])]

    def after(self, alert_id: int, limit: int = 100) -> list[Alert]:
        """Alerts newer than an id, oldest first (what an SSE client that saw `alert_id` missed)."""
        sql = f"SELECT {COLUMNS} FROM alerts WHERE id > ? ORDER BY id LIMIT ?"
        return [_from_row(r) for r in self.records.conn().execute(sql, (alert_id, limit))]

    def alerted(self, subjects: list[str], watchlist_ids: list[int]) -> np.ndarray:
        """(M, W) bool: watchlist j has alerted on subject i (its crops are then no background for it)."""
        found = np.zeros((len(subjects), len(watchlist_ids)), bool)
        if not subjects or not watchlist_ids:
            return found
        column = {w: j for j, w in enumerate(watchlist_ids)}
        rows: dict[str, list[int]] = {}
        for i, subject in enumerate(subjects):
            rows.setdefault(subject, []).append(i)
        for watchlist_id, subject in self.records.conn().execute("SELECT watchlist_id, subject FROM alerts"):
            if watchlist_id in column and subject in rows:
                found[rows[subject], column[watchlist_id]] = True
        return found

    def last_id(self) -> int:
        """The newest alert's id (0 when none)."""
        return int(self.records.conn().execute("SELECT COALESCE(MAX(id), 0) FROM alerts").fetchone()[0])

    def count(self) -> int:
        """How many alerts there are."""
        return int(self.records.conn().execute("SELECT COUNT(*) FROM alerts").fetchone()[0])

    def ack(self, alert_id: int) -> Alert | None:
        """Acknowledge an alert (the first time counts) -> the alert, or None when there is none."""
        with self.records.write() as conn:
            conn.execute(
                "UPDATE alerts SET acked_at = ? WHERE id = ? AND acked_at IS NULL",
                (datetime.now(UTC).isoformat(), alert_id),
            )
        return self.get(alert_id)


def forget_items(conn: sqlite3.Connection, item_ids: list[int]) -> None:
    """Delete the alerts raised on these items, and their queued deliveries, inside the transaction
    that removes the items (retention, erasure): an alert names a crop's camera, time and image."""
    for i in range(0, len(item_ids), 500):
        part = item_ids[i : i + 500]
        marks = ",".join("?" * len(part))
        alert_ids = f"SELECT id FROM alerts WHERE item_id IN ({marks})"
        conn.execute(f"DELETE FROM alert_outbox WHERE alert_id IN ({alert_ids})", part)
        conn.execute(f"DELETE FROM alerts WHERE item_id IN ({marks})", part)
