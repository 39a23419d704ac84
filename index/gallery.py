"""Gallery: the durable SQLite record, the image files and the derived FAISS index, behind one lock.

Searches share a readers-writer lock and run in parallel; additions and removals are exclusive, and an
addition holds the lock only for its commit and vector-store insert, after its files are on disk. An
addition is acknowledged only after its image files are fsynced and its rows committed.
"""

from __future__ import annotations

import builtins
import hashlib
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from index.additions import NearRef, add_results, near_duplicates, unstored, write_files, write_frames
from index.factories import MAX_FILTERED_EF, filtered_params
from index.fsio import OpenLock
from index.gpu import TEMP_MEMORY_MB
from index.images import ImageStore
from index.item_reads import ItemReads
from index.keeper import IndexKeeper
from index.outbox import Outbox
from index.records import DB_FILE, Records
from index.removal import Dependent, OnHold, Removal, referenced
from index.rows import is_empty
from index.streams import Streams
from index.track_view import TrackView
from index.types import AddResult, Hit, ItemMeta, SearchFilters
from index.vector_store import VectorStore

StoreOpener = Callable[[str, int], VectorStore]  # (model_id, dim) -> a store that persists on its own
LOCK_FILE = "gallery.lock"  # every open gallery holds a shared flock on it (see OpenLock)


