"""Erasure on a real gallery (SQLite, FAISS) replicating to a real Milvus Lite hub: the preview lists
exactly what the erasure removes, a changed set or a hold refuses it, the receipt is durable, and the
hub forgets the erased items."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from privacy_helpers import (
    DIM,
    MODEL,
    add,
    ago,
    drain,
    files_on_disk,
    hub,
    open_gallery,
    outbox_deletes,
    unit,
)

from index import Gallery
from index.erasure import PreviewNotFoundError, Selector, TooManyMatchesError, erase, holding, preview
from index.errors import HeldError, SetChangedError, UnknownIdsError
from index.fleet.lite_server import LiteServer
from index.holds import Holds
from index.keeper import SNAPSHOT_FILE
from index.receipts import ReceiptStore

SITE = "erasure-site"


def near(base: np.ndarray, seed: int, spread: float = 0.15) -> np.ndarray:
    """A unit vector close to `base` (cosine about 0.9 and up for the default spread)."""
    x = base + spread * unit(seed)[0]
    return (x / np.linalg.norm(x)).astype(np.float32)


def person(g: Gallery, base: np.ndarray, n: int, seed: int) -> list[int]:
    """n crops of one look-alike person: vectors near `base`."""
    return [add(g, "gate", ago(60), vector=near(base, seed + i)) for i in range(n)]


def test_erasure_by_example_removes_what_the_preview_listed_here_and_on_the_hub(
    tmp_path: Path, milvus: LiteServer
) -> None:
    base = unit(1)[0]
    with open_gallery(tmp_path, site=SITE) as g:
        alike = person(g, base, 5, 100)
        others = [add(g, "gate", ago(60), vector=unit(200 + i)[0]) for i in range(20)]
        drain(g, milvus.uri, SITE)
        assert set(hub(milvus.uri).site_ids(SITE).tolist()) == set(alike + others)
        store = ReceiptStore(g.records)
        scores = {i: float(g.vector(i) @ base) for i in alike + others}  # type: ignore[operator]
        assert min(scores[i] for i in alike) > 0.8 > max(scores[i] for i in others)

        stored, matches = preview(g, store, Selector(query=base, min_score=0.8), cap=100, ttl_s=60)
        assert [m.item.id for m in matches] == sorted(alike)
        assert all(m.score == pytest.approx(scores[m.item.id], abs=1e-5) for m in matches)
        assert len(g) == 25  # a preview removes nothing

        receipt = erase(g, store, stored.token, "key:abc", cap=100)
        assert [i for i, _ in receipt.items] == sorted(alike) and receipt.digest == stored.digest
        assert dict(receipt.items) == {m.item.id: m.item.sha256 for m in matches}
        assert {i.id for i in g.list(0, 100)} == set(others)
        assert not {h.item.id for h in g.search(base, 25)} & set(alike)
        assert files_on_disk(tmp_path) == g.records.image_paths() and outbox_deletes(g) == set(alike)
        with pytest.raises(PreviewNotFoundError, match="token"):
            erase(g, store, stored.token, "key:abc", cap=100)  # a token erases once
        drain(g, milvus.uri, SITE)
    central = hub(milvus.uri)
    assert set(central.site_ids(SITE).tolist()) == set(others)
    assert not {h.global_id for h in central.search(base, 10)} & {f"{SITE}:{i}" for i in alike}
    with open_gallery(tmp_path) as g:  # the receipt outlives the process
        kept = ReceiptStore(g.records).receipt(receipt.id)
    assert kept == receipt and kept.erased_by == "key:abc"


def test_a_changed_set_refuses_the_erasure(tmp_path: Path) -> None:
    base = unit(2)[0]
    with open_gallery(tmp_path) as g:
        store = ReceiptStore(g.records)
        alike = person(g, base, 3, 300)
        stored, _ = preview(g, store, Selector(query=base, min_score=0.8), cap=100, ttl_s=60)
        newcomer = person(g, base, 1, 400)[0]  # someone else like the example arrives
        with pytest.raises(SetChangedError) as changed:
            erase(g, store, stored.token, "anonymous", cap=100)
        assert changed.value.added == [newcomer] and changed.value.gone == [] and len(g) == 4

        stored, _ = preview(g, store, Selector(items=(alike[0], newcomer)), cap=100, ttl_s=60)
        g.delete(newcomer)
        with pytest.raises(SetChangedError, match=f"gone or changed: \\[{newcomer}\\]"):
            erase(g, store, stored.token, "anonymous", cap=100)
        assert g.get(alike[0]) is not None


def test_held_items_are_not_erased_until_the_hold_is_released(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        store, holds = ReceiptStore(g.records), Holds(g.records)
        crops = [add(g, "hall", ago(60), track="hall|1") for _ in range(3)]
        loose = add(g)
        track = g.track_id("hall|1")
        assert track is not None
        hold = holds.place([], [track], "case 9", "key:abc")
        stored, matches = preview(g, store, Selector(items=(loose,), tracks=(track,)), cap=100, ttl_s=60)
        assert [m.item.id for m in matches] == sorted([*crops, loose])
        assert holding(g, matches) == {hold.id: sorted(crops)}
        with pytest.raises(HeldError, match=f"hold {hold.id} covers items") as refused:
            erase(g, store, stored.token, "anonymous", cap=100)
        assert refused.value.holds == {hold.id: sorted(crops)} and len(g) == 4  # nothing went
        holds.release(hold.id, "key:abc")
        receipt = erase(g, store, stored.token, "anonymous", cap=100)  # the same preview, now allowed
        assert len(receipt.items) == 4 and len(g) == 0 and g.track_id("hall|1") is None


def test_bad_selections_are_refused_by_name(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        store = ReceiptStore(g.records)
        item = add(g)
        with pytest.raises(UnknownIdsError, match="items: no such item \\[999\\]"):
            preview(g, store, Selector(items=(item, 999)), cap=100, ttl_s=60)
        with pytest.raises(UnknownIdsError, match="tracks"):
            preview(g, store, Selector(tracks=(5,)), cap=100, ttl_s=60)
        for _ in range(3):
            add(g)
        with pytest.raises(TooManyMatchesError, match="4 items match"):
            preview(g, store, Selector(query=unit(9)[0], min_score=-1.0), cap=3, ttl_s=60)
        with pytest.raises(ValueError, match="needs items, tracks or an example"):
            Selector()
        with pytest.raises(ValueError, match="min_score"):
            Selector(query=unit(9)[0])
        nobody, matches = preview(g, store, Selector(query=-g.vector(item), min_score=0.99), cap=3, ttl_s=60)  # type: ignore[operator]
        assert (nobody.token, matches) == ("", [])
        assert g.records.conn().execute("SELECT COUNT(*) FROM erasure_previews").fetchone() == (0,)
        expired, _ = preview(g, store, Selector(items=(item,)), cap=100, ttl_s=1e-6)
        with pytest.raises(PreviewNotFoundError):
            erase(g, store, expired.token, "anonymous", cap=100)
        assert len(g) == 4


@pytest.mark.parametrize("factory", ["Flat", "HNSW16"])
def test_an_erasure_leaves_no_copy_of_the_vectors_on_disk(tmp_path: Path, factory: str) -> None:
    def on_disk(blob: bytes) -> list[str]:
        files = [tmp_path / "gallery.sqlite3", tmp_path / "gallery.sqlite3-wal", tmp_path / SNAPSHOT_FILE]
        return [f.name for f in files if f.is_file() and blob in f.read_bytes()]

    with Gallery.open(tmp_path, MODEL, DIM, factory=factory, use_gpu=False) as g:
        gone, kept = add(g), add(g)
        for _ in range(30):  # enough rows that one tombstone triggers no rebuild of its own
            add(g)
        g.snapshot()
        blobs = {i: g.vector(i).astype("<f4").tobytes() for i in (gone, kept)}  # type: ignore[union-attr]
        assert on_disk(blobs[gone]) and "index.snapshot" in on_disk(blobs[gone])  # the test can fail
        store = ReceiptStore(g.records)
        stored, _ = preview(g, store, Selector(items=(gone,)), cap=10, ttl_s=60)
        erase(g, store, stored.token, "anonymous", cap=10)
        g.index.wait()
        assert on_disk(blobs[gone]) == [] and "index.snapshot" in on_disk(blobs[kept])
        assert gone not in {h.item.id for h in g.search(np.frombuffer(blobs[gone], "<f4"), 40)}
