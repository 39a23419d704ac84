"""Index settings reach the gallery as explicit arguments: search parameters, the filtered widening cap,
and the GPU copy's temp memory (on a FAKE FAISS GPU, since this FAISS build has none)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes import fake_faiss_gpu

from index import ItemMeta, SearchFilters
from index.factories import DEFAULT_EF_SEARCH, MAX_FILTERED_EF
from index.gpu import TEMP_MEMORY_MB
from service.fleet import open_gallery
from service.settings import Settings

DIM = 16


def unit(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def blobs(n: int) -> list[bytes]:
    """Distinct bytes the gallery takes as PNG (a PNG signature and a counter)."""
    return [b"\x89PNG\r\n\x1a\n" + i.to_bytes(4, "big") for i in range(n)]


def spy_on_store(gallery: Any, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, int] | None]:
    """Record the parameters every store search gets."""
    seen: list[dict[str, int] | None] = []
    search = gallery.index.store.search

    def spy(q: np.ndarray, k: int, allowed: Any = None, params: Any = None) -> Any:
        seen.append(params)
        return search(q, k, allowed, params)

    monkeypatch.setattr(gallery.index.store, "search", spy)
    return seen


def test_defaults_are_the_index_defaults() -> None:
    index = Settings().index
    assert index.hnsw_ef_search == DEFAULT_EF_SEARCH and index.hnsw_filtered_ef_max == MAX_FILTERED_EF
    assert index.ivf_nprobe is None and index.gpu_temp_memory_mb == TEMP_MEMORY_MB


def test_environment_sets_hnsw_search_and_its_filtered_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PERSON_SEARCH_INDEX__HNSW_EF_SEARCH", "40")
    monkeypatch.setenv("PERSON_SEARCH_INDEX__HNSW_FILTERED_EF_MAX", "150")
    monkeypatch.setenv("PERSON_SEARCH_INDEX__IVF_NPROBE", "12")
    settings = Settings(index={"data_dir": tmp_path, "factory": "HNSW16", "use_gpu": False})
    vectors = unit(0, 400)
    with open_gallery(settings, "model-a", DIM) as gallery:
        gallery.add(blobs(400), vectors, [ItemMeta(camera=f"cam{i % 5}") for i in range(400)])
        gallery.exact_filtered_max = 0  # force the HNSW selector path for the filtered search
        seen = spy_on_store(gallery, monkeypatch)
        gallery.search(vectors[0], 5)
        gallery.search(vectors[0], 5, SearchFilters(cameras=frozenset({"cam1"})))
    # cam1 holds 1/5 of the rows: 40 widens to 200, capped at 150
    assert seen == [{"efSearch": 40, "nprobe": 12}, {"efSearch": 150, "nprobe": 12}]


def test_ivf_nprobe_reaches_the_structure(tmp_path: Path) -> None:
    vectors = unit(1, 1000)  # IVF4 trains on 1,000
    exact = [set(np.argsort(-(vectors @ q))[:10] + 1) for q in vectors[:30]]
    for nprobe in (None, 1):
        index = {"data_dir": tmp_path / str(nprobe), "factory": "IVF4,Flat", "use_gpu": False}
        settings = Settings(index={**index, "ivf_nprobe": nprobe})
        with open_gallery(settings, "model-a", DIM) as gallery:
            gallery.add(blobs(1000), vectors, [ItemMeta()] * 1000)
            gallery.index.wait()  # the background build that trains the IVF
            assert not gallery.exact
            found = [{h.item.id for h in gallery.search(q, 10)} for q in vectors[:30]]
        # unset probes max(16, 1/8) of the 4 lists: all, so exact; one list misses some neighbours
        assert (found == exact) == (nprobe is None), nprobe


def test_gpu_copy_gets_the_configured_temp_memory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    resources = fake_faiss_gpu.install(monkeypatch)
    settings = Settings(index={"data_dir": tmp_path, "use_gpu": True, "gpu_temp_memory_mb": 64})
    vectors = unit(2, 30)
    with open_gallery(settings, "model-a", DIM) as gallery:
        assert gallery.index.store.device == "gpu"
        gallery.add(blobs(20), vectors[:20], [ItemMeta()] * 20)
        assert gallery.search(vectors[7], 1)[0].item.id == 8  # the copy is made and searched
        gallery.add(blobs(30)[20:], vectors[20:], [ItemMeta()] * 10)  # mirrored into the copy
        assert gallery.search(vectors[25], 1)[0].item.id == 26
        assert gallery.delete(26) and gallery.search(vectors[25], 1)[0].item.id != 26  # copy re-made
    assert resources.made and all(r.temp_memory == [64 * 2**20] for r in resources.made)
    assert sum(r.copies for r in resources.made) == 2


def test_gpu_temp_memory_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="gpu_temp_memory_mb"):
        Settings(index={"gpu_temp_memory_mb": -1})
