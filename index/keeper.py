"""IndexKeeper: owns the FAISS store derived from SQLite, the lock around it, its snapshots and rebuilds."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from readerwriterlock import rwlock

from index.errors import SnapshotError
from index.faiss_store import FaissStore
from index.fsio import remove_temporaries
from index.gpu import TEMP_MEMORY_MB
from index.records import Records
from index.snapshot import read_footer
from index.sync import Cancelled, build_store, reconcile
from index.vector_store import VectorStore

log = logging.getLogger(__name__)

SNAPSHOT_FILE = Path("faiss") / "index.snapshot"


class IndexKeeper:
    """The current store behind a readers-writer lock: searches share it, mutations and swaps own it.

    `external` opens a store that persists on its own (Milvus) instead of the FAISS one kept in data_dir.
    """

    def __init__(
        self,
        data_dir: Path,
        records: Records,
        model_id: str,
        dim: int,
        factory: str,
        use_gpu: bool,
        external: Callable[[], VectorStore] | None = None,
        gpu_temp_mb: int = TEMP_MEMORY_MB,
    ) -> None:
        self.path = data_dir / SNAPSHOT_FILE
        self.records, self.model_id, self.dim, self.factory, self.use_gpu = (
            records,
            model_id,
            dim,
            factory,
            use_gpu,
        )
        self.gpu_temp_mb = gpu_temp_mb
        self.lock = rwlock.RWLockWrite()  # writer-preferring: a steady stream of searches can't starve ingest
        self.version = self._snapshot_version = 0  # bumped by every mutation, under the write lock
        self.closing = threading.Event()
        self._thread: threading.Thread | None = None
        self._mutex = threading.Lock()
        self.opened_from: dict[str, Any] = {}
        self.external = external
        self.store: VectorStore = self._open()

    def _build(self, cancel: threading.Event | None = None) -> VectorStore:
        if self.external is not None:
            return self._open_external()
        return build_store(self.records, self.dim, self.factory, self.use_gpu, cancel, self.gpu_temp_mb)

    def _open_external(self) -> VectorStore:
        """The store that persists on its own, brought up to date with SQLite."""
        assert self.external is not None
        store = self.external()
        added, dropped = reconcile(store, self.records, self.dim)
        self.opened_from = {"source": "external", "replayed": added, "dropped": dropped}
        return store

    def _open(self) -> VectorStore:
        """Load the snapshot (or rebuild when it is unusable), then replay and drop what SQLite says."""
        if self.external is not None:
            return self._open_external()
        remove_temporaries(self.path.parent)
        store: VectorStore
        try:
            expect = {"model_id": self.model_id}
            store = FaissStore.load(self.path, self.dim, self.factory, expect, self.use_gpu, self.gpu_temp_mb)
            source = "snapshot"
        except SnapshotError as err:
            if self.path.exists():
                log.warning("%s; rebuilding the index from SQLite", err)
            store, source = self._build(), "rebuilt"
        added, dropped = reconcile(store, self.records, self.dim)
        count = len(store)
        if store.pending_training and count >= store.train_size:
            store, source = self._build(), "rebuilt"
        if store.pending_training:
            log.info(
                "%s needs %d vectors to train, %d stored: searching exactly until then",
                self.factory,
                store.train_size,
                count,
            )
        self.opened_from = {"source": source, "replayed": added, "dropped": dropped}
        self.store = store
        if source == "rebuilt" or added or dropped:
            self.snapshot()
        return store

    def snapshot(self) -> None:
        """Write the store atomically with the gallery and rows it covers (searches go on meanwhile)."""
        with self.lock.gen_rlock():
            version = self.version
            self.store.snapshot(self.path, {"model_id": self.model_id})
        self._snapshot_version = version

    @property
    def dirty(self) -> bool:
        """Whether the store changed since the last snapshot."""
        return self.version != self._snapshot_version

    def scrub(self) -> None:
        """Write a snapshot that holds no removed vector: rebuilt where removals are only tombstoned
        (HNSW), else the store as it is, when it changed since the last one."""
        if self.store.keeps_removed():
            self.rebuild()
        elif self.dirty:
            self.snapshot()

    def rebuild(self) -> None:
        """Build a fresh store from SQLite without blocking searches, then swap it in and snapshot it."""
        store = self._build(self.closing)
        with self.lock.gen_wlock():
            reconcile(store, self.records, self.dim)
            self.store = store
            self.version += 1
        self.snapshot()

    def refresh(self) -> tuple[int, int]:
        """Pick up rows other processes added or deleted in SQLite -> (added, dropped)."""
        with self.lock.gen_wlock():
            changed = reconcile(self.store, self.records, self.dim)
            self.version += 1
        return changed

    def _rebuild_quietly(self) -> None:
        try:
            self.rebuild()
        except Cancelled:
            log.info("index rebuild stopped: gallery closing")
        except Exception:
            log.exception("background index rebuild failed; the current index keeps serving")

    def maybe_rebuild(self, rows: int, background: bool) -> None:
        """Rebuild once tombstones pile up, or once `rows` suffice to train the configured structure."""
        store = self.store
        if not (store.rebuild_advised() or (store.pending_training and rows >= store.train_size)):
            return
        if not background:
            self.rebuild()
            return
        with self._mutex:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._rebuild_quietly, name="index-rebuild")
                self._thread.start()

    def wait(self) -> None:
        """Wait for a background rebuild to finish."""
        with self._mutex:
            thread = self._thread
        if thread is not None:
            thread.join()

    def close(self) -> None:
        """Stop a background rebuild and snapshot what changed."""
        self.closing.set()
        self.wait()
        if self.dirty:
            self.snapshot()


def snapshot_factory(data_dir: Path) -> str | None:
    """The factory string of the gallery's last snapshot (so a CLI keeps what the service uses), or None."""
    try:
        return str(read_footer(Path(data_dir) / SNAPSHOT_FILE)["factory"])
    except (SnapshotError, KeyError):
        return None
