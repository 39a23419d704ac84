"""Gallery search: exact search equals numpy brute force; filters return exactly the matching top k."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from bench.index_search import synthetic
from index import FaissStore, Gallery, ItemMeta, SearchFilters
from index.factories import filtered_params

DIM, N = 32, 600
START = datetime(2024, 5, 1, 8, 0, tzinfo=UTC)
COLOURS = ("red", "blue", "green")


def png(i: int) -> bytes:
    """Distinct tiny PNG bytes for item i."""
    pixels = np.random.default_rng(i).integers(0, 256, (6, 3, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def meta(i: int) -> ItemMeta:
    extra = {"colour": COLOURS[i % 3], "tall": i % 2 == 0, "height": 150 + i % 40}
    return ItemMeta(camera=f"cam{i % 5}", captured_at=START + timedelta(minutes=i), extra=extra)


def fill(directory: Path, factory: str, vectors: np.ndarray) -> Gallery:
    gallery = Gallery.open(
        directory, "model-a", DIM, factory=factory, use_gpu=False, background_rebuild=False
    )
    for s in range(0, len(vectors), 200):
        idx = range(s, min(s + 200, len(vectors)))
        gallery.add([png(i) for i in idx], vectors[s : idx.stop], [meta(i) for i in idx])
    return gallery


@pytest.fixture(scope="module")
def data() -> np.ndarray:
    return unit(np.random.default_rng(7), N)


@pytest.fixture(scope="module")
def flat(tmp_path_factory: pytest.TempPathFactory, data: np.ndarray) -> Iterator[Gallery]:
    gallery = fill(tmp_path_factory.mktemp("flat"), "Flat", data)
    yield gallery
    gallery.close()


def brute(vectors: np.ndarray, mask: np.ndarray, q: np.ndarray, k: int) -> tuple[list[int], np.ndarray]:
    """Ids (1-based, as SQLite assigns them here) and scores of the exact top k among masked rows."""
    rows = np.flatnonzero(mask)
    scores = vectors[rows] @ q
    order = np.argsort(-scores, kind="stable")[:k]
    return [int(r) + 1 for r in rows[order]], scores[order]


def test_exact_search_equals_numpy_brute_force(flat: Gallery, data: np.ndarray) -> None:
    queries = unit(np.random.default_rng(1), 20)
    for q in queries:
        hits = flat.search(q, 10)
        ids, scores = brute(data, np.ones(N, bool), q, 10)
        assert [h.item.id for h in hits] == ids
        np.testing.assert_allclose([h.score for h in hits], scores, atol=1e-5)
        assert [h.rank for h in hits] == list(range(1, 11))


CASES = {
    "cameras": (SearchFilters(cameras=frozenset({"cam1", "cam3"})), lambda i: i % 5 in (1, 3)),
    "captured range": (
        SearchFilters(
            captured_from=START + timedelta(minutes=100), captured_to=START + timedelta(minutes=180)
        ),
        lambda i: 100 <= i <= 180,
    ),
    "naive datetimes are UTC": (
        SearchFilters(captured_from=datetime(2024, 5, 1, 9, 0), captured_to=datetime(2024, 5, 1, 9, 30)),
        lambda i: 60 <= i <= 90,
    ),
    "metadata string": (SearchFilters(metadata={"colour": "red"}), lambda i: i % 3 == 0),
    "metadata bool and int": (
        SearchFilters(metadata={"tall": True, "height": 155}),
        lambda i: i % 40 == 5 and i % 2 == 0,
    ),
    "all together": (
        SearchFilters(
            cameras=frozenset({"cam0", "cam2"}),
            captured_to=START + timedelta(minutes=300),
            metadata={"colour": "blue"},
        ),
        lambda i: i % 5 in (0, 2) and i <= 300 and i % 3 == 1,
    ),
    "nothing matches": (SearchFilters(cameras=frozenset({"nowhere"})), lambda i: False),
}


@pytest.mark.parametrize("case", list(CASES))
def test_filtered_search_returns_exactly_the_matching_top_k(
    flat: Gallery, data: np.ndarray, case: str
) -> None:
    filters, keep = CASES[case]
    mask = np.array([keep(i) for i in range(N)])
    for q in unit(np.random.default_rng(2), 5):
        hits = flat.search(q, 10, filters=filters)
        ids, _ = brute(data, mask, q, 10)
        assert [h.item.id for h in hits] == ids
        assert len(hits) == min(10, int(mask.sum()))


def test_min_score_and_k_beyond_matches(flat: Gallery, data: np.ndarray) -> None:
    q = data[42]
    hits = flat.search(q, 50, min_score=0.3)
    assert hits[0].item.id == 43 and hits[0].score == pytest.approx(1.0, abs=1e-5)
    assert all(h.score >= 0.3 for h in hits)
    assert len(hits) == min(50, int((data @ q >= 0.3).sum()))
    few = flat.search(q, 10, filters=SearchFilters(metadata={"height": 151}))  # 15 rows have it
    assert len(few) == 10 and all(h.item.meta.extra["height"] == 151 for h in few)


def test_bad_queries_are_refused(flat: Gallery) -> None:
    with pytest.raises(ValueError, match="float32"):
        flat.search(np.ones(DIM + 1, np.float32), 5)
    with pytest.raises(ValueError, match="unknown search parameter"):
        flat.search(unit(np.random.default_rng(3), 1)[0], 5, params={"nprobes": 4})
    with pytest.raises(ValueError, match="metadata filter"):
        flat.search(unit(np.random.default_rng(3), 1)[0], 5, filters=SearchFilters(metadata={"a": [1]}))


@pytest.mark.parametrize("factory", ["HNSW16", "IVF16,Flat"])
def test_approximate_filtered_search_still_returns_k(tmp_path: Path, factory: str) -> None:
    """A rare filter starves HNSW/IVF candidates; the gallery still returns the exact filtered top k."""
    vectors = unit(np.random.default_rng(5), 1200)
    with fill(tmp_path, factory, vectors) as gallery:
        assert not gallery.exact  # enough rows to train: the approximate structure is in use
        rare = SearchFilters(metadata={"height": 177})  # 30 of 1200 rows
        mask = np.array([150 + i % 40 == 177 for i in range(1200)])
        for q in unit(np.random.default_rng(6), 5):
            hits = gallery.search(q, 10, filters=rare, params={"nprobe": 1, "efSearch": 16})
            assert [h.item.id for h in hits] == brute(vectors, mask, q, 10)[0]
        hits = gallery.search(vectors[10], 5, params={"nprobe": 16, "efSearch": 64})
        assert hits[0].item.id == 11
        gallery.exact_filtered_max = 0  # force the FAISS selector path for a common filter
        common = SearchFilters(cameras=frozenset({"cam2"}))
        mask = np.array([i % 5 == 2 for i in range(1200)])
        recall = []
        for q in unit(np.random.default_rng(9), 10):
            hits = gallery.search(q, 10, filters=common, params={"nprobe": 16, "efSearch": 64})
            assert len(hits) == 10 and all(h.item.meta.camera == "cam2" for h in hits)
            recall.append(len({h.item.id for h in hits} & set(brute(vectors, mask, q, 10)[0])) / 10)
        assert np.mean(recall) >= 0.9


def test_parallel_searches_while_adding(tmp_path: Path) -> None:
    """Searches from many threads run alongside additions and always see whole, consistent results."""
    from concurrent.futures import ThreadPoolExecutor

    vectors = unit(np.random.default_rng(8), 400)
    with fill(tmp_path, "Flat", vectors[:200]) as gallery:

        def searcher(seed: int) -> int:
            found = 0
            for q in unit(np.random.default_rng(seed), 40):
                hits = gallery.search(q, 5)
                assert len(hits) == 5 and all(h.item.id <= 400 for h in hits)
                found += len(hits)
            return found

        with ThreadPoolExecutor(4) as pool:
            futures = [pool.submit(searcher, s) for s in range(4)]
            for s in range(200, 400, 20):
                gallery.add(
                    [png(i) for i in range(s, s + 20)],
                    vectors[s : s + 20],
                    [meta(i) for i in range(s, s + 20)],
                )
            assert sum(f.result() for f in futures) == 4 * 40 * 5
        assert len(gallery) == 400
        assert gallery.search(vectors[399], 1)[0].item.id == 400


def test_filtered_hnsw_widens_its_beam_to_keep_recall() -> None:
    """A filter keeping 1/16 of the rows starves a 64-wide HNSW beam; widening by 16 restores recall."""
    n = 20_000
    vectors, queries = synthetic(n, 40, 64, seed=0)
    store = FaissStore(64, "HNSW32", use_gpu=False)
    store.add(np.arange(n, dtype=np.int64), vectors)
    allowed = np.arange(3, n, 16, dtype=np.int64)

    def recall(params: dict[str, int]) -> float:
        hits = 0
        for q in queries:
            truth = set(allowed[np.argsort(-(vectors[allowed] @ q))[:10]])
            hits += len(truth & set(store.search(q[None], 10, allowed, params)[1][0]))
        return hits / (10 * len(queries))

    widened = filtered_params({"efSearch": 64}, n, len(allowed))
    assert widened == {"efSearch": 1024} and filtered_params({}, n, n) == {}
    assert recall({"efSearch": 64}) < 0.9 <= 0.98 <= recall(widened)


def test_gallery_widens_filtered_searches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The gallery hands the store the widened parameters whenever a filter restricts the search."""
    vectors = unit(np.random.default_rng(3), 400)
    with fill(tmp_path, "HNSW16", vectors) as gallery:
        gallery.exact_filtered_max = 0  # force the FAISS selector path
        seen: list[dict[str, int] | None] = []
        search = gallery.index.store.search

        def spy(
            q: np.ndarray, k: int, allowed: np.ndarray | None = None, params: dict | None = None
        ) -> tuple:
            seen.append(params)
            return search(q, k, allowed, params)

        monkeypatch.setattr(gallery.index.store, "search", spy)
        gallery.search(vectors[0], 5, SearchFilters(cameras=frozenset({"cam1"})), params={"efSearch": 32})
        gallery.search(vectors[0], 5, params={"efSearch": 32})
        assert seen == [{"efSearch": 160}, {"efSearch": 32}]  # cam1 holds 1/5 of the rows
