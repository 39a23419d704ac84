"""Search grouped by track against ungrouped, at the same top_k, on a gallery of person tracks.

A gallery of `size` crops in tracks of 10-30 crops, each person walking 1-4 tracks (other cameras, other
times), as synthetic unit vectors: person centres drawn from 64 latent factors, a track's centre near its
person's (a camera and pose change), its crops close to it. The rows go into the SQLite record through
index.records (no image files: search never reads them) and the gallery builds its FAISS index from the
record on open, as after a crash. Each query is a person's centre plus noise (an example from a camera
the person was not seen on); per query, `service.examples.grouped_search` (what `group_by: "track"`
runs) and `Gallery.search` run back to back, in alternating order. Quality per person: R@1 (the top
result shows them) and the share of their tracks in the top k. Run: `python -m bench.grouped_search`.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import faiss
import numpy as np

from bench.camera_common import percentiles_ms
from bench.machine import describe, load_average
from index import Gallery, Hit, ItemMeta, TrackRef
from index.records import DB_FILE, Records
from service.examples import grouped_search

MODEL_ID, LATENT, START = "bench-grouped-search", 64, datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
SPREAD = {"track": 0.8, "crop": 0.3, "query": 1.5}  # noise norms around a person, a track, a query
CHUNK = 5_000  # rows per SQLite transaction


@dataclass(frozen=True)
class Population:
    """Who is in the gallery: per track its person, per crop its track, and the people's centres."""

    centres: np.ndarray  # (P, D) unit
    track_person: np.ndarray  # (T,)
    crop_track: np.ndarray  # (N,)


def population(size: int, crops: tuple[int, int], tracks: tuple[int, int], dim: int, seed: int) -> Population:
    """Tracks of crops[0]..crops[1] crops until `size` crops, persons of tracks[0]..tracks[1] tracks."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(crops[0], crops[1] + 1, size // crops[0] + 1)
    lengths = lengths[: int(np.searchsorted(np.cumsum(lengths), size)) + 1]
    lengths[-1] -= int(lengths.sum()) - size  # the last track ends at exactly `size` crops
    per_person = rng.integers(tracks[0], tracks[1] + 1, len(lengths))
    track_person = np.repeat(np.arange(len(per_person)), per_person)[: len(lengths)]
    rng.shuffle(track_person)  # a person's tracks are spread over the recording
    mixing = rng.standard_normal((LATENT, dim)).astype(np.float32) / 8
    centres = _unit(rng.standard_normal((int(track_person.max()) + 1, LATENT)).astype(np.float32) @ mixing)
    return Population(centres, track_person, np.repeat(np.arange(len(lengths)), lengths))


def _unit(rows: np.ndarray) -> np.ndarray:
    return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32)


def _near(rng: np.random.Generator, centres: np.ndarray, spread: float) -> np.ndarray:
    noise = rng.standard_normal(centres.shape).astype(np.float32) * np.float32(
        spread / np.sqrt(centres.shape[1])
    )
    return _unit(centres + noise)


def fill(data_dir: Path, pop: Population, seed: int) -> float:
    """Write every crop's row and vector into a new gallery record -> seconds taken."""
    start, rng = time.perf_counter(), np.random.default_rng(seed + 1)
    track_centres = _near(rng, pop.centres[pop.track_person], SPREAD["track"])
    records = Records(Path(data_dir) / DB_FILE)
    try:
        records.claim(MODEL_ID, pop.centres.shape[1])
        for s in range(0, len(pop.crop_track), CHUNK):
            tracks = pop.crop_track[s : s + CHUNK]
            vectors = _near(rng, track_centres[tracks], SPREAD["crop"])
            rows = [_row(s + i, int(t)) for i, t in enumerate(tracks)]
            records.insert(rows, vectors, MODEL_ID)
    finally:
        records.close()
    return time.perf_counter() - start


def _row(n: int, track: int) -> tuple[str, str, ItemMeta, None]:
    """Crop n of a track: a unique digest, an image path no search reads, its camera, time and track."""
    first = START + timedelta(minutes=track)
    ref = TrackRef(f"bench|{track}", first, first + timedelta(seconds=30))
    sha = f"{n:064x}"
    meta = ItemMeta(camera=f"cam-{track % 8}", captured_at=first, track=ref)
    return sha, f"images/{sha[:2]}/{sha}.jpg", meta, None


def track_of(hit: Hit) -> int:
    """The bench's track number of a hit (from the key it was stored with)."""
    assert hit.item.meta.track is not None
    return int(hit.item.meta.track.key.split("|")[1])


def quality(pop: Population, people: np.ndarray, found: Sequence[list[Hit]]) -> dict[str, float]:
    """Per person, averaged: R@1 (top hit shows them) and the share of their tracks in the results."""
    r1, share = [], []
    for person, hits in zip(people.tolist(), found, strict=True):
        theirs = set(np.flatnonzero(pop.track_person == person).tolist())
        tracks = [track_of(h) for h in hits]
        r1.append(bool(tracks) and tracks[0] in theirs)
        share.append(len(theirs & set(tracks)) / len(theirs))
    return {
        "R1_per_person": round(float(np.mean(r1)), 4),
        "tracks_found_share": round(float(np.mean(share)), 4),
    }


def timed(
    ways: dict[str, Callable[[np.ndarray], list[Hit]]], queries: np.ndarray, threads: int
) -> dict[str, Any]:
    """Every query through every way back to back (order alternating per query) on `threads` FAISS
    threads -> ms samples, hits."""
    before = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(threads)
    try:
        return _timed(ways, queries)
    finally:
        faiss.omp_set_num_threads(before)


