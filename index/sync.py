"""Deriving the FAISS store from SQLite: a full build, and reconciling a loaded snapshot with the rows."""

from __future__ import annotations

import logging
import threading

import numpy as np

from index.faiss_store import FaissStore
from index.gpu import TEMP_MEMORY_MB
from index.records import Records
from index.vector_store import VectorStore

log = logging.getLogger(__name__)


class Cancelled(Exception):
    """A background build was stopped because the gallery is closing."""


def training_sample(records: Records, dim: int, size: int, seed: int = 0) -> np.ndarray:
    """float32 [n, D]: up to `size` stored embeddings drawn uniformly (seeded, so builds repeat)."""
    ids = records.ids()
    if len(ids) > size:
        ids = np.sort(np.random.default_rng(seed).choice(ids, size, replace=False))
    chunks = [vectors for _, vectors in records.embeddings(dim, ids)]
    return np.concatenate(chunks) if chunks else np.zeros((0, dim), np.float32)


def build_store(
    records: Records,
    dim: int,
    factory: str,
    use_gpu: bool,
    cancel: threading.Event | None = None,
    gpu_temp_mb: int = TEMP_MEMORY_MB,
) -> FaissStore:
    """A store holding every row, trained first when its structure needs it and enough rows exist."""
    store = FaissStore(dim, factory, use_gpu, gpu_temp_mb)
    count = records.count()
    if store.pending_training and count >= store.train_size:
        store.train(training_sample(records, dim, min(count, 2 * store.train_size)))
    for ids, vectors in records.embeddings(dim):
        if cancel is not None and cancel.is_set():
            raise Cancelled
        store.add(ids, vectors)
    return store


def reconcile(store: VectorStore, records: Records, dim: int) -> tuple[int, int]:
    """Make `store` hold exactly the SQLite rows: replay missing, drop deleted -> (added, dropped)."""
    rows, held = records.ids(), store.ids()
    extra = np.setdiff1d(held, rows, assume_unique=True)
    missing = np.setdiff1d(rows, held, assume_unique=True)
    if len(extra):
        store.remove(extra)
    for ids, vectors in records.embeddings(dim, missing if len(missing) < len(rows) // 2 else None):
        ids_new = np.isin(ids, missing, assume_unique=True)
        if ids_new.any():
            store.add(ids[ids_new], vectors[ids_new])
    if len(extra) or len(missing):
        log.info("index brought up to date with SQLite: %d replayed, %d dropped", len(missing), len(extra))
    return len(missing), len(extra)
