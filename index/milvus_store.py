"""MilvusStore: the VectorStore over a Milvus collection, for a gallery larger than one Orin's memory.

SQLite on the edge stays the durable record: the collection holds (id, embedding) pairs only, and the
gallery reconciles it with SQLite on open exactly as it does a FAISS snapshot. Milvus persists on its own,
so there is nothing to snapshot and nothing to rebuild.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from pymilvus import DataType, MilvusClient

from index.milvus_conn import TIMEOUT_S, collection_name, connect, count, ensure_collection, id_column

ALLOWED_CHUNK = 16_384  # ids per `id in [...]` expression; larger allow-lists are searched in parts
WRITE_CHUNK = 2_000  # rows per insert call (gRPC messages stay well under their size limit)


class MilvusStore:
    """Vectors keyed by gallery ids in one Milvus collection, searched by inner product; every call is
    bounded by `timeout` seconds (pymilvus would wait forever on a hung server)."""

    pending_training = False
    train_size = 0

    def __init__(self, client: MilvusClient, name: str, dim: int, timeout: float = TIMEOUT_S) -> None:
        self.client, self.name, self.dim, self.timeout = client, name, dim, timeout

    @classmethod
    def open(
        cls, uri: str, model_id: str, dim: int, token: str | None = None, collection: str | None = None
    ) -> MilvusStore:
        """Connect and create (or check) the collection for this model; ModelMismatchError on another."""
        client = connect(uri, token)
        name = collection or collection_name("gallery", model_id)
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("embedding", DataType.FLOAT_VECTOR, dim=dim)
        index = client.prepare_index_params()
        index.add_index(field_name="embedding", index_type="FLAT", metric_type="IP")
        ensure_collection(client, name, schema, index, model_id, dim, TIMEOUT_S)
        return cls(client, name, dim)

    def train(self, vectors: np.ndarray) -> None:
        """Nothing to fit: the collection's index is built by Milvus."""

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        """Insert (upsert, so a replay after a crash cannot duplicate) ids with their vectors."""
        for i in range(0, len(ids), WRITE_CHUNK):
            rows = [
                {"id": int(item), "embedding": vec.tolist()}
                for item, vec in zip(ids[i : i + WRITE_CHUNK], vectors[i : i + WRITE_CHUNK], strict=True)
            ]
            self.client.upsert(self.name, rows, timeout=self.timeout)

    def remove(self, ids: np.ndarray) -> None:
        """Delete these ids (absent ones are ignored)."""
        for i in range(0, len(ids), WRITE_CHUNK):
            self.client.delete(
                self.name, ids=[int(x) for x in ids[i : i + WRITE_CHUNK]], timeout=self.timeout
            )

    def search(
        self,
        queries: np.ndarray,
        k: int,
        allowed: np.ndarray | None = None,
        params: dict[str, int] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-k per query among `allowed` ids -> scores, ids [Q, k] (-1 ids pad short results)."""
        parts: list[np.ndarray | None] = [None]
        if allowed is not None:
            parts = [allowed[i : i + ALLOWED_CHUNK] for i in range(0, len(allowed), ALLOWED_CHUNK)]
        found: list[list[tuple[float, int]]] = [[] for _ in range(len(queries))]
        for part in parts:
            expr = "" if part is None else f"id in {[int(x) for x in part]}"
            answer = self.client.search(
                self.name,
                data=[q.tolist() for q in np.asarray(queries, np.float32)],
                limit=k,
                filter=expr,
                search_params={"metric_type": "IP", "params": dict(params or {})},
                timeout=self.timeout,
            )
            for row, hits in zip(found, answer, strict=True):
                row += [(float(h["distance"]), int(h["id"])) for h in hits]
        scores = np.full((len(queries), k), -np.inf, np.float32)
        ids = np.full((len(queries), k), -1, np.int64)
        for qi, row in enumerate(found):
            best = sorted(row, key=lambda s: (-s[0], s[1]))[:k]
            scores[qi, : len(best)] = [s for s, _ in best]
            ids[qi, : len(best)] = [i for _, i in best]
        return scores, ids

    def ids(self) -> np.ndarray:
        """Every id in the collection, int64 [N]."""
        return id_column(self.client, self.name, "id", "", self.timeout)

    def __len__(self) -> int:
        return count(self.client, self.name, self.timeout)

    def rebuild_advised(self) -> bool:
        """Never: Milvus compacts deleted rows itself."""
        return False

    def keeps_removed(self) -> bool:
        """No: a deleted row is gone from every search at once (Milvus compacts its files itself)."""
        return False

    def snapshot(self, path: Path, covers: dict[str, Any]) -> None:
        """Nothing to write: Milvus persists every acknowledged write."""
