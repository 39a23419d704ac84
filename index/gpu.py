"""A GPU copy of an exact index for unfiltered searches, used when this FAISS build sees GPUs.

The CPU index stays the master (it takes additions, removals, selectors and snapshots); the copy mirrors
additions and is re-made after a removal. Only exact Flat indexes are mirrored: that is where a GPU pays
off and where GPU and CPU give the same answers. Untested on the CPU-only build this project tests with.
"""

from __future__ import annotations

import logging
import threading

import faiss
import numpy as np

log = logging.getLogger(__name__)

TEMP_MEMORY_MB = 256  # FAISS's own default reserves far more; an Orin shares its memory with the CPU


def gpus_available() -> bool:
    """Whether this FAISS build has GPU support and sees at least one GPU."""
    return hasattr(faiss, "StandardGpuResources") and faiss.get_num_gpus() > 0


class GpuMirror:
    """GPU copy of an IndexIDMap2(IndexFlat); searches are serialized (GPU resources are per thread).

    `temp_memory_mb` bounds the scratch memory FAISS reserves on the device up front (beyond it, a
    search allocates as it goes, which is slower but works).
    """

    def __init__(self, temp_memory_mb: int = TEMP_MEMORY_MB) -> None:
        if temp_memory_mb < 0:
            raise ValueError(f"GPU temp memory must be >= 0 MB, got {temp_memory_mb}")
        self._res = faiss.StandardGpuResources()
        self._res.setTempMemory(temp_memory_mb * 2**20)
        self._lock = threading.Lock()
        self._index: faiss.Index | None = None
        self._ids = np.zeros(0, np.int64)

    def invalidate(self) -> None:
        """Drop the copy; the next search makes a fresh one."""
        with self._lock:
            self._index = None

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Append what the CPU index just appended (row order is the same, so the id map stays valid)."""
        with self._lock:
            if self._index is not None:
                self._index.add(vectors)
                self._ids = np.concatenate([self._ids, ids])

    def search(self, cpu: faiss.IndexIDMap2, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Exact top-k on the GPU copy, made from `cpu` when missing -> scores, ids [Q, k]."""
        with self._lock:
            if self._index is None:
                self._index = faiss.index_cpu_to_gpu(self._res, 0, cpu.index)
                self._ids = faiss.vector_to_array(cpu.id_map)
                log.info("FAISS GPU copy made: %d vectors", len(self._ids))
            scores, rows = self._index.search(queries, k)
            return scores, np.where(rows >= 0, self._ids[np.maximum(rows, 0)], -1)
