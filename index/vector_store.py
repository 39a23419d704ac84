"""The search structure's interface: FAISS implements it here; a Milvus store can sit next to it.

SQLite stays the durable record either way: a store only holds (id, vector) pairs derived from it, and
the gallery reconciles the two by comparing `ids()` with the rows it has.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

import numpy as np


class VectorStore(Protocol):
    """Vectors keyed by int64 ids, searched by inner product."""

    dim: int
    pending_training: bool  # exact search for now: too few vectors yet to train the configured structure
    train_size: int  # vectors needed before it can be trained (0: never needs training)

    def train(self, vectors: np.ndarray) -> None:
        """Fit the structure on float32 [N, D] samples while empty (a no-op for ones that need none)."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert int64 ids [N] with float32 vectors [N, D]; ids are new (the gallery never reuses one)."""

    def remove(self, ids: np.ndarray) -> None:
        """Make these ids unsearchable at once (ids not present are ignored)."""

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        params: dict[str, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k of float32 queries [Q, D] among `allowed` ids (None: all) -> scores, ids [Q, k]."""

    def ids(self) -> np.ndarray:
        """The live ids it holds, int64 [N] (unordered)."""

    def __len__(self) -> int:
        """How many live vectors it holds."""

    def rebuild_advised(self) -> bool:
        """Whether removed-but-kept vectors have piled up enough that a fresh build pays off."""

    def keeps_removed(self) -> bool:
        """Whether removed vectors are still held (tombstoned) and would go into a snapshot."""

    def snapshot(self, path: Path, covers: dict[str, Any]) -> None:
        """Persist atomically, recording `covers` (which gallery and rows) next to the data."""
