"""FaissStore: removal for every supported structure, training thresholds, per-call search parameters."""

from __future__ import annotations

import faiss
import numpy as np
import pytest

from index import FaissStore
from index.factories import make_index, removes_in_place, train_size

DIM = 16
FACTORIES = ["Flat", "HNSW16", "IVF8,Flat", "IVF8,SQ8", "IVF8,PQ4x4", "PQ8x4", "SQ8", "SQfp16", "HNSW16,SQ8"]
PARAMS = {"nprobe": 8, "efSearch": 64}  # every list probed: approximate only by the codes


def unit(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def filled(factory: str, n: int = 1500) -> tuple[FaissStore, np.ndarray, np.ndarray]:
    store = FaissStore(DIM, factory, use_gpu=False)
    vectors, ids = unit(0, n), np.arange(1000, 1000 + n, dtype=np.int64)
    if store.pending_training:
        store.train(vectors)
    store.add(ids, vectors)
    return store, vectors, ids


@pytest.mark.parametrize("factory", FACTORIES)
def test_removed_ids_never_come_back_and_the_rest_still_map_right(factory: str) -> None:
    store, vectors, ids = filled(factory)
    gone = ids[::7]
    store.remove(gone)
    store.remove(np.array([5], np.int64))  # an id it never had: ignored
    keep = ~np.isin(ids, gone)
    assert len(store) == keep.sum()
    assert sorted(store.ids().tolist()) == ids[keep].tolist()
    _, found = store.search(vectors, 5, params=PARAMS)
    assert not np.isin(found, gone).any()
    self_hit = (found[keep] == ids[keep, None]).any(axis=1).mean()  # each kept vector finds itself
    assert self_hit >= (0.999 if factory in ("Flat", "HNSW16", "IVF8,Flat", "SQfp16") else 0.6)


def test_ivf_removal_uses_tombstones_because_idmap2_would_misroute() -> None:
    """IndexIDMap2.remove_ids compacts its id map, but IVF keeps its internal labels: ids would shift."""
    assert removes_in_place(make_index(DIM, "Flat")) and removes_in_place(make_index(DIM, "PQ8x4"))
    assert not removes_in_place(make_index(DIM, "IVF8,Flat"))
    assert not removes_in_place(make_index(DIM, "HNSW16"))
    store, vectors, ids = filled("IVF8,Flat")
    store.remove(ids[:10])
    _, found = store.search(vectors[10:20], 1, params=PARAMS)
    assert found[:, 0].tolist() == ids[10:20].tolist()


def test_tombstones_advise_a_rebuild() -> None:
    store, _, ids = filled("HNSW16", 200)
    store.remove(ids[:15])
    assert not store.rebuild_advised()
    store.remove(ids[15:30])
    assert store.rebuild_advised()


@pytest.mark.parametrize("factory", ["Flat", "PQ8x4", "IVF8,Flat", "HNSW16"])
def test_selector_restricts_to_allowed_ids(factory: str) -> None:
    """Inside the search where FAISS can (selectors); IndexPQ refuses them and is over-fetched instead."""
    store, vectors, ids = filled(factory, 1200)
    store.remove(ids[100:105])
    allowed = ids[100:140]
    _, found = store.search(vectors[:3], 10, allowed=allowed, params=PARAMS)
    assert np.isin(found, allowed[5:]).all() and (found >= 0).all()
    if factory == "Flat":
        brute = allowed[5:][np.argsort(-(vectors[105:140] @ vectors[0]), kind="stable")[:10]]
        assert found[0].tolist() == brute.tolist()
    _, none = store.search(vectors[:1], 5, allowed=np.zeros(0, np.int64))
    assert (none == -1).all()


def test_training_sizes_follow_the_structure() -> None:
    assert train_size("Flat", make_index(DIM, "Flat")) == 0
    assert train_size("HNSW16", make_index(DIM, "HNSW16")) == 0
    assert train_size("IVF64,Flat", make_index(DIM, "IVF64,Flat")) == 39 * 64
    assert train_size("IVF8,PQ4", make_index(DIM, "IVF8,PQ4")) == 39 * 256
    assert train_size("SQ8", make_index(DIM, "SQ8")) == 1000
    store = FaissStore(DIM, "IVF8,Flat", use_gpu=False)
    assert store.pending_training and isinstance(faiss.downcast_index(store._index.index), faiss.IndexFlat)


def test_search_parameters_are_per_call_never_on_the_shared_index() -> None:
    store, vectors, _ = filled("IVF8,Flat")
    ivf = faiss.extract_index_ivf(store._index.index)
    before = ivf.nprobe
    s1, _ = store.search(vectors[:50], 10, params={"nprobe": 1})
    s8, _ = store.search(vectors[:50], 10, params={"nprobe": 8})
    assert ivf.nprobe == before
    assert (s8.sum(axis=1) >= s1.sum(axis=1) - 1e-5).all() and (s8 > s1 + 1e-6).any()
    with pytest.raises(ValueError, match="unknown search parameter"):
        store.search(vectors[:1], 1, params={"efsearch": 8})


def test_bad_factory_strings_are_named() -> None:
    with pytest.raises(ValueError, match="IVFx"):
        FaissStore(DIM, "IVFx,Flat")
    with pytest.raises(ValueError, match="IDMap"):
        FaissStore(DIM, "IDMap,Flat")