def _timed(ways: dict[str, Callable[[np.ndarray], list[Hit]]], queries: np.ndarray) -> dict[str, Any]:
    names = list(ways)
    for name in names:
        ways[name](queries[0])  # warm
    ms: dict[str, list[float]] = {n: [] for n in names}
    hits: dict[str, list[list[Hit]]] = {n: [] for n in names}
    for i, query in enumerate(queries):
        for name in names if i % 2 == 0 else names[::-1]:
            start = time.perf_counter()
            hits[name].append(ways[name](query))
            ms[name].append((time.perf_counter() - start) * 1000.0)
    return {"ms": ms, "hits": hits}


def crops_read(gallery: Gallery, queries: np.ndarray, k: int) -> dict[str, float]:
    """How many crops a grouped search reads, and in how many index searches (an untimed pass)."""
    reads, calls = [], []
    with mock.patch.object(gallery, "search", wraps=gallery.search) as spy:
        for query in queries:
            spy.reset_mock()
            grouped_search(gallery, query, k, None, None)
            calls.append(spy.call_count)
            reads.append(sum(c.args[1] for c in spy.call_args_list))
    return {"crops_read_p50": float(np.median(reads)), "crops_read_max": float(max(reads)),
            "index_searches_mean": round(float(np.mean(calls)), 2)}  # fmt: skip


def measure(
    gallery: Gallery, pop: Population, n_queries: int, k: int, seed: int, threads: int
) -> dict[str, Any]:
    """Grouped against ungrouped on one gallery: latency, the ratio, crops read and quality."""
    rng = np.random.default_rng(seed + 2)
    people = rng.choice(len(pop.centres), min(n_queries, len(pop.centres)), replace=False)
    queries = _near(rng, pop.centres[people], SPREAD["query"])
    ways = {
        "grouped": lambda q: grouped_search(gallery, q, k, None, None),
        "ungrouped": lambda q: gallery.search(q, k),
    }
    out = timed(ways, queries, threads)
    rows = {n: {**percentiles_ms(out["ms"][n]), **quality(pop, people, out["hits"][n])} for n in ways}
    g, u = rows["grouped"], rows["ungrouped"]
    return {
        "rows": rows,
        "ratio_p50": round(g["p50_ms"] / u["p50_ms"], 2),
        "ratio_p99": round(g["p99_ms"] / u["p99_ms"], 2),
        **crops_read(gallery, queries, k),
    }


def run(
    size: int = 100_000,
    queries: int = 200,
    top_k: int = 10,
    factories: tuple[str, ...] = ("Flat",),
    dim: int = 512,
    threads: int = 1,
    seed: int = 0,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Build the gallery once, then time both searches on it for each FAISS structure."""
    load_start = load_average()
    pop = population(size, (10, 30), (1, 4), dim, seed)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        fill_s = fill(Path(tmp), pop, seed)
        for factory in factories:
            start = time.perf_counter()
            with Gallery.open(
                Path(tmp), MODEL_ID, dim, factory, use_gpu=False, background_rebuild=False
            ) as gallery:
                opened_s = time.perf_counter() - start
                results[factory] = {
                    "open_s": round(opened_s, 1),
                    **measure(gallery, pop, queries, top_k, seed, threads),
                }
    return {
        "bench": "grouped_search",
        "size": size, "tracks": len(pop.track_person), "persons": len(pop.centres), "dim": dim,
        "top_k": top_k, "queries": queries, "threads": threads, "fill_s": round(fill_s, 1),
        "factories": results,
        "load_average": {"start": load_start, "end": load_average()}, "machine": describe(),
    }  # fmt: skip


def table(result: dict[str, Any]) -> str:
    """Both searches side by side per structure, with the ratio and the load."""
    lines = [
        f"{result['size']:,} crops in {result['tracks']:,} tracks of {result['persons']:,} persons, top_k"
        f" {result['top_k']}, {result['queries']} queries, {result['threads']} FAISS thread(s); load average"
        f" {result['load_average']['start']}"
        f" -> {result['load_average']['end']}",
        f"{'index':<8} {'search':<10} {'p50 ms':>8} {'p99 ms':>8} {'R@1/person':>10} {'tracks found':>12}",
    ]
    for factory, r in result["factories"].items():
        for name, row in r["rows"].items():
            lines.append(
                f"{factory:<8} {name:<10} {row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f}"
                f" {row['R1_per_person']:>10.3f} {row['tracks_found_share']:>12.3f}"
            )
        lines.append(
            f"{factory:<8} grouped / ungrouped: {r['ratio_p50']}x at p50, {r['ratio_p99']}x at p99; a grouped"
            f" search read {r['crops_read_p50']:.0f} crops at p50 (max {r['crops_read_max']:.0f})"
            f" in {r['index_searches_mean']} index searches on average"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--top-k", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="FAISS threads per search")
    parser.add_argument("--factories", default="Flat", help="comma-separated FAISS factory strings")
    parser.add_argument("--workdir", type=Path, default=None, help="where the temporary gallery is made")
    args = parser.parse_args()
    factories = tuple(f.strip() for f in args.factories.split(",") if f.strip())
    out = run(args.size, args.queries, args.top_k, factories, threads=args.threads, workdir=args.workdir)
    print(json.dumps(out, indent=2))
    print(table(out))
