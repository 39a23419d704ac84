"""Search latency, memory per vector and recall@10 against gallery size, for each FAISS structure.

Every configuration runs through `index.FaissStore` (the gallery's own code path: IndexIDMap2, per-call
SearchParameters) on the same synthetic 512-d unit vectors, next to exact FAISS search and a numpy
brute-force scan (the naive baseline). Queries are answered one at a time, as the service does.
Quick mode: 10k and 100k; full mode adds 1M (`python -m bench.index_search --full`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import faiss
import numpy as np

from index import FaissStore, recommended

QUICK, FULL = (10_000, 100_000), (10_000, 100_000, 1_000_000)


def synthetic(n: int, n_queries: int, dim: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Gallery and query unit vectors: ~8 crops per identity around identity centres drawn from 64
    latent factors (image embeddings have a low intrinsic dimension); queries sit farther from their
    identity's centre than crops do, like a text query next to the crops it describes."""
    rng = np.random.default_rng(seed)
    mixing = rng.standard_normal((64, dim)).astype(np.float32) / 8
    centres = rng.standard_normal((max(1, n // 8), 64)).astype(np.float32) @ mixing
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)

    def around(count: int, spread: float) -> np.ndarray:
        out = np.empty((count, dim), np.float32)
        for s in range(0, count, 65_536):
            m = min(count, s + 65_536) - s
            noise = rng.standard_normal((m, dim)).astype(np.float32) * np.float32(spread / np.sqrt(dim))
            chunk = centres[rng.integers(0, len(centres), m)] + noise
            out[s : s + m] = chunk / np.linalg.norm(chunk, axis=1, keepdims=True)
        return out

    return around(n, 0.6), around(n_queries, 1.0)


def configs(n: int, only: tuple[str, ...] | None = None) -> list[tuple[str, list[dict[str, int]]]]:
    """Factory strings with the search parameters tried for each (plus the default's), sized for n."""
    nlist = 1 << max(6, int(np.log2(np.sqrt(n))))  # ~sqrt(n) lists: 64, 256, 512
    grid = [
        ("Flat", [{}]),
        ("SQfp16", [{}]),
        ("SQ8", [{}]),
        ("HNSW32", [{"efSearch": e} for e in (32, 64, 128, 256)]),
        ("HNSW32,SQ8", [{"efSearch": e} for e in (64, 128)]),
        (f"IVF{nlist},Flat", [{"nprobe": p} for p in (8, 16, 32)]),
        (f"IVF{nlist},SQ8", [{"nprobe": p} for p in (16, 32)]),
        (f"IVF{nlist},PQ64", [{"nprobe": 32}]),
    ]
    default, params = recommended(n)
    for factory, param_sets in grid:
        if factory == default and params not in param_sets:
            param_sets.append(params)
    return [(f, p) for f, p in grid if only is None or f == "Flat" or f in only]  # Flat: the reference


def index_bytes(index: faiss.Index) -> int:
    """Serialized size of an index (its memory, near enough) without holding a copy."""
    total = 0

    def count(chunk: bytes) -> int:
        nonlocal total
        total += len(chunk)
        return len(chunk)

    writer = faiss.PyCallbackIOWriter(count)
    faiss.write_index(index, writer)
    return total


def latency_ms(
    search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray, threads: int
) -> tuple[float, float, np.ndarray]:
    """p50 and p90 of one-query searches in ms on `threads` threads, and the ids each returned."""
    faiss.omp_set_num_threads(threads)
    try:
        from threadpoolctl import threadpool_limits  # numpy's BLAS, when the package is there

        limits: Any = threadpool_limits(threads)
    except ImportError:
        limits = None
    try:
        search(queries[0])
        times, found = [], []
        for q in queries:
            start = time.perf_counter()
            found.append(search(q))
            times.append((time.perf_counter() - start) * 1000)
    finally:
        faiss.omp_set_num_threads(os.cpu_count() or 1)
        if limits is not None:
            limits.restore_original_limits()
    return float(np.percentile(times, 50)), float(np.percentile(times, 90)), np.stack(found)


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of the exact top-k each query found."""
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth, strict=True)]))


def build(factory: str, data: np.ndarray, ids: np.ndarray) -> tuple[FaissStore, float]:
    """A FaissStore as the gallery builds it (training sample 2x the needed size), and seconds taken."""
    start = time.perf_counter()
    store = FaissStore(data.shape[1], factory, use_gpu=False)
    if store.pending_training:
        sample = np.random.default_rng(1).choice(
            len(data), min(len(data), 2 * store.train_size), replace=False
        )
        store.train(data[np.sort(sample)])
    for s in range(0, len(data), 65_536):
        store.add(ids[s : s + 65_536], data[s : s + 65_536])
    return store, time.perf_counter() - start


def one_size(
    n: int, dim: int, n_queries: int, k: int, seed: int, threads: int, only: tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Every configuration at gallery size n (or only the factories named in `only`)."""
    data, queries = synthetic(n, n_queries, dim, seed)
    ids = np.arange(1, n + 1, dtype=np.int64)
    exact = faiss.IndexFlatIP(dim)
    exact.add(data)
    truth = ids[exact.search(queries, k)[1]]
    del exact

    def numpy_search(q: np.ndarray) -> np.ndarray:
        scores = data @ q
        top = np.argpartition(-scores, k)[:k]
        return ids[top[np.argsort(-scores[top])]]

    np50, np90, found = latency_ms(numpy_search, queries, threads)
    rows = [
        {
            "config": "numpy brute force",
            "p50_ms": np50,
            "p90_ms": np90,
            "recall@10": recall(found, truth),
            "bytes_per_vector": 4 * dim,
            "build_s": 0.0,
        }
    ]
    default, default_params = recommended(n)
    for factory, param_sets in configs(n, only):
        store, seconds = build(factory, data, ids)
        size = index_bytes(store._index) / n
        for params in param_sets:
            p50, p90, found = latency_ms(
                lambda q, p=params, st=store: st.search(q[None], k, params=p)[1][0], queries, threads
            )
            name = factory + "".join(f" {key}={v}" for key, v in params.items())
            rows.append(
                {
                    "config": name,
                    "p50_ms": p50,
                    "p90_ms": p90,
                    "recall@10": recall(found, truth),
                    "bytes_per_vector": size,
                    "build_s": seconds,
                    "default": factory == default and params == default_params,
                }
            )
        del store
    flat = next(r for r in rows if r["config"] == "Flat")
    for r in rows:
        r["speedup_vs_numpy"] = np50 / r["p50_ms"]
        r["speedup_vs_flat"] = flat["p50_ms"] / r["p50_ms"]
    chosen = [r for r in rows if r.get("default")]
    return {"n": n, "rows": rows, "default": chosen[0] if chosen else None}


def run(
    sizes: tuple[int, ...] = QUICK,
    dim: int = 512,
    queries: int = 200,
    k: int = 10,
    seed: int = 0,
    threads: int = 1,
    only: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """The table for each size, the default's recall and whether it reaches 0.95."""
    results = []
    for n in sizes:
        results.append(one_size(n, dim, queries, k, seed, threads, only))
        print(table({"dim": dim, "queries": queries, "sizes": results[-1:]}), flush=True)
    return {
        "bench": "index_search",
        "dim": dim,
        "queries": queries,
        "k": k,
        "cpus": os.cpu_count(),
        "search_threads": threads,
        "load_average": os.getloadavg(),
        "sizes": results,
        "defaults_reach_0.95": all(r["default"] and r["default"]["recall@10"] >= 0.95 for r in results),
    }


def table(result: dict) -> str:
    """A readable table of a run."""
    lines = []
    for size in result["sizes"]:
        lines.append(f"\n{size['n']:,} vectors x {result['dim']}-d, {result['queries']} single queries")
        lines.append(
            f"{'config':<28}{'p50 ms':>9}{'p90 ms':>9}{'recall@10':>10}{'B/vec':>8}{'build s':>9}"
            f"{'x numpy':>9}{'x Flat':>8}"
        )
        for r in size["rows"]:
            mark = "  <- default" if r.get("default") else ""
            lines.append(
                f"{r['config']:<28}{r['p50_ms']:>9.3f}{r['p90_ms']:>9.3f}{r['recall@10']:>10.3f}"
                f"{r['bytes_per_vector']:>8.0f}{r['build_s']:>9.1f}{r['speedup_vs_numpy']:>9.1f}"
                f"{r['speedup_vs_flat']:>8.1f}{mark}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add the 1M gallery (slow on 2 cores)")
    parser.add_argument("--sizes", type=int, nargs="*", help="explicit gallery sizes")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1, help="threads per search (the service runs many)")
    parser.add_argument("--only", nargs="*", help="only these factory strings (and Flat)")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    sizes = tuple(args.sizes) if args.sizes else FULL if args.full else QUICK
    out = run(sizes, queries=args.queries, threads=args.threads, only=tuple(args.only) if args.only else None)
    print(f"\ndefaults reach recall@10 >= 0.95: {out['defaults_reach_0.95']}")
    print(f"load average at the end: {out['load_average']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
