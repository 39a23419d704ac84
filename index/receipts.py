"""Erasure previews and receipts, kept in the gallery's SQLite record.

A preview stores what an erasure would remove (ids with their images' digests) under a random token, with
what selected them, until it expires or is used. A receipt says what an erasure removed, when and by
whom; it is written in the transaction that removes the rows, so no erasure goes without one.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from index.records import Records

RECEIPT_SCHEMA = """
CREATE TABLE IF NOT EXISTS erasure_previews (
    token TEXT PRIMARY KEY,
    selector TEXT NOT NULL,                -- JSON: items, tracks, min_score, how the example was named
    query BLOB,                            -- float32 [D]: the example's embedding (never its image)
    items TEXT NOT NULL,                   -- JSON [[id, sha256], ...], ascending ids
    digest TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_ts REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS erasure_receipts (
    id TEXT PRIMARY KEY,
    erased_at TEXT NOT NULL,
    erased_by TEXT NOT NULL,
    selector TEXT NOT NULL,
    items TEXT NOT NULL,                   -- JSON [[id, sha256], ...]
    digest TEXT NOT NULL,
    count INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class StoredPreview:
    """A preview waiting for its erasure."""

    token: str
    selector: dict[str, Any]
    query: np.ndarray | None
    items: dict[int, str]  # id -> sha256
    digest: str
    expires_at: datetime


@dataclass(frozen=True)
class Receipt:
    """What one erasure removed, when, and on whose request."""

    id: str
    erased_at: datetime
    erased_by: str  # the API key's name, or 'anonymous'
    selector: dict[str, Any]
    items: list[tuple[int, str]]  # (id, sha256), ascending ids
    digest: str


class ReceiptStore:
    """The previews and receipts of one gallery."""

    def __init__(self, records: Records) -> None:
        self.records = records
        records.conn().executescript(RECEIPT_SCHEMA)

    def save_preview(
        self,
        selector: dict[str, Any],
        query: np.ndarray | None,
        items: dict[int, str],
        digest: str,
        ttl_s: float,
    ) -> StoredPreview:
        """Store a preview for `ttl_s` seconds (dropping expired ones) -> it, with its new token."""
        token, now = secrets.token_urlsafe(24), time.time()
        blob = np.asarray(query, "<f4").tobytes() if query is not None else None
        listed = json.dumps(sorted(items.items()))
        created = datetime.now(UTC).isoformat()
        with self.records.write() as conn:
            conn.execute("DELETE FROM erasure_previews WHERE expires_ts < ?", (now,))
            conn.execute(
                "INSERT INTO erasure_previews (token, selector, query, items, digest, created_at, expires_ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    token,
                    json.dumps(selector),
                    blob,
                    listed,
                    digest,
                    created,
                    now + ttl_s,
                ),
            )
        return StoredPreview(token, selector, query, dict(items), digest, _utc(now + ttl_s))

    def preview(self, token: str) -> StoredPreview | None:
        """The unexpired preview with this token, or None."""
        row = (
            self.records.conn()
            .execute(
                "SELECT selector, query, items, digest, expires_ts FROM erasure_previews"
                " WHERE token = ? AND expires_ts >= ?",
                (token, time.time()),
            )
            .fetchone()
        )
        if row is None:
            return None
        selector, blob, items, digest, expires = row
        query = np.frombuffer(blob, "<f4").astype(np.float32) if blob is not None else None
        listed = {int(i): str(sha) for i, sha in json.loads(items)}
        return StoredPreview(token, json.loads(selector), query, listed, digest, _utc(expires))

    def record(self, conn: sqlite3.Connection, receipt: Receipt, token: str) -> None:
        """Store a receipt and use up its preview, inside the erasure's transaction."""
        conn.execute(
            "INSERT INTO erasure_receipts (id, erased_at, erased_by, selector, items, digest, count)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                receipt.id, receipt.erased_at.isoformat(), receipt.erased_by, json.dumps(receipt.selector),
                json.dumps(receipt.items), receipt.digest, len(receipt.items),
            ),
        )  # fmt: skip
        conn.execute("DELETE FROM erasure_previews WHERE token = ?", (token,))

    def receipt(self, receipt_id: str) -> Receipt | None:
        """One receipt, or None."""
        row = (
            self.records.conn()
            .execute(
                "SELECT id, erased_at, erased_by, selector, items, digest FROM erasure_receipts WHERE id = ?",
                (receipt_id,),
            )
            .fetchone()
        )
        if row is None:
            return None
        rid, erased_at, by, selector, items, digest = row
        listed = [(int(i), str(sha)) for i, sha in json.loads(items)]
        return Receipt(rid, datetime.fromisoformat(erased_at), by, json.loads(selector), listed, digest)


def _utc(moment: float) -> datetime:
    return datetime.fromtimestamp(moment, UTC)
