"""Watchlists: standing queries, each a unit embedding from the text or the image tower, in SQLite."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import numpy as np

from index.records import Records
from index.rows import vectors_from_blobs

COLUMNS = (
    "id, name, kind, query_text, item_id, cameras, sensitivity, webhook_url, model_id, since_item,"
    " created_at, embedding"
)


class QueryKind(StrEnum):
    """What a watchlist was made from."""

    DESCRIPTION = "text"  # a description, through the text tower
    PICTURE = "image"  # an uploaded picture, through the image tower
    ITEM = "item"  # a gallery item's stored embedding (image tower)


@dataclass(frozen=True)
class WatchlistSpec:
    """What a caller asks to watch for; the service fills in the embedding."""

    name: str
    kind: QueryKind
    embedding: np.ndarray  # float32 [D], unit length
    model_id: str
    sensitivity: float  # 0..1; higher alerts on more crops (see alerts/calibration.py)
    text: str | None = None
    item_id: int | None = None
    image: bytes | None = None  # the picture of an image or item watchlist, kept for re-embedding
    cameras: tuple[str, ...] | None = None  # None: every camera
    webhook_url: str | None = None


@dataclass(frozen=True)
class Watchlist:
    """A stored watchlist."""

    id: int
    name: str
    kind: QueryKind
    text: str | None
    item_id: int | None
    cameras: tuple[str, ...] | None
    sensitivity: float
    webhook_url: str | None
    model_id: str
    since_item: int  # items up to this id existed before it and are never scored against it
    created_at: datetime
    embedding: np.ndarray


def _from_row(row: tuple[Any, ...], dim: int) -> Watchlist:
    wid, name, kind, text, item_id, cameras, sensitivity, webhook, model_id, since, created, blob = row
    return Watchlist(
        id=int(wid),
        name=name,
        kind=QueryKind(kind),
        text=text,
        item_id=item_id,
        cameras=tuple(json.loads(cameras)) if cameras is not None else None,
        sensitivity=float(sensitivity),
        webhook_url=webhook,
        model_id=model_id,
        since_item=int(since),
        created_at=datetime.fromisoformat(created),
        embedding=vectors_from_blobs([blob], dim)[0],
    )


class WatchlistStore:
    """Watchlist rows of one gallery."""

    def __init__(self, records: Records, dim: int) -> None:
        self.records, self.dim = records, dim

    def add(self, spec: WatchlistSpec) -> Watchlist:
        """Store a watchlist; it scores only items added after this call."""
        vector = np.asarray(spec.embedding, np.float32).reshape(-1)
        if vector.shape != (self.dim,) or abs(float(np.linalg.norm(vector)) - 1) > 1e-2:
            raise ValueError(f"a watchlist embedding is a float32 [{self.dim}] unit vector")
        cameras = json.dumps(sorted(spec.cameras)) if spec.cameras is not None else None
        with self.records.write() as conn:
            since = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM items").fetchone()[0])
            cursor = conn.execute(
                "INSERT INTO watchlists (name, kind, query_text, item_id, query_image, cameras, sensitivity,"
                " webhook_url, model_id, embedding, since_item, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    spec.name, str(spec.kind), spec.text, spec.item_id, spec.image, cameras,
                    float(spec.sensitivity), spec.webhook_url, spec.model_id,
                    vector.astype("<f4").tobytes(), since, datetime.now(UTC).isoformat(),
                ),
            )  # fmt: skip
            wid = int(cursor.lastrowid or 0)
        found = self.get(wid)
        assert found is not None
        return found

    def get(self, watchlist_id: int) -> Watchlist | None:
        """One watchlist, or None."""
        sql = f"SELECT {COLUMNS} FROM watchlists WHERE id = ?"
        row = self.records.conn().execute(sql, (watchlist_id,)).fetchone()
        return _from_row(row, self.dim) if row else None

    def all(self) -> list[Watchlist]:
        """Every watchlist, oldest first."""
        sql = f"SELECT {COLUMNS} FROM watchlists ORDER BY id"
        return [_from_row(r, self.dim) for r in self.records.conn().execute(sql)]

    def count(self) -> int:
        """How many watchlists there are."""
        return int(self.records.conn().execute("SELECT COUNT(*) FROM watchlists").fetchone()[0])

    def made_from(self, item_ids: list[int]) -> list[int]:
        """Ids of the watchlists made from these items (each keeps its own copy of the picture)."""
        found: set[int] = set()
        for i in range(0, len(item_ids), 500):
            part = item_ids[i : i + 500]
            sql = f"SELECT id FROM watchlists WHERE item_id IN ({','.join('?' * len(part))})"
            found.update(r[0] for r in self.records.conn().execute(sql, part))
        return sorted(found)

    def delete(self, watchlist_id: int) -> bool:
        """Remove a watchlist (its alerts stay in the history); False when there was none."""
        with self.records.write() as conn:
            return conn.execute("DELETE FROM watchlists WHERE id = ?", (watchlist_id,)).rowcount > 0

    def stale(self, model_id: str) -> list[tuple[int, QueryKind, str | None, bytes | None]]:
        """(id, kind, text, image) of watchlists embedded by another model (the gallery was re-indexed)."""
        sql = "SELECT id, kind, query_text, query_image FROM watchlists WHERE model_id != ?"
        return [
            (int(r[0]), QueryKind(r[1]), r[2], r[3]) for r in self.records.conn().execute(sql, (model_id,))
        ]

    def set_embedding(self, watchlist_id: int, embedding: np.ndarray, model_id: str) -> None:
        """Replace a watchlist's embedding with the current model's."""
        blob = np.asarray(embedding, np.float32).reshape(-1).astype("<f4").tobytes()
        with self.records.write() as conn:
            conn.execute(
                "UPDATE watchlists SET embedding = ?, model_id = ? WHERE id = ?",
                (blob, model_id, watchlist_id),
            )
