"""The search-during-ingest benchmark at a tiny size: both orderings run, and every figure is there."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import index_ingest_search
from bench.index_search import synthetic
from index import ItemMeta


@pytest.mark.slow
def test_both_orderings_ingest_everything_while_searches_are_timed(tmp_path: Path) -> None:
    out = index_ingest_search.run(size=300, batches=3, batch=16, repeats=1, workdir=str(tmp_path))
    search = out["search"]
    assert set(search) == {"idle", "files first", "files under lock"}
    for name, stats in search.items():
        assert stats["searches"] >= 1 and 0 <= stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"], name
    for name in ("files first", "files under lock"):
        rates = search[name]["ingest_images_per_s"]
        assert rates["searched"] > 0 and rates["alone"] > 0
    assert out["p99_under_lock_over_files_first"] > 0 and len(out["load_average"]["end"]) == 3
    assert not list(tmp_path.iterdir())  # the galleries went with the run


def test_the_old_ordering_stores_what_the_gallery_stores(tmp_path: Path) -> None:
    items = index_ingest_search.crops(6, seed=3), synthetic(6, 0, 512, seed=4)[0]
    rows = []
    for name, cls in index_ingest_search.MODES.items():
        with cls.open(tmp_path / name, "m", 512, use_gpu=False) as gallery:
            blobs, vectors = items
            results = gallery.add(blobs[:4] + blobs[:1], vectors[:5], [ItemMeta()] * 5)
            results += gallery.add(blobs[3:], vectors[3:], [ItemMeta()] * 3)
            files = sorted(p.name for p in (tmp_path / name / "images").rglob("*.jpg"))
            rows.append(([(r.id, r.sha256, r.duplicate) for r in results], files, len(gallery)))
    assert rows[0] == rows[1] and rows[0][2] == 6
