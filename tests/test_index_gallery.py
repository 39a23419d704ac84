"""Gallery records: model guard, dedupe, near-duplicates, stored files, deletes, training, re-index."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from index import Gallery, ItemMeta, ModelMismatchError, pending, reindex, stored_model

DIM = 16


def image_bytes(i: int, fmt: str = "PNG") -> bytes:
    pixels = np.random.default_rng(i).integers(0, 256, (8, 4, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, fmt)
    return out.getvalue()


def seed_of(blob: bytes) -> int:
    return int(hashlib.sha256(blob).hexdigest()[:8], 16)


def unit(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def open_gallery(path: Path, model_id: str = "model-a", **kw: object) -> Gallery:
    return Gallery.open(path, model_id, DIM, use_gpu=False, background_rebuild=False, **kw)  # type: ignore[arg-type]


def test_model_guard_names_the_fix(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        g.add([image_bytes(0)], unit(0, 1), [ItemMeta()])
    assert stored_model(tmp_path) == ("model-a", DIM)
    with pytest.raises(ModelMismatchError, match="person-search reindex") as err:
        open_gallery(tmp_path, "model-b")
    assert err.value.stored_model_id == "model-a" and err.value.model_id == "model-b"
    with pytest.raises(ValueError, match="16-d"):
        Gallery.open(tmp_path, "model-a", 8)


def test_same_bytes_are_flagged_and_stored_once(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        first = g.add([image_bytes(1), image_bytes(2), image_bytes(1)], unit(1, 3), [ItemMeta()] * 3)
        assert [r.duplicate for r in first] == [False, False, True]
        assert first[2].id == first[0].id
        again = g.add([image_bytes(2), image_bytes(3)], unit(2, 2), [ItemMeta(), ItemMeta()])
        assert again[0].duplicate and again[0].id == first[1].id and not again[1].duplicate
        assert len(g) == 3 and g.find_sha256(first[0].sha256) == first[0].id
        assert g.find_sha256("0" * 64) is None
        assert len(list((tmp_path / "images").rglob("*.png"))) == 3


def test_near_duplicates_are_flagged_but_kept(tmp_path: Path) -> None:
    base = unit(3, 2)
    close = base[0] + 0.01 * unit(4, 1)[0]
    close /= np.linalg.norm(close)
    with open_gallery(tmp_path, near_duplicate_cosine=0.98) as g:
        stored = g.add([image_bytes(10), image_bytes(11)], base, [ItemMeta()] * 2)
        batch = np.stack([close, unit(5, 1)[0], unit(5, 1)[0] * 0.999 + 0.001 * base[1]])
        batch /= np.linalg.norm(batch, axis=1, keepdims=True)
        results = g.add([image_bytes(12), image_bytes(13), image_bytes(14)], batch, [ItemMeta()] * 3)
        assert results[0].near_duplicate_of == stored[0].id and not results[0].duplicate
        assert results[1].near_duplicate_of is None
        assert results[2].near_duplicate_of == results[1].id  # an earlier image of the same batch
        assert len(g) == 5


def test_files_keep_original_bytes_and_sniffed_extension(tmp_path: Path) -> None:
    jpeg, png = image_bytes(20, "JPEG"), image_bytes(21, "PNG")
    with open_gallery(tmp_path) as g:
        ids = [r.id for r in g.add([jpeg, png], unit(6, 2), [ItemMeta(), ItemMeta()])]
        paths = [g.image_file(i) for i in ids]
        assert [p.suffix for p in paths if p] == [".jpg", ".png"]
        assert [p.read_bytes() for p in paths if p] == [jpeg, png]
        assert all(p and p.is_relative_to(tmp_path.resolve()) for p in paths)
        assert g.image_file(999) is None
        for refused in (b"definitely not an image", image_bytes(24, "GIF"), image_bytes(25, "TIFF")):
            with pytest.raises(ValueError, match=r"not a supported image \(accepted: JPEG, PNG, WEBP, BMP\)"):
                g.add([refused], unit(7, 1), [ItemMeta()])
        with pytest.raises(ValueError, match="L2-normalised"):
            g.add([image_bytes(22)], 2 * unit(7, 1), [ItemMeta()])
        with pytest.raises(ValueError, match="JSON"):
            g.add([image_bytes(23)], unit(7, 1), [ItemMeta(extra={"when": datetime.now()})])
        assert len(g) == 2 and len(list((tmp_path / "images").rglob("*.*"))) == 2


def test_metadata_round_trips_and_lists(tmp_path: Path) -> None:
    local = timezone(timedelta(hours=2))
    metas = [
        ItemMeta("gate", datetime(2024, 1, 2, 3, 4, 5, tzinfo=local), "ext-1", {"a": 1, "b": [1, 2]}),
        ItemMeta("yard", datetime(2024, 1, 2, 3, 4, 5), None, {}),
        ItemMeta(None, None, None, {"c": None}),
    ]
    with open_gallery(tmp_path) as g:
        ids = [r.id for r in g.add([image_bytes(i) for i in range(30, 33)], unit(8, 3), metas)]
        assert [g.get(i).meta for i in ids] == metas  # type: ignore[union-attr]
        assert g.get(ids[0]).model_id == "model-a"  # type: ignore[union-attr]
        assert g.cameras() == ["gate", "yard"]
        assert [item.id for item in g.list(camera="yard")] == [ids[1]]
        assert [item.id for item in g.list(offset=1, limit=5)] == ids[1:]
        assert g.get(12345) is None


@pytest.mark.parametrize("factory", ["Flat", "HNSW16", "IVF8,Flat", "SQ8"])
def test_delete_removes_row_file_and_vector(tmp_path: Path, factory: str) -> None:
    vectors = unit(9, 1100)
    with open_gallery(tmp_path, factory=factory) as g:
        ids = [r.id for r in g.add([image_bytes(i) for i in range(1100)], vectors, [ItemMeta()] * 1100)]
        assert not g.exact or factory == "Flat"
        path = g.image_file(ids[0])
        assert g.delete(ids[0]) and not g.delete(ids[0])
        assert g.get(ids[0]) is None and path is not None and not path.exists()
        assert all(h.item.id != ids[0] for h in g.search(vectors[0], 10, params={"nprobe": 8}))
        for victim in ids[1:150]:  # past the tombstone share: HNSW and IVF get rebuilt
            g.delete(victim)
        assert len(g.index.store) == len(g) == 950
        assert not g.index.store.rebuild_advised()
        hits = g.search(vectors[500], 5, params={"nprobe": 8, "efSearch": 64})
        assert hits[0].item.id == ids[500] and all(h.item.id not in ids[:150] for h in hits)
    with open_gallery(tmp_path, factory=factory) as g:
        assert g.index.opened_from["source"] == "snapshot" and g.index.opened_from["replayed"] == 0
        assert sorted(g.index.store.ids().tolist()) == ids[150:]


def test_exact_until_enough_rows_to_train(tmp_path: Path) -> None:
    vectors = unit(10, 1100)
    with open_gallery(tmp_path, factory="IVF8,Flat") as g:
        g.add([image_bytes(i) for i in range(900)], vectors[:900], [ItemMeta()] * 900)
        assert g.exact and g.index.store.pending_training  # 900 < 1000 needed to train
        g.add([image_bytes(i) for i in range(900, 1100)], vectors[900:], [ItemMeta()] * 200)
        assert not g.exact and len(g.index.store) == 1100
        assert g.search(vectors[1050], 1, params={"nprobe": 8})[0].item.id == 1051


def test_background_rebuild_swaps_in_while_searches_continue(tmp_path: Path) -> None:
    vectors = unit(11, 1100)
    with Gallery.open(tmp_path, "model-a", DIM, factory="IVF8,Flat", use_gpu=False) as g:
        g.add([image_bytes(i) for i in range(1100)], vectors, [ItemMeta()] * 1100)
        assert g.search(vectors[3], 1)[0].item.id == 4  # served by the exact store meanwhile
        g.index.wait()
        assert not g.exact and g.search(vectors[3], 1, params={"nprobe": 8})[0].item.id == 4


def test_reindex_switches_model_and_resumes(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        g.add([image_bytes(i) for i in range(40, 50)], unit(12, 10), [ItemMeta()] * 10)
    calls: list[int] = []

    def encode(blobs: list[bytes]) -> np.ndarray:  # a stand-in "model": a vector derived from the bytes
        calls.append(len(blobs))
        if len(calls) == 2:
            raise KeyboardInterrupt  # interrupted half-way
        return np.stack([unit(seed_of(b), 1)[0] for b in blobs])

    with pytest.raises(KeyboardInterrupt):
        reindex(tmp_path, "model-b", DIM, encode, batch_size=4)
    assert stored_model(tmp_path) == ("model-a", DIM) and pending(tmp_path, "model-b") == 6
    done = reindex(tmp_path, "model-b", DIM, encode, batch_size=4)
    assert done == 6 and stored_model(tmp_path) == ("model-b", DIM) and pending(tmp_path, "model-b") == 0
    with pytest.raises(ModelMismatchError):
        open_gallery(tmp_path, "model-a")
    with open_gallery(tmp_path, "model-b") as g:
        assert g.index.opened_from["source"] == "rebuilt"  # the old snapshot was of model-a
        blob = g.image_file(3).read_bytes()  # type: ignore[union-attr]
        q = unit(seed_of(blob), 1)[0]
        assert g.search(q, 1)[0].item.id == 3 and g.get(3).model_id == "model-b"  # type: ignore[union-attr]
