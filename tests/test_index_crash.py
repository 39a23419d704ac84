"""Crash safety: SIGKILL at random points loses no acknowledged item; bad snapshots are rebuilt."""

from __future__ import annotations

import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from index import Gallery, ItemMeta
from index.gallery import DB_FILE
from index.keeper import SNAPSHOT_FILE
from index.snapshot import read_snapshot

DIM = 16

# The child ingests keys start, start+1, ... forever, printing what it tries and what was acknowledged.
CHILD = r"""
import hashlib, io, sys
from pathlib import Path
import numpy as np
from PIL import Image
from index import Gallery, ItemMeta

def blob(key):
    pixels = np.random.default_rng(int(hashlib.sha256(key.encode()).hexdigest()[:8], 16))
    out = io.BytesIO()
    Image.fromarray(pixels.integers(0, 256, (6, 3, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()

def vector(key):
    v = np.random.default_rng(int(hashlib.md5(key.encode()).hexdigest()[:8], 16)).standard_normal(16)
    return (v / np.linalg.norm(v)).astype(np.float32)

data, start, factory, seed = Path(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
rng = np.random.default_rng(seed)
gallery = Gallery.open(data, "crash-model", 16, factory=factory, use_gpu=False, background_rebuild=False)
print("OPEN", flush=True)
acked, i = [], start
while True:
    keys = [f"k{j}" for j in range(i, i + int(rng.integers(1, 6)))]
    i += len(keys)
    print("TRY", i, flush=True)
    results = gallery.add([blob(k) for k in keys], np.stack([vector(k) for k in keys]),
                          [ItemMeta(extra={"key": k}) for k in keys])
    print("ADD", " ".join(f"{r.id}:{k}" for r, k in zip(results, keys)), flush=True)
    acked += [r.id for r in results]
    if rng.random() < 0.25 and acked:
        victim = acked.pop(int(rng.integers(len(acked))))
        print("DELETING", victim, flush=True)
        gallery.delete(victim)
        print("DELETED", victim, flush=True)
    if rng.random() < 0.15:
        gallery.snapshot()
"""


