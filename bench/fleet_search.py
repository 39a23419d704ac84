"""Hub search latency and recall@10 against fleet collection size, next to the edge's own FAISS search.

The same synthetic 512-d unit vectors (bench.index_search.synthetic) go into a CentralCollection on a
Milvus Lite server on loopback, spread over 16 sites with camera and metadata like real rows, and into
`index.FaissStore` (the size's recommended structure and Flat). Queries run one at a time, as the service
sends them, without a filter and restricted to one site of 16; recall@10 is against a numpy scan of the
same (filtered) vectors. FAISS searches on one thread; the Lite server, a separate process, uses what it
takes. Default: 10k and 100k; --full adds 1M, skipped when the sizes before project the run past the
time budget (the suite runs 1M alone, as fleet_search_1m).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from bench.index_search import build, latency_ms, recall, synthetic
from index import FaissStore, GalleryItem, ItemMeta, recommended
from index.factories import filtered_params
from index.fleet.central import CentralCollection, central_row
from index.fleet.lite_server import LiteServer
from index.milvus_conn import connect

QUICK, FULL = (10_000, 100_000), (10_000, 100_000, 1_000_000)
SITES, CAMERAS, CHUNK = 16, 8, 5_000
UNFLUSHED_QUERIES = 10  # a scan of unflushed rows takes ~1.5 s a query at 100k
MODEL_ID = "bench-fleet"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def site_of(rows: np.ndarray) -> np.ndarray:
    """The site number of each row (round robin, so every site holds 1/16 of the collection)."""
    return rows % SITES


def site_name(number: int) -> str:
    """A site id as the fleet spells it."""
    return f"site-{number:02d}"


def fleet_rows(start: int, vectors: np.ndarray) -> list[dict[str, Any]]:
    """Central rows for vectors numbered from `start`; local id = row number + 1, so the gid names the row."""
    out = []
    for offset, vec in enumerate(vectors):
        row = start + offset
        item = GalleryItem(
            id=row + 1,
            sha256=f"{row:064x}",
            image_path=f"images/{row}.jpg",
            meta=ItemMeta(
                camera=f"cam-{row % CAMERAS}",
                captured_at=EPOCH + timedelta(seconds=row),
                external_id=f"track-{row // 8}",
                extra={"zone": f"z{row % 5}", "conf": 0.9},
            ),
            model_id=MODEL_ID,
            created_at=EPOCH,
        )
        site = site_name(row % SITES)
        out.append(central_row(site, item, vec, f"https://{site}.example/gallery/{row + 1}/image"))
    return out


def insert(central: CentralCollection, data: np.ndarray) -> float:
    """Upsert every vector in chunks of CHUNK rows -> seconds taken (row building included)."""
    start = time.perf_counter()
    for s in range(0, len(data), CHUNK):
        central.upsert(fleet_rows(s, data[s : s + CHUNK]))
    return time.perf_counter() - start


def top_k(data: np.ndarray, queries: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
    """Exact top-k row numbers among `rows` for every query, by a numpy scan."""
    scores = queries @ data[rows].T
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return rows[top]


def hub_search(
    central: CentralCollection, k: int, sites: list[str] | None
) -> Callable[[np.ndarray], np.ndarray]:
    """One hub query -> the row numbers it returned (padded with -1 to k)."""

    def search(q: np.ndarray) -> np.ndarray:
        hits = central.search(q, k, sites=sites)
        found = [int(h.global_id.rsplit(":", 1)[1]) - 1 for h in hits]
        return np.array(found + [-1] * (k - len(found)), np.int64)

    return search


def measure(
    name: str, search: Callable[[np.ndarray], np.ndarray], queries: np.ndarray, truth: np.ndarray
) -> dict[str, Any]:
    """One table row: p50, p90 and recall@10 of a search function."""
    p50, p90, found = latency_ms(search, queries, threads=1)
    return {"config": name, "p50_ms": p50, "p90_ms": p90, "recall@10": recall(found, truth)}


def edge_search(
    store: FaissStore, k: int, allowed: np.ndarray | None, params: dict[str, int]
) -> Callable[[np.ndarray], np.ndarray]:
    """One edge query -> the row numbers it returned."""
    if allowed is not None:  # what Gallery.search does with a filter
        params = filtered_params(params, len(store), len(allowed))
    return lambda q: store.search(q[None], k, allowed, params)[1][0]


def edge_rows(data: np.ndarray, queries: np.ndarray, k: int, truth: dict[str, np.ndarray]) -> list[dict]:
    """FAISS on the same vectors, one search thread: this size's recommended structure and Flat."""
    ids = np.arange(len(data), dtype=np.int64)  # FaissStore ids are the row numbers: no mapping needed
    filters = {"none": None, "one site": ids[site_of(ids) == 0]}
    default, default_params = recommended(len(data))
    structures = [(default, default_params)] + ([("Flat", {})] if default != "Flat" else [])
    rows = []
    for factory, params in structures:
        store, build_s = build(factory, data, ids)
        label = f"edge FAISS {factory}" + "".join(f" {key}={v}" for key, v in params.items())
        for filt, allowed in filters.items():
            row = measure(label, edge_search(store, k, allowed, params), queries, truth[filt])
            rows.append({**row, "filter": filt, "build_s": build_s})
        del store
    return rows


