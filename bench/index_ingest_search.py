"""Search latency while the gallery ingests: image files fsynced before the write lock vs under it.

A real gallery in a temporary directory (real files, real fsyncs, SQLite synchronous=FULL) is filled
with `size` items; then, per run, a copy of it takes `batches` batches of `batch` JPEG crops back to back
in one thread while another searches it (Flat, top 10) on a fixed schedule. `files first` is
`Gallery.add` as it is; `files under lock` is the ordering it replaced (`LockedWritesGallery` below,
kept only here so both run side by side); `idle` searches with no ingest. Each ordering also ingests
once with no searches, for its rate alone. Runs interleave over repeats; `python -m
bench.index_ingest_search` prints the JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import faiss
import numpy as np
from PIL import Image

from bench.index_search import synthetic
from bench.machine import describe, load_average
from index import AddResult, Gallery, ItemMeta
from index.additions import add_results, unstored, write_files

MODEL_ID, DIM = "bench-ingest-search", 512


class LockedWritesGallery(Gallery):
    """The ordering before files moved out of the lock: write and fsync them while holding it."""

    def add(
        self,
        images: Sequence[bytes],
        embeddings: np.ndarray,
        metas: Sequence[ItemMeta],
        frames: Sequence[bytes | None] | None = None,
    ) -> list[AddResult]:
        vectors = self._vectors(embeddings, len(images))
        shas = [hashlib.sha256(data).hexdigest() for data in images]
        with self.index.lock.gen_wlock():
            existing, new = unstored(self.records, shas)
            paths: dict[int, str] = {}
            write_files(self.images, images, shas, metas, new, paths)
            near = self._near_duplicates(vectors[new])
            rows = [(shas[i], paths[i], metas[i], None) for i in new]  # the bench adds no evidence frames
            ids = self.records.insert(rows, vectors[new], self.model_id)
            self.index.store.add(np.array(ids, np.int64), vectors[new])
            self._count += len(ids)
            self.index.version += 1
        self._changed()
        self.index.maybe_rebuild(self._count, self.background_rebuild)
        return add_results(shas, existing, new, ids, near)


MODES: dict[str, type[Gallery]] = {"files first": Gallery, "files under lock": LockedWritesGallery}


def crops(n: int, seed: int) -> list[bytes]:
    """n distinct person-crop-sized JPEGs (128x48, blocky random patterns, a few KB each)."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        blocks = rng.integers(0, 256, (16, 6, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(np.kron(blocks, np.ones((8, 8, 1), np.uint8))).save(buffer, "JPEG", quality=90)
        out.append(buffer.getvalue())
    return out


def fill(directory: Path, size: int, batch: int) -> None:
    """The starting gallery every run copies."""
    vectors, _ = synthetic(size, 0, DIM, seed=1)
    with Gallery.open(directory, MODEL_ID, DIM, use_gpu=False, background_rebuild=False) as gallery:
        for s in range(0, size, batch):
            part = crops(min(batch, size - s), seed=10_000 + s)
            gallery.add(part, vectors[s : s + len(part)], [ItemMeta()] * len(part))


def percentiles(ms: list[float]) -> dict[str, float]:
    """p50/p90/p99/max of latencies in milliseconds."""
    a = np.asarray(ms)
    return {
        "searches": len(ms),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p90_ms": round(float(np.percentile(a, 90)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
        "max_ms": round(float(a.max()), 3),
    }


@dataclass(frozen=True)
class Load:
    """What one run does: searches every `interval` s (0: none), for `idle_s` when nothing is added."""

    queries: np.ndarray
    interval: float
    omp_threads: int
    idle_s: float = 0.0


def one_run(
    gallery: Gallery, load: Load, items: tuple[list[bytes], np.ndarray] | None, batch: int
) -> tuple[list[float], float]:
    """Search on schedule while `items` are added in batches (or for idle_s) -> latencies ms, images/s.

    Open loop: each search's latency counts from when it was due, so a search held up behind the write
    lock also delays the ones due meanwhile, as it would delay requests arriving then.
    """
    done, latencies, rate = threading.Event(), [], 0.0

    def search() -> None:
        faiss.omp_set_num_threads(load.omp_threads)  # OpenMP's setting is per calling thread
        t0, q = time.perf_counter(), 0
        while q == 0 or not done.is_set():  # at least one search, however short the run
            due = t0 + q * load.interval
            time.sleep(max(0.0, due - time.perf_counter()))
            gallery.search(load.queries[q % len(load.queries)], 10)
            latencies.append(1000 * (time.perf_counter() - due))
            q += 1

    searcher = threading.Thread(target=search)
    if load.interval > 0:
        searcher.start()
    start = time.perf_counter()
    if items is None:
        time.sleep(load.idle_s)
    else:
        blobs, vectors = items
        for s in range(0, len(blobs), batch):
            part = blobs[s : s + batch]
            gallery.add(part, vectors[s : s + batch], [ItemMeta()] * len(part))
        rate = len(blobs) / (time.perf_counter() - start)
    done.set()
    if searcher.is_alive():
        searcher.join()
    return latencies, rate


