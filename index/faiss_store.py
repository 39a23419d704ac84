"""FaissStore: the VectorStore over FAISS. IndexIDMap2 around a factory string, inner product on unit vectors.

Structures that need training (IVF, PQ, SQ) search exactly until the gallery holds `train_size` vectors;
the gallery then builds the trained store from SQLite and swaps it in. Removal compacts Flat-code indexes
in place and leaves tombstones (filtered out by a selector) in the others until a rebuild.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from index.errors import SnapshotError
from index.factories import check_search_keys, make_index, removes_in_place, search_parameters, train_size
from index.gpu import TEMP_MEMORY_MB, GpuMirror, gpus_available
from index.snapshot import read_snapshot, write_snapshot

log = logging.getLogger(__name__)

TOMBSTONE_FRACTION = 0.1  # rebuild once this share of the indexed vectors is removed-but-kept


def id_selector(ids: np.ndarray) -> tuple[faiss.IDSelector, np.ndarray]:
    """A bitmap selector over non-negative int64 ids, and the bitmap it points into (keep both alive)."""
    mask = np.zeros(int(ids.max()) + 1 if len(ids) else 1, bool)
    mask[ids] = True
    bits = np.packbits(mask, bitorder="little")
    return faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits)), bits


class FaissStore:
    """Vectors keyed by gallery ids in one FAISS index; searches may run in parallel, mutations may not."""

    def __init__(
        self, dim: int, factory: str = "Flat", use_gpu: bool = True, gpu_temp_mb: int = TEMP_MEMORY_MB
    ) -> None:
        self.dim, self.factory = dim, factory
        self.train_size = train_size(factory, make_index(dim, factory))
        self.pending_training = self.train_size > 0
        self._set_index(faiss.IndexIDMap2(make_index(dim, "Flat" if self.pending_training else factory)))
        self._gpu: GpuMirror | None = None
        if use_gpu and gpus_available():
            self._gpu = GpuMirror(gpu_temp_mb)

    def _set_index(self, index: faiss.IndexIDMap2) -> None:
        self._index = index
        self._in_place = removes_in_place(index.index)
        self._tombstones: set[int] = set()
        self._tomb_sel: tuple[faiss.IDSelector, Any] | None = None
        self._selectors = True  # until the structure refuses a selector

    @property
    def device(self) -> str:
        """Where unfiltered exact searches run: 'gpu' with a GPU copy, else 'cpu'."""
        return "gpu" if self._gpu is not None else "cpu"

    def train(self, vectors: np.ndarray) -> None:
        """Train the configured structure on float32 [N, D] and switch to it; the store must be empty."""
        if not self.pending_training:
            return
        if self._index.ntotal:
            raise RuntimeError("train an empty store; the gallery re-adds the vectors after training")
        index = make_index(self.dim, self.factory)
        index.train(np.ascontiguousarray(vectors, np.float32))
        self._set_index(faiss.IndexIDMap2(index))
        self.pending_training = False
        log.info("trained %s on %d vectors", self.factory, len(vectors))

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert int64 ids [N] with float32 vectors [N, D]."""
        ids = np.ascontiguousarray(ids, np.int64)
        vectors = np.ascontiguousarray(vectors, np.float32)
        self._index.add_with_ids(vectors, ids)
        if self._gpu is not None:
            self._gpu.add(ids, vectors)

    def remove(self, ids: np.ndarray) -> None:
        """Remove ids at once: compacted in place, or tombstoned where the structure cannot remove."""
        ids = np.ascontiguousarray(ids, np.int64)
        if self._in_place:
            self._index.remove_ids(faiss.IDSelectorBatch(len(ids), faiss.swig_ptr(ids)))
        else:
            present = ids[np.isin(ids, faiss.vector_to_array(self._index.id_map))]
            self._tombstones.update(int(i) for i in present)
            self._tomb_sel = None
        if self._gpu is not None:
            self._gpu.invalidate()

    def ids(self) -> np.ndarray:
        """The live ids, int64 [N]."""
        ids = faiss.vector_to_array(self._index.id_map).astype(np.int64)
        if self._tombstones:
            ids = ids[~np.isin(ids, np.fromiter(self._tombstones, np.int64))]
        return ids

    def __len__(self) -> int:
        return int(self._index.ntotal) - len(self._tombstones)

    def rebuild_advised(self) -> bool:
        """True once tombstones are more than TOMBSTONE_FRACTION of the index."""
        return len(self._tombstones) > TOMBSTONE_FRACTION * max(self._index.ntotal, 1)

    def keeps_removed(self) -> bool:
        """Whether tombstoned vectors are still in the structure (until a rebuild drops them)."""
        return bool(self._tombstones)

    def _selector(self, allowed: np.ndarray | None) -> tuple[faiss.IDSelector | None, Any]:
        """The selector for one search (and what must stay alive with it)."""
        if allowed is not None:
            return id_selector(allowed)
        if not self._tombstones:
            return None, None
        if self._tomb_sel is None:
            sel, bits = id_selector(np.fromiter(self._tombstones, np.int64))
            self._tomb_sel = (faiss.IDSelectorNot(sel), (sel, bits))
        return self._tomb_sel

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        params: dict[str, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k inner products of float32 queries [Q, D] among `allowed` ids -> scores, ids [Q, k]."""
        queries = np.ascontiguousarray(queries, np.float32).reshape(-1, self.dim)
        check_search_keys(params)
        if allowed is not None and self._tombstones:
            allowed = np.setdiff1d(allowed, np.fromiter(self._tombstones, np.int64))
        if allowed is not None and len(allowed) == 0:
            return np.full((len(queries), k), -np.inf, np.float32), np.full((len(queries), k), -1, np.int64)
        exact_flat = isinstance(faiss.downcast_index(self._index.index), faiss.IndexFlat)
        if self._gpu is not None and allowed is None and not self._tombstones and exact_flat:
            return self._gpu.search(self._index, queries, k)
        sel, keep = self._selector(np.asarray(allowed, np.int64) if allowed is not None else None)
        if sel is None or self._selectors:
            try:
                return self._index.search(
                    queries, k, params=search_parameters(self._index.index, params, sel)
                )
            except RuntimeError as err:  # IndexPQ, for one, refuses selectors
                if sel is None or ("param" not in str(err) and "selector" not in str(err)):
                    raise
                self._selectors = False
                log.info("%s cannot filter inside its search; over-fetching instead", self.factory)
        del keep
        return self._over_fetch(queries, k, allowed, params)

    def _over_fetch(
        self, queries: np.ndarray, k: int, allowed: np.ndarray | None, params: dict[str, int] | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Selector-free filtering: fetch more than k, drop what is not allowed, widen until k remain."""
        total, live = int(self._index.ntotal), len(allowed) if allowed is not None else len(self)
        fetch = min(total, max(4 * k, 2 * k * total // max(live, 1)))
        tombs = np.fromiter(self._tombstones, np.int64)
        while True:
            scores, ids = self._index.search(
                queries, fetch, params=search_parameters(self._index.index, params, None)
            )
            ok = (ids >= 0) & ~np.isin(ids, tombs) & (np.isin(ids, allowed) if allowed is not None else True)
            if fetch >= total or (ok.sum(axis=1) >= min(k, live)).all():
                break
            fetch = min(total, 4 * fetch)
        out_s, out_i = np.full((len(ids), k), -np.inf, np.float32), np.full((len(ids), k), -1, np.int64)
        for row in range(len(ids)):
            hits = np.flatnonzero(ok[row])[:k]
            out_s[row, : len(hits)], out_i[row, : len(hits)] = scores[row, hits], ids[row, hits]
        return out_s, out_i

    def snapshot(self, path: Path, covers: dict[str, Any]) -> None:
        """Atomically write the index with a footer naming the gallery, the structure and the rows covered."""
        ids = faiss.vector_to_array(self._index.id_map)
        footer = {
            **covers,
            "dim": self.dim,
            "factory": self.factory,
            "pending_training": self.pending_training,
            "count": int(self._index.ntotal),
            "max_id": int(ids.max()) if len(ids) else 0,
        }
        write_snapshot(self._index, path, footer)

    @classmethod
    def load(
        cls,
        path: Path,
        dim: int,
        factory: str,
        expect: dict[str, Any],
        use_gpu: bool = True,
        gpu_temp_mb: int = TEMP_MEMORY_MB,
    ) -> FaissStore:
        """A store from a snapshot made for this gallery and structure; SnapshotError otherwise."""
        index, footer = read_snapshot(path)
        wanted = {**expect, "dim": dim, "factory": factory}
        for key, value in wanted.items():
            if footer.get(key) != value:
                raise SnapshotError(f"snapshot {path} was made for {key}={footer.get(key)!r}, not {value!r}")
        if not isinstance(index, faiss.IndexIDMap2) or index.d != dim or index.ntotal != footer["count"]:
            raise SnapshotError(f"snapshot {path} does not hold the index its footer describes")
        ids = faiss.vector_to_array(index.id_map)
        if len(np.unique(ids)) != len(ids):
            raise SnapshotError(f"snapshot {path} holds an id twice")
        store = cls(dim, factory, use_gpu, gpu_temp_mb)
        store._set_index(index)
        store.pending_training = bool(footer["pending_training"])
        return store
