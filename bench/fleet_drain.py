"""Whether fleet replication keeps up with ingest: gallery.add rate next to the outbox drain rate.

live: a gallery with a site id takes N items in batches (tiny PNGs made in-process, synthetic 512-d unit
embeddings) while a started Replicator drains its outbox into a CentralCollection on a Milvus Lite server
on loopback; the backlog is sampled after every batch and the drain timed until the outbox is empty.
backlog: a second site ingests N with no replicator running, then one starts and drains the whole backlog
alone; that rate is the replicator's capacity. Every site's central rows are checked against its gallery.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.index_search import synthetic
from index import Gallery, ItemMeta
from index.fleet.central import CentralCollection
from index.fleet.lite_server import LiteServer
from index.fleet.replicator import ReplicaTarget, Replicator
from index.milvus_conn import connect
from service.views import site_image_url

MODEL_ID, DIM = "bench-fleet-drain", 512
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def image_bytes(seed: int) -> bytes:
    """A tiny PNG of random pixels, distinct per seed (the gallery stores each distinct image once)."""
    pixels = np.random.default_rng(seed).integers(0, 256, (16, 8, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def make_items(n: int, seed: int) -> tuple[list[bytes], np.ndarray, list[ItemMeta]]:
    """n images, their embeddings and metadata, made before any clock starts."""
    vectors, _ = synthetic(n, 0, DIM, seed)
    metas = [ItemMeta(camera=f"cam-{i % 8}", captured_at=EPOCH + timedelta(seconds=i)) for i in range(n)]
    return [image_bytes(seed * 1_000_003 + i) for i in range(n)], vectors, metas


def open_site(directory: Path, site: str) -> Gallery:
    """A fresh gallery that queues every change for the fleet as `site`."""
    return Gallery.open(directory, MODEL_ID, DIM, use_gpu=False, background_rebuild=False, site_id=site)


def ingest(
    gallery: Gallery,
    data: tuple[list[bytes], np.ndarray, list[ItemMeta]],
    batch: int,
    after: Callable[[], None],
) -> float:
    """gallery.add in batches, calling `after` after each -> seconds the adds took (calls excluded)."""
    images, vectors, metas = data
    spent = 0.0
    for s in range(0, len(images), batch):
        start = time.perf_counter()
        gallery.add(images[s : s + batch], vectors[s : s + batch], metas[s : s + batch])
        spent += time.perf_counter() - start
        after()
    return spent


def wait_drained(replicator: Replicator, timeout_s: float) -> float:
    """Poll until the outbox is empty -> the perf_counter time it was first seen empty."""
    deadline = time.perf_counter() + timeout_s
    while replicator.status()["pending"]:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"outbox not drained in {timeout_s:.0f} s: {replicator.status()}")
        time.sleep(0.005)
    return time.perf_counter()


def check(central: CentralCollection, site: str, gallery: Gallery) -> int:
    """The site's central row count, after checking it holds exactly the gallery's ids."""
    central_ids = np.sort(central.site_ids(site))
    if not np.array_equal(central_ids, np.sort(gallery.records.ids())):
        raise AssertionError(f"{site}: {len(central_ids)} central rows, {len(gallery)} gallery items")
    return len(central_ids)


def live(
    workdir: Path, target: ReplicaTarget, central: CentralCollection, n: int, batch: int, opts: dict[str, Any]
) -> dict[str, Any]:
    """Ingest with the replicator running beside it, then drain what is left."""
    data = make_items(n, seed=1)
    with open_site(workdir / "live", target.site) as gallery:
        replicator = Replicator(gallery.records, DIM, target, **opts)
        gallery.listeners.append(replicator.wake)
        backlog: list[int] = []
        replicator.start()
        start = time.perf_counter()
        add_s = ingest(gallery, data, batch, lambda: backlog.append(replicator.status()["pending"]))
        ingest_end, during = time.perf_counter(), replicator.replicated
        drained = wait_drained(replicator, timeout_s=max(120.0, n / 10))
        replicator.stop()
        rows = check(central, target.site, gallery)
    ingest_s, tail_s = ingest_end - start, drained - ingest_end
    return {
        "items": n,
        "central_rows": rows,
        "changes_replicated": replicator.replicated,  # the items plus the sweep queued when the site was set
        "ingest_items_per_s": n / add_s,
        "ingest_s": ingest_s,
        "drain_while_ingesting_per_s": during / ingest_s,
        "tail_s": tail_s,
        "drain_tail_per_s": (replicator.replicated - during) / tail_s if tail_s > 0 else None,
        "drain_overall_per_s": replicator.replicated / (drained - start),
        "peak_backlog": max(backlog),
        "backlog_at_end_of_ingest": backlog[-1],
        "drain_over_ingest": (during / ingest_s) / (n / add_s),
    }


def backlog(
    workdir: Path, target: ReplicaTarget, central: CentralCollection, n: int, batch: int, opts: dict[str, Any]
) -> dict[str, Any]:
    """Ingest with no replicator, then time one draining the whole backlog alone."""
    data = make_items(n, seed=2)
    with open_site(workdir / "backlog", target.site) as gallery:
        add_s = ingest(gallery, data, batch, lambda: None)
        replicator = Replicator(gallery.records, DIM, target, **opts)
        pending = replicator.status()["pending"]
        start = time.perf_counter()
        replicator.start()
        drained = wait_drained(replicator, timeout_s=max(120.0, n / 10))
        replicator.stop()
        rows = check(central, target.site, gallery)
    return {
        "items": n,
        "central_rows": rows,
        "pending_before": pending,
        "changes_replicated": replicator.replicated,
        "ingest_items_per_s_unreplicated": n / add_s,
        "drain_s": drained - start,
        "drain_per_s": replicator.replicated / (drained - start),
    }


def run(
    items: int = 2000,
    batch: int = 32,
    replicate_batch: int = 256,
    poll_s: float = 0.05,
    workdir: str | None = None,
) -> dict[str, Any]:
    """The live and backlog runs against one hub, with headroom = backlog drain rate / ingest rate."""
    opts = {"batch": replicate_batch, "poll_s": poll_s}
    with tempfile.TemporaryDirectory(dir=workdir) as tmp, LiteServer(Path(tmp) / "milvus") as server:

        def opener() -> CentralCollection:
            return CentralCollection(connect(server.uri, timeout=120), MODEL_ID, DIM).ensure()

        central = opener()
        results = {}
        for name, phase in (("live", live), ("backlog", backlog)):
            target = ReplicaTarget(f"site-{name}", site_image_url(f"https://{name}.example"), opener)
            results[name] = phase(Path(tmp), target, central, items, batch, opts)
        total = len(central)
    ingest_rate = results["live"]["ingest_items_per_s"]
    return {
        "bench": "fleet_drain",
        "dim": DIM,
        "ingest_batch": batch,
        "replicate_batch": replicate_batch,
        "poll_s": poll_s,
        "cpus": os.cpu_count(),
        "load_average": os.getloadavg(),
        **results,
        "central_rows": total,
        "headroom": results["backlog"]["drain_per_s"] / ingest_rate,
    }


def table(result: dict[str, Any]) -> str:
    """A readable summary of a run."""
    lv, bl = result["live"], result["backlog"]
    tail = f"{lv['drain_tail_per_s']:,.0f}/s" if lv["drain_tail_per_s"] else "none"
    return "\n".join(
        [
            f"{lv['items']:,} items x {result['dim']}-d in batches of {result['ingest_batch']}; replicator "
            f"batch {result['replicate_batch']}, poll {result['poll_s']} s",
            f"live:    ingest {lv['ingest_items_per_s']:,.0f} items/s over {lv['ingest_s']:.1f} s; drain "
            f"{lv['drain_while_ingesting_per_s']:,.0f} rows/s while ingesting "
            f"(x{lv['drain_over_ingest']:.2f} of ingest), peak backlog {lv['peak_backlog']}, "
            f"{lv['backlog_at_end_of_ingest']} left at the end, drained {lv['tail_s']:.2f} s later ({tail})",
            f"backlog: ingest {bl['ingest_items_per_s_unreplicated']:,.0f} items/s with no replicator; "
            f"{bl['pending_before']:,} rows drained alone in {bl['drain_s']:.1f} s = "
            f"{bl['drain_per_s']:,.0f} rows/s",
            f"headroom (backlog drain rate / live ingest rate): x{result['headroom']:.2f}; central rows "
            f"{result['central_rows']:,} = gallery items on both sites",
        ]
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=32, help="images per gallery.add")
    parser.add_argument("--replicate-batch", type=int, default=256, help="outbox rows per Milvus call")
    parser.add_argument("--poll-s", type=float, default=0.05)
    parser.add_argument("--json", help="also write the result here")
    args = parser.parse_args()
    out = run(args.items, args.batch, args.replicate_batch, args.poll_s)
    print(table(out))
    print(f"load average at the end: {out['load_average']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=2)
