"""Records: the SQLite (WAL) file that is the durable record of the gallery, one connection per thread."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from index.errors import ModelMismatchError
from index.holds import HOLD_SCHEMA
from index.outbox import enqueue
from index.removal import Dependent, OnHold, Removal, remove_rows
from index.retention import migrate_ages
from index.rows import (
    CHUNK,
    ITEM_COLUMNS,
    ITEM_FROM,
    SCHEMA,
    crop_values,
    filter_sql,
    item_from_row,
    meta_values,
    vectors_from_blobs,
)
from index.sqlite_conns import ThreadConnections
from index.tracks import migrate, upsert_tracks
from index.types import GalleryItem, ItemMeta, SearchFilters

DB_FILE = "gallery.sqlite3"  # inside the data directory


class Records:
    """Rows of gallery items; every write is one committed, fsynced transaction before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # secure_delete: deleted rows are overwritten, not left in free pages
        self._conns = ThreadConnections(str(path), pragmas=("secure_delete=ON",))
        conn = self.conn()
        conn.executescript(SCHEMA)
        migrate(conn)
        conn.executescript(HOLD_SCHEMA)
        migrate_ages(conn)

    def conn(self) -> sqlite3.Connection:
        """This thread's connection (WAL, synchronous=FULL so a commit survives a power cut)."""
        return self._conns.get()

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One immediate transaction: committed when the block ends, rolled back if it raises."""
        conn = self.conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database and truncate it, so page images of deleted rows
        do not linger there -> False when readers kept part of it (the next checkpoint finishes it)."""
        busy, _, _ = self.conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return not busy

    def close(self) -> None:
        """Close every thread's connection."""
        self._conns.close()

    # -- gallery settings -------------------------------------------------------------------------

    def setting(self, key: str) -> str | None:
        """A value from the gallery table (model_id, dim)."""
        row = self.conn().execute("SELECT value FROM gallery WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_settings(self, conn: sqlite3.Connection, **values: str) -> None:
        """Set gallery-table values inside the caller's transaction."""
        conn.executemany("INSERT OR REPLACE INTO gallery (key, value) VALUES (?, ?)", list(values.items()))

    def claim(self, model_id: str, dim: int) -> None:
        """Record the model of a new gallery, or check that an existing one was built with it."""
        with self.write() as conn:
            stored, stored_dim = self.setting("model_id"), self.setting("dim")
            if stored is None:
                self.set_settings(conn, model_id=model_id, dim=str(dim))
            elif stored != model_id:
                raise ModelMismatchError(self.path.parent, stored, model_id)
            elif int(stored_dim or 0) != dim:
                raise ValueError(f"gallery {self.path.parent} stores {stored_dim}-d embeddings, not {dim}-d")

    # -- writes -----------------------------------------------------------------------------------

    def insert(
        self,
        rows: Sequence[tuple[str, str, ItemMeta, str | None]],
        vectors: np.ndarray,
        model_id: str,
    ) -> list[int]:
        """Insert (sha256, image_path, meta, frame_path) rows with float32 [N, D] vectors in one transaction;
        the tracks the metadata names are created or widened in the same transaction."""
        now = datetime.now(UTC)
        created, created_ts = now.isoformat(), now.timestamp()
        values = [
            (sha, path, *meta_values(meta), *crop_values(meta), frame) for sha, path, meta, frame in rows
        ]
        ids = []
        with self.write() as conn:
            stored = self.setting("model_id")
            if stored != model_id:  # reindexed by another process since this gallery was opened
                raise ModelMismatchError(self.path.parent, stored or "(none)", model_id)
            tracks = upsert_tracks(conn, [m.track for _, _, m, _ in rows if m.track is not None])
            for (_, _, meta, _), value, vector in zip(rows, values, vectors, strict=True):
                track_id = tracks[meta.track.key] if meta.track is not None else None
                cursor = conn.execute(
                    "INSERT INTO items (sha256, image_path, camera, captured_at, captured_ts, external_id,"
                    " extra, box, quality, frame_path, track_id, model_id, embedding, created_at, created_ts)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (*value, track_id, model_id, vector.astype("<f4").tobytes(), created, created_ts),
                )
                ids.append(int(cursor.lastrowid or 0))
            enqueue(conn, ids, "upsert")
        return ids

    def remove(
        self,
        ids: Sequence[int],
        on_hold: OnHold = OnHold.REFUSE,
        expect: dict[int, str] | None = None,
        dependents: Sequence[Dependent] = (),
    ) -> Removal:
        """Delete items in one transaction with what derives from them (see index/removal.py); the files
        they named come back for the caller to unlink once no row refers to them."""
        with self.write() as conn:
            return remove_rows(conn, ids, on_hold, expect, dependents)

    # -- reads ------------------------------------------------------------------------------------

    def image_paths(self) -> set[str]:
        """Every file a row refers to: its image and its evidence frame."""
        sql = "SELECT image_path FROM items UNION SELECT frame_path FROM items WHERE frame_path IS NOT NULL"
        return {r[0] for r in self.conn().execute(sql)}

    def count(self) -> int:
        """Number of rows."""
        return int(self.conn().execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def find_shas(self, shas: Sequence[str]) -> dict[str, int]:
        """sha256 -> id of those already stored."""
        found: dict[str, int] = {}
        for i in range(0, len(shas), CHUNK):
            part = list(shas[i : i + CHUNK])
            sql = f"SELECT sha256, id FROM items WHERE sha256 IN ({','.join('?' * len(part))})"
            found.update(self.conn().execute(sql, part).fetchall())
        return found

    def track_id(self, key: str) -> int | None:
        """The gallery id of the track its source names `key`, or None when no crop of it is stored."""
        row = self.conn().execute("SELECT id FROM tracks WHERE key = ?", (key,)).fetchone()
        return int(row[0]) if row else None

    def get(self, item_id: int) -> GalleryItem | None:
        """One item, or None."""
        sql = f"SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} WHERE items.id = ?"
        row = self.conn().execute(sql, (item_id,)).fetchone()
        return item_from_row(row) if row else None

    def page(self, offset: int, limit: int, camera: str | None) -> list[GalleryItem]:
        """Items in id order, optionally of one camera."""
        where, params = ("WHERE camera = ?", [camera]) if camera is not None else ("", [])
        sql = f"SELECT {ITEM_COLUMNS} FROM {ITEM_FROM} {where} ORDER BY items.id LIMIT ? OFFSET ?"
        return [item_from_row(r) for r in self.conn().execute(sql, [*params, limit, offset])]

    def cameras(self) -> list[str]:
        """Distinct camera names, sorted."""
        sql = "SELECT DISTINCT camera FROM items WHERE camera IS NOT NULL ORDER BY camera"
        return [r[0] for r in self.conn().execute(sql)]

    def ids(self, filters: SearchFilters | None = None) -> np.ndarray:
        """Sorted int64 ids of all rows, or of the rows matching the filters."""
        where, params = filter_sql(filters) if filters is not None else ("1", [])
        cursor = self.conn().execute(f"SELECT id FROM items WHERE {where} ORDER BY id", params)
        return np.fromiter((r[0] for r in cursor), np.int64)

    def items(self, ids: Sequence[int], dim: int) -> dict[int, tuple[GalleryItem, np.ndarray]]:
        """id -> (item, float32 [D] embedding) for those ids that exist."""
        out = {}
        for i in range(0, len(ids), CHUNK):
            part = [int(x) for x in ids[i : i + CHUNK]]
            marks = ",".join("?" * len(part))
            sql = f"SELECT {ITEM_COLUMNS}, embedding FROM {ITEM_FROM} WHERE items.id IN ({marks})"
            for row in self.conn().execute(sql, part):
                out[row[0]] = (item_from_row(row[:-1]), vectors_from_blobs([row[-1]], dim)[0])
        return out

    def embeddings(
        self, dim: int, ids: np.ndarray | None = None, batch: int = 8192
    ) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(ids int64 [n], vectors float32 [n, D]) in batches: of all rows, or of the given ids."""
        conn = self.conn()
        if ids is None:
            last = -1
            while rows := conn.execute(
                "SELECT id, embedding FROM items WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall():
                last = rows[-1][0]
                yield np.array([r[0] for r in rows], np.int64), vectors_from_blobs([r[1] for r in rows], dim)
            return
        for i in range(0, len(ids), CHUNK):
            part = [int(x) for x in ids[i : i + CHUNK]]
            sql = f"SELECT id, embedding FROM items WHERE id IN ({','.join('?' * len(part))})"
            if rows := conn.execute(sql, part).fetchall():
                yield np.array([r[0] for r in rows], np.int64), vectors_from_blobs([r[1] for r in rows], dim)

    def filtered_embeddings(self, filters: SearchFilters, dim: int) -> tuple[np.ndarray, np.ndarray]:
        """(ids [n], vectors [n, D]) of the rows matching the filters: the exact-search fallback."""
        where, params = filter_sql(filters)
        rows = self.conn().execute(f"SELECT id, embedding FROM items WHERE {where}", params).fetchall()
        return np.array([r[0] for r in rows], np.int64), vectors_from_blobs([r[1] for r in rows], dim)


def stored_model(data_dir: Path) -> tuple[str, int] | None:
    """(model_id, dim) a gallery directory was built with, or None when it holds no gallery yet."""
    if not (Path(data_dir) / DB_FILE).is_file():
        return None
    records = Records(Path(data_dir) / DB_FILE)
    try:
        model_id, dim = records.setting("model_id"), records.setting("dim")
    finally:
        records.close()
    return (model_id, int(dim)) if model_id and dim else None