class Gallery(ItemReads):
    """Person crops with metadata and embeddings; exact or approximate top-k search with filters."""

    def __init__(self, data_dir: Path, records: Records, model_id: str, dim: int, options: dict[str, Any]):
        self.data_dir, self.records, self.model_id, self.dim = data_dir, records, model_id, dim
        self.factory: str = options["factory"]
        self.near_duplicate_cosine: float | None = options["near_duplicate_cosine"]
        self.search_params: dict[str, int] = dict(options["search_params"] or {})
        self.max_filtered_ef: int = options["max_filtered_ef"]
        self.background_rebuild: bool = options["background_rebuild"]
        self.images = ImageStore(data_dir)
        self.streams = Streams(records)
        self.tracks = TrackView(records, dim)
        self._sweep(options["open_lock"])
        self.exact_filtered_max = 4096  # filters matching at most this many rows search them exactly
        self._count = records.count()
        self._closed = False
        self.listeners: builtins.list[Callable[[], None]] = []  # called after each committed change
        self.dependents: builtins.list[Dependent] = []  # delete rows pointing at removed items (alerts)
        opener: StoreOpener | None = options["vector_store"]
        external = (lambda: opener(model_id, dim)) if opener is not None else None
        gpu, gpu_temp_mb = options["use_gpu"], options["gpu_temp_mb"]
        self.index = IndexKeeper(data_dir, records, model_id, dim, self.factory, gpu, external, gpu_temp_mb)
        self._open_lock: OpenLock = options["open_lock"]

    @classmethod
    def open(
        cls,
        data_dir: Path,
        model_id: str,
        dim: int,
        factory: str = "Flat",
        near_duplicate_cosine: float | None = None,
        use_gpu: bool = True,
        search_params: dict[str, int] | None = None,
        background_rebuild: bool = True,
        vector_store: StoreOpener | None = None,
        site_id: str | None = None,
        max_filtered_ef: int = MAX_FILTERED_EF,
        gpu_temp_mb: int = TEMP_MEMORY_MB,
    ) -> Gallery:
        """Create or open the gallery in data_dir; ModelMismatchError when it was built with another model.

        `search_params` (efSearch, nprobe) apply to every search; a filtered HNSW search widens its beam
        up to `max_filtered_ef`. `vector_store` serves search from another store (Milvus) instead of
        FAISS; `site_id` makes every change from now on also queue an outbox row for the fleet (see
        index/outbox.py). `gpu_temp_mb` bounds FAISS's GPU scratch memory where `use_gpu` finds a GPU.
        """
        data_dir = Path(data_dir)
        data_dir.mkdir(parents=True, exist_ok=True)
        lock = OpenLock(data_dir / LOCK_FILE)
        options = {
            "factory": factory,
            "near_duplicate_cosine": near_duplicate_cosine,
            "use_gpu": use_gpu,
            "gpu_temp_mb": gpu_temp_mb,
            "search_params": search_params,
            "max_filtered_ef": max_filtered_ef,
            "background_rebuild": background_rebuild,
            "vector_store": vector_store,
            "open_lock": lock,
        }
        records = None
        try:
            records = Records(data_dir / DB_FILE)
            records.claim(model_id, dim)
            if site_id is not None:
                Outbox(records).enable(site_id, model_id)
            return cls(data_dir, records, model_id, dim, options)
        except BaseException:
            if records is not None:
                records.close()
            lock.close()
            raise

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _sweep(self, lock: OpenLock) -> None:
        """Remove image files no row references, when no other handle (in any process) is open: another
        could be between writing its files and committing their rows."""
        if lock.alone:
            self.images.sweep(self.records.image_paths())
            lock.share()

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError(f"the gallery at {self.data_dir} is closed")

    def _vectors(self, embeddings: np.ndarray, n: int) -> np.ndarray:
        """Checked float32 [n, D] unit vectors."""
        vectors = np.asarray(embeddings, np.float32)
        if vectors.shape != (n, self.dim) or not np.isfinite(vectors).all():
            raise ValueError(f"embeddings must be finite float32 [{n}, {self.dim}], got {vectors.shape}")
        if n and np.abs(np.linalg.norm(vectors, axis=1) - 1).max() > 1e-2:
            raise ValueError("embeddings must be L2-normalised (scores are cosine similarities)")
        return np.ascontiguousarray(vectors)

    # -- writes -----------------------------------------------------------------------------------

    def add(
        self,
        images: Sequence[bytes],
        embeddings: np.ndarray,
        metas: Sequence[ItemMeta],
        frames: Sequence[bytes | None] | None = None,
    ) -> list[AddResult]:
        """Store images with their embeddings (and each crop's evidence frame, a JPEG or PNG of the whole
        frame, when given); the same bytes twice are flagged, never stored twice.

        The files are written and fsynced before the write lock (they are content-addressed, so early is
        safe: a crash leaves at most unreferenced files, swept at the next open). Searches wait only for
        the SQLite commit and the vector-store addition, which they must see together.
        """
        frames = list(frames) if frames is not None else [None] * len(images)
        if len(metas) != len(images) or len(frames) != len(images):
            raise ValueError(f"{len(images)} images but {len(metas)} metadata records, {len(frames)} frames")
        if not images:
            return []
        vectors = self._vectors(embeddings, len(images))
        shas = [hashlib.sha256(data).hexdigest() for data in images]
        self._check_open()
        paths: dict[int, str] = {}
        frame_paths: dict[int, str] = {}
        new = unstored(self.records, shas)[1]
        write_files(self.images, images, shas, metas, new, paths)
        write_frames(self.images, frames, new, frame_paths)
        near, seen = self._near_duplicates_unlocked(vectors[new])
        with self.index.lock.gen_wlock():
            self._check_open()
            existing, now = unstored(self.records, shas)  # others may have added or deleted some since
            late = [i for i in now if i not in paths or not self.images.has(paths[i])]
            write_files(self.images, images, shas, metas, late, paths)  # rare: a deletion raced this addition
            gone = [i for i in now if i not in frame_paths or not self.images.has(frame_paths[i])]
            write_frames(self.images, frames, gone, frame_paths)
            if now != new or self.index.version != seen:
                near = self._near_duplicates(vectors[now])
            ids: list[int] = []
            if now:
                rows = [(shas[i], paths[i], metas[i], frame_paths.get(i)) for i in now]
                ids = self.records.insert(rows, vectors[now], self.model_id)
                self.index.store.add(np.array(ids, np.int64), vectors[now])
                self._count += len(ids)
                self.index.version += 1
        results = add_results(shas, existing, now, ids, near)
        self._changed()
        self.index.maybe_rebuild(self._count, self.background_rebuild)
        return results

    def _changed(self) -> None:
        """Tell listeners (the fleet replicator) that committed changes wait."""
        for listener in self.listeners:
            listener()

    def _near_duplicates(self, vectors: np.ndarray) -> builtins.list[NearRef]:
        """Near-duplicate references for new vectors, when a threshold is set (the caller holds a lock)."""
        if self.near_duplicate_cosine is None or not len(vectors):
            return [None] * len(vectors)
        scores, ids = self.index.store.search(vectors, 1)
        return near_duplicates(vectors, self.near_duplicate_cosine, scores[:, 0], ids[:, 0])

    def _near_duplicates_unlocked(self, vectors: np.ndarray) -> tuple[builtins.list[NearRef], int]:
        """Near-duplicate references found under the read lock, and the store version they hold for
        (-1 when no threshold is set: the call under the write lock then costs nothing)."""
        if self.near_duplicate_cosine is None:
            return [], -1
        with self.index.lock.gen_rlock():
            return self._near_duplicates(vectors), self.index.version

    def delete(self, item_id: int) -> bool:
        """Remove one item with what derives from it; False when there was no such item, HeldError
        when a legal hold covers it."""
        return bool(self.remove([item_id]).ids)

    def remove(
        self,
        ids: Sequence[int],
        on_hold: OnHold = OnHold.REFUSE,
        expect: dict[int, str] | None = None,
        also: Dependent | None = None,
    ) -> Removal:
        """Remove items: rows (with their outbox deletes and `dependents`), vectors, then files.

        Rows and vectors go together under the write lock, so no search sees half an item; the files
        after, under the read lock (an addition re-checks its files under the write lock, so none can
        commit a row naming a file between the check here and the unlink). `expect` and `also` serve an
        erasure: the exact set previewed, and its receipt written in the same transaction.
        """
        dependents = [*self.dependents, *([also] if also is not None else [])]
        with self.index.lock.gen_wlock():
            self._check_open()
            removal = self.records.remove(ids, on_hold, expect, dependents)
            if removal.ids:
                self.index.store.remove(np.array(removal.ids, np.int64))
                self._count -= len(removal.ids)
                self.index.version += 1
        if not removal.ids:
            return removal
        self._unlink(removal.files)
        self._changed()
        self.index.maybe_rebuild(self._count, self.background_rebuild)
        return removal

    def _unlink(self, files: builtins.set[str]) -> None:
        """Delete the files no row names any more (a crash before this leaves them for the sweep)."""
        with self.index.lock.gen_rlock():
            keep = referenced(self.records.conn(), sorted(files))
            self.images.remove_all(sorted(files - keep))

    # -- reads ------------------------------------------------------------------------------------

    def search(
        self,
        query: np.ndarray,
        k: int,
        filters: SearchFilters | None = None,
        min_score: float | None = None,
        params: dict[str, int] | None = None,
    ) -> list[Hit]:
        """Top-k items by cosine to a float32 [D] unit query, filters applied inside the vector search."""
        q = np.asarray(query, np.float32).reshape(-1)
        if q.shape != (self.dim,) or k < 1:
            raise ValueError(f"search needs a float32 [{self.dim}] query and k >= 1, got {q.shape} and k={k}")
        with self.index.lock.gen_rlock():
            self._check_open()
            allowed = None if is_empty(filters) else self.records.ids(filters)
            if allowed is not None and not len(allowed):
                return []
            if allowed is not None and not self.exact and len(allowed) <= self.exact_filtered_max:
                found = self._exact(q, k, filters)  # few rows: exact is cheap, graph/list search is weak
            else:
                wanted = {**self.search_params, **(params or {})}
                if allowed is not None:
                    wanted = filtered_params(wanted, self._count, len(allowed), self.max_filtered_ef)
                _, ids = self.index.store.search(q[None], k, allowed, wanted)
                found = [int(i) for i in ids[0] if i >= 0]
                if allowed is not None and len(found) < min(k, len(allowed)):
                    found = self._exact(q, k, filters)  # the approximate structure missed filtered rows
            rows = self.records.items(found, self.dim)
        scored = sorted(
            ((float(vec @ q), item) for item, vec in rows.values()), key=lambda s: (-s[0], s[1].id)
        )
        kept = [(score, item) for score, item in scored if min_score is None or score >= min_score]
        return [Hit(item, score, rank) for rank, (score, item) in enumerate(kept, 1)]

    def _exact(self, q: np.ndarray, k: int, filters: SearchFilters | None) -> list[int]:
        """Exact top-k over the filtered rows' stored embeddings."""
        ids, vectors = self.records.filtered_embeddings(filters or SearchFilters(), self.dim)
        return [int(i) for i in ids[np.argsort(-(vectors @ q), kind="stable")[:k]]]

    def __len__(self) -> int:
        return self._count

    # -- the index --------------------------------------------------------------------------------

    @property
    def exact(self) -> bool:
        """Whether searches are exact now (Flat, or a structure still waiting for enough rows to train)."""
        return self.factory == "Flat" or self.index.store.pending_training

    def snapshot(self) -> None:
        """Write an atomic FAISS snapshot that records the rows it covers."""
        self.index.snapshot()

    def scrub(self) -> bool:
        """Leave no copy of removed items on disk (after an erasure or a purge): a FAISS snapshot without
        their vectors, and SQLite's log truncated (deleted rows are overwritten in place) -> False when
        a reader kept the log from being truncated now."""
        self._check_open()
        self.index.scrub()
        return self.records.checkpoint()

    def rebuild(self) -> None:
        """Rebuild the FAISS index from SQLite now (searches continue on the old one meanwhile)."""
        self.index.rebuild()

    def refresh(self) -> tuple[int, int]:
        """Pick up rows another process added or deleted -> (added, dropped)."""
        changed = self.index.refresh()
        self._count = self.records.count()
        return changed

    def close(self) -> None:
        """Finish a background rebuild, snapshot what changed, close files; safe to call twice."""
        if self._closed:
            return
        self.index.close()
        with self.index.lock.gen_wlock():
            self._closed = True
        self.images.close()
        self.records.close()
        self._open_lock.close()