def ingest_run(
    cls: type[Gallery], root: Path, load: Load, items: tuple[list[bytes], np.ndarray], batch: int
) -> tuple[list[float], float]:
    """One ingest into a fresh copy of the base gallery -> search latencies, images/s."""
    shutil.copytree(root / "base", root / "run")
    os.sync()  # the copy's dirty pages would otherwise be flushed by the run's first fsyncs
    try:
        with cls.open(root / "run", MODEL_ID, DIM, use_gpu=False, background_rebuild=False) as gallery:
            return one_run(gallery, load, items, batch)
    finally:
        shutil.rmtree(root / "run")


def run(
    size: int = 5_000,
    batches: int = 30,
    batch: int = 32,
    repeats: int = 3,
    searches_per_s: float = 200.0,
    omp_threads: int = 1,
    workdir: str | None = None,
) -> dict[str, Any]:
    """Search p50/p99 during ingest for both orderings and idle, and ingest rates with and without the
    searches, pooled over interleaved repeats.

    FAISS runs one OpenMP thread by default: one query at a time gains nothing from more, and on a
    busy machine their barriers alone cost milliseconds per search, which would hide the lock's share.
    """
    load_start = load_average()
    latencies: dict[str, list[float]] = {"idle": [], **{name: [] for name in MODES}}
    rates: dict[str, dict[str, list[float]]] = {name: {"searched": [], "alone": []} for name in MODES}
    with tempfile.TemporaryDirectory(prefix="bench-ingest-search-", dir=workdir) as tmp:
        root = Path(tmp)
        fill(root / "base", size, 256)
        searching = Load(synthetic(size, 200, DIM, seed=1)[1], 1.0 / searches_per_s, omp_threads)
        n = batches * batch
        for r in range(repeats):
            items = (crops(n, seed=1_000_000 * (r + 1)), synthetic(n, 0, DIM, seed=100 + r)[0])
            for name, cls in MODES.items():
                ms, rate = ingest_run(cls, root, searching, items, batch)
                latencies[name] += ms
                rates[name]["searched"].append(rate)
                rates[name]["alone"].append(
                    ingest_run(cls, root, replace(searching, interval=0), items, batch)[1]
                )
            idle = replace(
                searching, idle_s=min(5.0, n / statistics.median(rates["files first"]["searched"]))
            )
            with Gallery.open(root / "base", MODEL_ID, DIM, use_gpu=False) as gallery:
                latencies["idle"] += one_run(gallery, idle, None, batch)[0]
    stats: dict[str, dict[str, Any]] = {name: percentiles(ms) for name, ms in latencies.items()}
    for name in MODES:
        stats[name]["ingest_images_per_s"] = {
            k: round(statistics.median(v), 1) for k, v in rates[name].items()
        }
    first, locked = stats["files first"], stats["files under lock"]
    return {
        "bench": "index_ingest_search",
        "gallery_size": size,
        "ingest": {"batches": batches, "batch": batch, "repeats": repeats},
        "searches_per_s": searches_per_s,
        "omp_threads": omp_threads,
        "search": stats,
        "p99_under_lock_over_files_first": round(locked["p99_ms"] / first["p99_ms"], 2),
        "ingest_files_first_over_under_lock": {
            k: round(first["ingest_images_per_s"][k] / locked["ingest_images_per_s"][k], 3)
            for k in ("searched", "alone")
        },
        "load_average": {"start": load_start, "end": load_average()},
        "machine": describe(),
    }


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=5_000, help="items in the gallery before ingest")
    parser.add_argument("--batches", type=int, default=30, help="batches added per run")
    parser.add_argument("--batch", type=int, default=32, help="images per gallery.add")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--searches-per-s", type=float, default=200.0, help="the search schedule")
    parser.add_argument("--omp-threads", type=int, default=1, help="FAISS OpenMP threads")
    parser.add_argument("--workdir", help="where the temporary galleries go (default: the system's temp dir)")
    args = parser.parse_args()
    options = (args.size, args.batches, args.batch, args.repeats, args.searches_per_s, args.omp_threads)
    print(json.dumps(run(*options, workdir=args.workdir), indent=2))