def run_child(data: Path, start: int, factory: str, seed: int, kill_after: float) -> list[str]:
    """Start the child, SIGKILL it `kill_after` seconds after it opened the gallery; its complete lines."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(start), factory, str(seed)],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines: list[str] = []
    opened = threading.Event()

    def read() -> None:
        assert child.stdout is not None
        for line in child.stdout:
            if line.endswith("\n"):
                lines.append(line.strip())
                if line.startswith("OPEN"):
                    opened.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert opened.wait(60), "child never opened the gallery"
    time.sleep(kill_after)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    reader.join()
    return lines


def check(data: Path, factory: str, acked: dict[int, str], deleted: set[int], maybe: set[int]) -> None:
    """Every acknowledged item is there once, deleted ones are gone, and FAISS holds exactly the rows."""
    with Gallery.open(
        data, "crash-model", DIM, factory=factory, use_gpu=False, background_rebuild=False
    ) as g:
        for item_id, key in acked.items():
            item = g.get(item_id)
            if item_id in deleted:
                assert item is None, f"deleted item {item_id} came back"
            elif item_id not in maybe:
                assert item is not None and item.meta.extra["key"] == key, f"acknowledged {item_id} lost"
        rows = g.records.ids()
        assert sorted(g.index.store.ids().tolist()) == rows.tolist()
        paths = g.records.image_paths()
        assert all((data / p).is_file() for p in paths), "a row without its image file"
        on_disk = {p.relative_to(data).as_posix() for p in (data / "images").rglob("*") if p.is_file()}
        assert on_disk == paths, f"files no row references outlived the open: {sorted(on_disk - paths)}"
        assert len(g) == len(rows)
        for _, vectors in g.records.embeddings(DIM, rows[-3:]):
            assert [g.search(v, 1)[0].item.id for v in vectors] == rows[-3:].tolist()
    with sqlite3.connect(data / DB_FILE) as conn:
        twice = conn.execute(
            "SELECT json_extract(extra, '$.key'), COUNT(*) FROM items GROUP BY 1 HAVING COUNT(*) > 1"
        ).fetchall()
    assert twice == [], f"stored twice: {twice}"


@pytest.mark.slow
@pytest.mark.parametrize("factory", ["Flat", "HNSW16"])
def test_sigkill_at_random_points_loses_nothing_acknowledged(tmp_path: Path, factory: str) -> None:
    rnd = random.Random(factory)
    acked: dict[int, str] = {}
    deleted: set[int] = set()
    tried = 0
    for round_no in range(6):
        start = max(0, tried - 4)  # re-send the last keys: those maybe stored but never acknowledged
        lines = run_child(tmp_path, start, factory, round_no, rnd.uniform(0.05, 0.6))
        maybe: set[int] = set()
        for line in lines:
            word, _, rest = line.partition(" ")
            if word == "TRY":
                tried = max(tried, int(rest))
            elif word == "ADD":
                acked.update((int(i), k) for i, k in (pair.split(":") for pair in rest.split()))
            elif word == "DELETING":
                maybe.add(int(rest))
            elif word == "DELETED":
                deleted.add(int(rest))
        check(tmp_path, factory, acked, deleted, maybe - deleted)
        deleted |= {i for i in maybe if i not in deleted and not _exists(tmp_path, i)}
    assert len(acked) > 10  # the rounds did real work


def _exists(data: Path, item_id: int) -> bool:
    with sqlite3.connect(data / DB_FILE) as conn:
        return conn.execute("SELECT 1 FROM items WHERE id = ?", (item_id,)).fetchone() is not None


def unit(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def blob(tag: str) -> bytes:
    """Distinct bytes Pillow sniffs as PNG: one tiny image with a tag after its end chunk."""
    out = io.BytesIO()
    Image.new("RGB", (2, 2)).save(out, "PNG")
    return out.getvalue() + tag.encode()


def filled(path: Path, n: int = 60) -> np.ndarray:
    vectors = unit(0, n)
    with Gallery.open(path, "model-a", DIM, use_gpu=False) as g:
        g.add([blob(f"P{i}") for i in range(n)], vectors, [ItemMeta()] * n)
    return vectors


def corrupt(path: Path, how: str) -> None:
    data = bytearray(path.read_bytes())
    if how == "truncated":
        path.write_bytes(bytes(data[: len(data) // 2]))
    elif how == "flipped payload byte":
        data[len(data) // 3] ^= 0xFF
        path.write_bytes(bytes(data))
    elif how == "flipped footer byte":
        data[-30] ^= 0x01
        path.write_bytes(bytes(data))
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "garbage":
        path.write_bytes(os.urandom(4096))


@pytest.mark.parametrize(
    "how", ["truncated", "flipped payload byte", "flipped footer byte", "empty", "garbage"]
)
def test_corrupt_or_truncated_snapshots_are_detected_and_rebuilt(tmp_path: Path, how: str) -> None:
    vectors = filled(tmp_path)
    snapshot = tmp_path / SNAPSHOT_FILE
    corrupt(snapshot, how)
    with Gallery.open(tmp_path, "model-a", DIM, use_gpu=False) as g:
        assert g.index.opened_from["source"] == "rebuilt"
        assert [g.search(v, 1)[0].item.id for v in vectors[:5]] == [1, 2, 3, 4, 5]
    index, footer = read_snapshot(snapshot)  # rewritten whole
    assert index.ntotal == 60 and footer["count"] == 60 and footer["model_id"] == "model-a"
    with Gallery.open(tmp_path, "model-a", DIM, use_gpu=False) as g:
        assert g.index.opened_from == {"source": "snapshot", "replayed": 0, "dropped": 0}


def test_snapshot_of_another_structure_is_rebuilt(tmp_path: Path) -> None:
    filled(tmp_path)
    with Gallery.open(tmp_path, "model-a", DIM, factory="HNSW16", use_gpu=False) as g:
        assert g.index.opened_from["source"] == "rebuilt" and len(g.index.store) == 60


def test_stale_snapshot_is_brought_up_to_date(tmp_path: Path) -> None:
    vectors = filled(tmp_path)
    with Gallery.open(tmp_path, "model-a", DIM, use_gpu=False) as g:
        g.snapshot()
        extra = unit(1, 5)
        g.add([blob(f"Q{i}") for i in range(5)], extra, [ItemMeta()] * 5)
        g.delete(1)
        g.delete(2)
        with Gallery.open(tmp_path, "model-a", DIM, use_gpu=False) as other:  # as after a crash
            assert other.index.opened_from == {"source": "snapshot", "replayed": 5, "dropped": 2}
            assert other.search(extra[4], 1)[0].item.id == 65
            assert all(h.item.id not in (1, 2) for h in other.search(vectors[0], 5))
