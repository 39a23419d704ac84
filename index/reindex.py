"""Re-encoding a gallery with another model: new embeddings are staged, then switched in one transaction.

Staged rows survive a crash, so an interrupted re-index resumes where it stopped; until the switch commits
the gallery stays whole under the old model, and after it whole under the new one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from index.records import DB_FILE, Records

Encode = Callable[[Sequence[bytes]], np.ndarray]  # image bytes -> float32 [N, D] unit vectors


def _todo(records: Records, limit: int) -> list[tuple[int, str]]:
    """Items not yet staged, oldest first."""
    sql = (
        "SELECT id, image_path FROM items WHERE id NOT IN (SELECT id FROM reindex_staging)"
        " ORDER BY id LIMIT ?"
    )
    return records.conn().execute(sql, (limit,)).fetchall()


def pending(data_dir: Path, model_id: str) -> int:
    """How many stored items still need encoding with `model_id` (all of them for a fresh re-index)."""
    records = Records(Path(data_dir) / DB_FILE)
    try:
        if records.setting("model_id") == model_id:
            return 0
        sql = "SELECT COUNT(*) FROM items WHERE id NOT IN (SELECT id FROM reindex_staging WHERE model_id = ?)"
        return int(records.conn().execute(sql, (model_id,)).fetchone()[0])
    finally:
        records.close()


def _stage(
    records: Records, data_dir: Path, todo: list[tuple[int, str]], encode: Encode, model_id: str, dim: int
) -> None:
    """Encode one batch of stored images and stage their embeddings."""
    data = []
    for item_id, path in todo:
        try:
            data.append((data_dir / path).read_bytes())
        except OSError as err:
            raise RuntimeError(
                f"item {item_id}: its image file {path} cannot be read ({err}); delete the item and re-run"
            ) from err
    vectors = np.asarray(encode(data), np.float32)
    if vectors.shape != (len(todo), dim):
        raise ValueError(f"encoder returned {vectors.shape}, expected [{len(todo)}, {dim}]")
    with records.write() as conn:
        conn.executemany(
            "INSERT OR REPLACE INTO reindex_staging (id, model_id, embedding) VALUES (?, ?, ?)",
            [(i, model_id, v.astype("<f4").tobytes()) for (i, _), v in zip(todo, vectors, strict=True)],
        )


def reindex(
    data_dir: Path,
    model_id: str,
    dim: int,
    encode: Encode,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-encode every stored image with `encode` and make `model_id` the gallery's model -> items encoded."""
    data_dir = Path(data_dir)
    records = Records(data_dir / DB_FILE)
    done = 0
    try:
        if records.setting("model_id") is None:
            raise ValueError(f"no gallery at {data_dir}")
        if records.setting("model_id") == model_id and records.setting("dim") == str(dim):
            return 0
        with records.write() as conn:  # what was staged for another model is of no use now
            conn.execute("DELETE FROM reindex_staging WHERE model_id != ?", (model_id,))
        while True:
            todo = _todo(records, batch_size)
            if todo:
                _stage(records, data_dir, todo, encode, model_id, dim)
                done += len(todo)
                if progress is not None:
                    progress(len(todo))
                continue
            with records.write() as conn:
                if _todo(records, 1):  # added meanwhile by another process: encode those too
                    continue
                conn.execute(
                    "UPDATE items SET embedding = s.embedding, model_id = s.model_id"
                    " FROM reindex_staging AS s WHERE s.id = items.id"
                )
                conn.execute("DELETE FROM reindex_staging")
                records.set_settings(conn, model_id=model_id, dim=str(dim))
            return done
    finally:
        records.close()
