"""Reading person tracks back: a track's crops in time order, its mean embedding, crops per track."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from index.records import CHUNK, Records
from index.rows import ITEM_COLUMNS, ITEM_FROM, item_from_row, vectors_from_blobs
from index.types import GalleryItem


class TrackView:
    """The tracks of one gallery, as its SQLite record holds them."""

    def __init__(self, records: Records, dim: int) -> None:
        self.records, self.dim = records, dim

    def items(self, track_id: int) -> list[GalleryItem]:
        """The track's crops, earliest first (an empty list: no such track)."""
        sql = (
            f"SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE items.track_id = ?"
            " ORDER BY items.captured_ts, items.id"
        )
        return [item_from_row(r) for r in self.records.conn().execute(sql, (track_id,))]

    def embedding(self, track_id: int) -> np.ndarray | None:
        """The unit mean of the track's crop embeddings: the person as a whole, or None (no such track)."""
        rows = self.records.conn().execute("SELECT embedding FROM items WHERE track_id = ?", (track_id,))
        blobs = [r[0] for r in rows]
        if not blobs:
            return None
        mean = vectors_from_blobs(blobs, self.dim).mean(axis=0)
        return (mean / max(float(np.linalg.norm(mean)), 1e-12)).astype(np.float32)

    def sizes(self, track_ids: Iterable[int]) -> dict[int, int]:
        """Crops stored per track, for those ids that have any."""
        ids = sorted(set(track_ids))
        out: dict[int, int] = {}
        for i in range(0, len(ids), CHUNK):
            part = ids[i : i + CHUNK]
            sql = (
                f"SELECT track_id, COUNT(*) FROM items WHERE track_id IN ({','.join('?' * len(part))})"
                " GROUP BY track_id"
            )
            out.update(self.records.conn().execute(sql, part).fetchall())
        return out
