"""Additions write their files outside the lock: searches go on meanwhile; races with deletions or
crashes leave no row without its file and no file without its row after the next open; near duplicates
committed meanwhile are still found."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from index import Gallery, ItemMeta
from index.fsio import write_atomic

DIM = 16


def unit(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def blob(i: int) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.random.default_rng(i).integers(0, 256, (8, 4, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def open_gallery(path: Path) -> Gallery:
    return Gallery.open(path, "model-a", DIM, use_gpu=False, background_rebuild=False)


class SlowDisk:
    """A file writer that writes for real, then holds its first call until `release` is set."""

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        self._first = threading.Lock()

    def __call__(self, path: Path, data: bytes) -> None:
        write_atomic(path, data)
        if self._first.acquire(blocking=False):
            self.entered.set()
            assert self.release.wait(30), "the test never released the writer"


def test_searches_complete_while_an_addition_writes_its_files(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g, ThreadPoolExecutor(2) as pool:
        g.add([blob(i) for i in range(3)], unit(0, 3), [ItemMeta()] * 3)
        slow = g.images.write_file = SlowDisk()
        vector = unit(1, 1)
        adding = pool.submit(g.add, [blob(99)], vector, [ItemMeta()])
        assert slow.entered.wait(10)
        hits = pool.submit(g.search, vector[0], 5).result(timeout=10)  # a held lock would time out here
        assert sorted(h.item.id for h in hits) == [1, 2, 3] and len(g) == 3  # nothing half-added shows
        assert not adding.done()
        slow.release.set()
        added = adding.result(timeout=10)[0]
        assert g.search(vector[0], 1)[0].item.id == added.id == 4 and not added.duplicate


@pytest.mark.parametrize("race", ["stored, then deleted meanwhile", "written, stored and deleted meanwhile"])
def test_a_deletion_racing_an_addition_leaves_the_file_of_the_row(tmp_path: Path, race: str) -> None:
    same = blob(7)
    with open_gallery(tmp_path) as g, ThreadPoolExecutor(1) as pool:
        g.add([blob(1)], unit(1, 1), [ItemMeta()])
        if race.startswith("stored"):
            victim = g.add([same], unit(2, 1), [ItemMeta()])[0].id
            slow = g.images.write_file = SlowDisk()
            adding = pool.submit(g.add, [blob(8), same], unit(3, 2), [ItemMeta()] * 2)  # blocks on blob(8)
            assert slow.entered.wait(10)
        else:
            slow = g.images.write_file = SlowDisk()
            adding = pool.submit(g.add, [same], unit(3, 1), [ItemMeta()])  # its file written, then blocked
            assert slow.entered.wait(10)
            victim = g.add([same], unit(2, 1), [ItemMeta()])[0].id  # finds the file whole, commits the row
        assert g.delete(victim)  # removes the file the blocked addition counted on
        slow.release.set()
        result = adding.result(timeout=10)[-1]
        assert not result.duplicate and result.id != victim
        path = g.image_file(result.id)
        assert path is not None and path.read_bytes() == same
        assert g.search(unit(3, 2 if race.startswith("stored") else 1)[-1], 1)[0].item.id == result.id


def test_an_open_alone_sweeps_files_no_row_references(tmp_path: Path) -> None:
    with open_gallery(tmp_path) as g:
        kept = g.add([blob(1)], unit(1, 1), [ItemMeta()])[0].id
        g.images.write([("images/ab/" + "ab" * 32 + ".png", blob(2))])  # as a crash before the commit leaves
        orphan = tmp_path / "images" / "ab" / ("ab" * 32 + ".png")
        partial = orphan.with_name(f".{orphan.name}.1.2.tmp")
        partial.write_bytes(b"half a file")
        with open_gallery(tmp_path):  # another handle is open, so it may be between files and commit
            assert orphan.is_file() and partial.is_file()
    with open_gallery(tmp_path) as g:
        assert not orphan.exists() and not partial.exists()
        path = g.image_file(kept)
        assert path is not None and path.read_bytes() == blob(1)


class PausingGallery(Gallery):
    """Waits between finding near duplicates (read lock) and taking the write lock, for the test."""

    found, resume = threading.Event(), threading.Event()

    def _near_duplicates_unlocked(self, vectors: np.ndarray) -> tuple[list[Any], int]:
        found = super()._near_duplicates_unlocked(vectors)
        if threading.current_thread().name.startswith("paused"):
            self.found.set()
            assert self.resume.wait(30)
        return found


def test_near_duplicates_committed_meanwhile_are_found_under_the_lock(tmp_path: Path) -> None:
    x = unit(1, 1)
    near_x = x + 0.01 * unit(2, 1)
    near_x /= np.linalg.norm(near_x)
    with (
        PausingGallery.open(tmp_path, "model-a", DIM, use_gpu=False, near_duplicate_cosine=0.98) as g,
        ThreadPoolExecutor(1, thread_name_prefix="paused") as pool,
    ):
        adding = pool.submit(g.add, [blob(1)], x, [ItemMeta()])
        assert g.found.wait(10)  # it found no neighbour: the gallery is empty
        other = g.add([blob(2)], near_x, [ItemMeta()])[0]
        g.resume.set()
        assert adding.result(timeout=10)[0].near_duplicate_of == other.id
