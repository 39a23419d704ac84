"""One conformance suite for every VectorStore: FAISS in memory and Milvus (a real Milvus Lite server).

Each store must rank exactly like a numpy brute force, honour an allow-list with exactly its top k, forget
removed ids at once, and refuse to serve a gallery of another model.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from service_live import crop_bytes

from index import FaissStore, Gallery, ItemMeta, ModelMismatchError, VectorStore
from index.fleet.lite_server import LiteServer
from index.milvus_store import MilvusStore

DIM, N = 32, 600
_names = itertools.count()
Opener = Callable[[str, int], VectorStore]


@pytest.fixture(params=["faiss", "milvus"])
def kind(request: pytest.FixtureRequest) -> str:
    """Which store is under test."""
    return str(request.param)


@pytest.fixture
def opener(kind: str, request: pytest.FixtureRequest) -> Opener:
    """(model_id, dim) -> an empty store of the kind under test (a fresh collection for Milvus)."""
    if kind == "faiss":
        return lambda model_id, dim: FaissStore(dim, "Flat", use_gpu=False)
    server: LiteServer = request.getfixturevalue("milvus")
    name = f"conformance_{next(_names)}"
    return lambda model_id, dim: MilvusStore.open(server.uri, model_id, dim, collection=name)


def unit_vectors(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def filled(opener: Opener) -> tuple[VectorStore, np.ndarray, np.ndarray]:
    """A store holding N vectors under scattered ids."""
    ids = np.random.default_rng(1).choice(100_000, N, replace=False).astype(np.int64)
    vectors = unit_vectors(2, N)
    store = opener("model-a", DIM)
    store.add(ids, vectors)
    return store, ids, vectors


def brute_force(q: np.ndarray, ids: np.ndarray, vectors: np.ndarray, k: int) -> list[int]:
    order = np.argsort(-(vectors @ q), kind="stable")[:k]
    return [int(i) for i in ids[order]]


def test_search_equals_brute_force(opener: Opener) -> None:
    store, ids, vectors = filled(opener)
    queries = unit_vectors(3, 8)
    scores, found = store.search(queries, 10)
    assert found.shape == (8, 10) and len(store) == N
    for q, row, row_scores in zip(queries, found, scores, strict=True):
        assert list(row) == brute_force(q, ids, vectors, 10)
        np.testing.assert_allclose(row_scores, np.sort(vectors @ q)[::-1][:10], atol=1e-5)


def test_allow_list_returns_exactly_its_top_k(opener: Opener) -> None:
    store, ids, vectors = filled(opener)
    q = unit_vectors(4, 1)[0]
    keep = np.isin(np.arange(N), np.random.default_rng(5).choice(N, 120, replace=False))
    _, found = store.search(q[None], 10, np.sort(ids[keep]))
    assert list(found[0]) == brute_force(q, ids[keep], vectors[keep], 10)
    few = np.sort(ids[:3])
    _, found = store.search(q[None], 10, few)
    assert sorted(found[0][:3]) == list(few) and list(found[0][3:]) == [-1] * 7


def test_removed_ids_vanish_at_once(opener: Opener) -> None:
    store, ids, vectors = filled(opener)
    q = vectors[7]
    gone = ids[[7, 8, 9]]
    store.remove(np.append(gone, 999_999_999))  # an unknown id is ignored
    _, found = store.search(q[None], 20)
    assert not set(found[0]) & set(gone)
    assert len(store) == N - 3
    assert sorted(store.ids()) == sorted(set(ids) - set(gone))
    keep = ~np.isin(ids, gone)
    assert list(found[0]) == brute_force(q, ids[keep], vectors[keep], 20)


def test_gallery_on_the_store_refuses_another_model(kind: str, opener: Opener, tmp_path: Path) -> None:
    external = opener if kind == "milvus" else None  # FAISS is the gallery's own default
    vectors = unit_vectors(6, 4)
    with Gallery.open(tmp_path, "model-a", DIM, use_gpu=False, vector_store=external) as g:
        g.add([crop_bytes(i) for i in range(4)], vectors, [ItemMeta()] * 4)
        assert [h.item.id for h in g.search(vectors[2], 1)] == [3]
    with pytest.raises(ModelMismatchError, match="model-a"):
        Gallery.open(tmp_path, "model-b", DIM, use_gpu=False, vector_store=external)
    with Gallery.open(tmp_path, "model-a", DIM, use_gpu=False, vector_store=external) as g:
        assert len(g) == 4 and [h.item.id for h in g.search(vectors[1], 1)] == [2]  # reconciled on open


def test_milvus_collection_refuses_another_model(milvus: LiteServer) -> None:
    MilvusStore.open(milvus.uri, "model-a", DIM, collection="guarded")
    with pytest.raises(ModelMismatchError, match="model-a"):
        MilvusStore.open(milvus.uri, "model-b", DIM, collection="guarded")
    with pytest.raises(ValueError, match="32-d"):
        MilvusStore.open(milvus.uri, "model-a", DIM * 2, collection="guarded")