@contextmanager
def hub(workdir: Path) -> Iterator[CentralCollection]:
    """A fresh Milvus Lite server and an ensured central collection on it."""
    with LiteServer(workdir / "milvus") as server:
        yield CentralCollection(connect(server.uri, timeout=120), MODEL_ID, 512).ensure()


def hub_rows(
    central: CentralCollection, label: str, queries: np.ndarray, k: int, truth: dict[str, np.ndarray]
) -> list[dict[str, Any]]:
    """The hub's search without a filter and restricted to one site."""
    rows = []
    for filt, sites in (("none", None), ("one site", [site_name(0)])):
        row = measure(label, hub_search(central, k, sites), queries, truth[filt][: len(queries)])
        rows.append({**row, "filter": filt})
    return rows


def one_size(n: int, n_queries: int, k: int, seed: int, workdir: Path) -> dict[str, Any]:
    """Insert n rows into a fresh hub, then time and score hub and edge searches.

    Milvus Lite scans rows still in its memtable (up to 128 MB of rows) far slower than flushed segments,
    so the hub is measured twice: as inserted (a few queries) and after a flush (the steady state).
    """
    started = time.perf_counter()
    data, queries = synthetic(n, n_queries, 512, seed)
    rows = np.arange(n, dtype=np.int64)
    truth = {
        "none": top_k(data, queries, k, rows),
        "one site": top_k(data, queries, k, rows[site_of(rows) == 0]),
    }
    size_dir = workdir / f"n{n}"
    size_dir.mkdir()
    with hub(size_dir) as central:
        insert_s = insert(central, data)
        results = hub_rows(central, "hub Lite FLAT, as inserted", queries[:UNFLUSHED_QUERIES], k, truth)
        flush_s = time.perf_counter()
        central.client.flush(central.name)
        flush_s = time.perf_counter() - flush_s
        results += hub_rows(central, "hub Lite FLAT, flushed", queries, k, truth)
        stored = len(central)
    results += edge_rows(data, queries, k, truth)
    for r in results:
        if r["config"].startswith("edge"):
            flushed = next(
                h for h in results if h["filter"] == r["filter"] and h["config"].endswith("flushed")
            )
            r["hub_over_edge_p50"] = flushed["p50_ms"] / r["p50_ms"]
    return {
        "n": n,
        "stored": stored,
        "insert_s": insert_s,
        "insert_rows_per_s": n / insert_s,
        "flush_s": flush_s,
        "rows": results,
        "seconds": time.perf_counter() - started,
    }


def run(
    sizes: tuple[int, ...] = QUICK,
    queries: int = 200,
    k: int = 10,
    seed: int = 0,
    budget_s: float = 900.0,
    workdir: str | None = None,
) -> dict[str, Any]:
    """Each size in turn; a size that, projected linearly from the last one, would take the whole run past
    budget_s is skipped with its projection (Milvus Lite inserts and scans 512-d rows slowly at 1M)."""
    done: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        for n in sizes:
            projected = done[-1]["seconds"] * n / done[-1]["n"] if done else 0.0
            if time.perf_counter() - started + projected > budget_s:
                skipped.append({"n": n, "projected_s": projected, "budget_s": budget_s})
                print(
                    f"\nskipping {n:,}: projected {projected:.0f} s, past the {budget_s:.0f} s budget",
                    flush=True,
                )
                continue
            done.append(one_size(n, queries, k, seed, Path(tmp)))
            print(table({"queries": queries, "sizes": done[-1:]}), flush=True)
    return {
        "bench": "fleet_search",
        "dim": 512,
        "queries": queries,
        "k": k,
        "sites": SITES,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        "sizes": done,
        "skipped": skipped,
    }


def table(result: dict[str, Any]) -> str:
    """A readable table of a run."""
    lines = []
    for size in result["sizes"]:
        lines.append(
            f"\n{size['n']:,} rows x 512-d over {SITES} sites, {result['queries']} single queries; "
            f"hub insert {size['insert_rows_per_s']:,.0f} rows/s ({size['insert_s']:.1f} s), "
            f"flush {size['flush_s']:.1f} s; 'as inserted' rows from {UNFLUSHED_QUERIES} queries"
        )
        lines.append(
            f"{'config':<32}{'filter':<10}{'p50 ms':>9}{'p90 ms':>9}{'recall@10':>10}{'hub/edge':>10}"
        )
        for r in size["rows"]:
            ratio = f"{r['hub_over_edge_p50']:>10.1f}" if "hub_over_edge_p50" in r else ""
            lines.append(
                f"{r['config']:<32}{r['filter']:<10}{r['p50_ms']:>9.3f}{r['p90_ms']:>9.3f}"
                f"{r['recall@10']:>10.3f}{ratio}"
            )
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="add 1M rows (when projected within budget)")
    parser.add_argument("--sizes", type=int, nargs="*", help="explicit collection sizes")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--budget-s", type=float, default=900.0, help="skip sizes projected past this")
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    sizes = tuple(args.sizes) if args.sizes else FULL if args.full else QUICK
    out = run(sizes, queries=args.queries, budget_s=args.budget_s)
    print(f"\nload average at the end: {out['load_average']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
