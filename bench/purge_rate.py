"""Retention's purge rate against the gallery's ingest rate, side by side in one run on one machine.

ingest: camera crops (a JPEG crop, a track, a box, an evidence JPEG frame shared by two crops, a unit
embedding) written through `Gallery.add` in batches, as the service's track writer does: files written
and fsynced, rows committed, vectors added, fleet outbox rows queued. No model runs: encoding would only
slow ingest down, so the ratio here is the conservative one. purge: the same items, all expired, removed
by the retention worker's `run_once` in its batches: rows (with alerts and outbox deletes), vectors, files.
A ratio above 1 means the purge outruns the ingest that fills the gallery. Run:
`python -m bench.purge_rate [--items 5000] [--batch 256] [--factory Flat] [--out results.json]`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from index import Gallery, ItemMeta, TrackRef
from index.purge import Purger
from index.retention import RetentionPolicy
from service.retention import link_dependents

DIM, MODEL = 512, "bench-purge"


def jpeg(rng: np.random.Generator, size: tuple[int, int]) -> bytes:
    """A blocky random JPEG of (H, W) pixels, about the size of a real crop or frame."""
    h, w = size
    blocks = rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(np.kron(blocks, np.ones((8, 8, 1), np.uint8))).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def camera_batches(
    n: int, batch: int, seed: int = 0
) -> list[tuple[list[bytes], np.ndarray, list[ItemMeta], list[bytes]]]:
    """n crops in batches: crops 128x64, one 360x640 frame per two crops, captured two days ago."""
    rng = np.random.default_rng(seed)
    when = datetime.now(UTC) - timedelta(days=2)
    batches = []
    for start in range(0, n, batch):
        count = min(batch, n - start)
        frames = [jpeg(rng, (360, 640)) for _ in range((count + 1) // 2)]
        crops = [jpeg(rng, (128, 64)) for _ in range(count)]
        vectors = rng.standard_normal((count, DIM)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        metas = [
            ItemMeta(
                camera="gate",
                captured_at=when,
                track=TrackRef(f"gate|{(start + i) // 8}", when, when),
                box=(4, 4, 60, 120),
            )
            for i in range(count)
        ]
        batches.append((crops, vectors, metas, [frames[i // 2] for i in range(count)]))
    return batches


def uptime() -> str:
    """The `uptime` line (load averages), or the load averages alone where there is no such command."""
    try:
        return subprocess.run(
            ["uptime"], capture_output=True, text=True, timeout=10, check=True
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "load average: " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def run(
    items: int = 5000,
    batch: int = 256,
    ingest_batch: int = 32,
    factory: str = "Flat",
    workdir: str | None = None,
) -> dict[str, Any]:
    """Ingest `items` camera crops, then purge them all as expired -> both rates and their ratio."""
    batches = camera_batches(items, ingest_batch)
    with tempfile.TemporaryDirectory(dir=workdir) as tmp:
        gallery = Gallery.open(Path(tmp), MODEL, DIM, factory=factory, use_gpu=False, site_id="bench-site")
        try:
            link_dependents(gallery)  # alerts go with their crops, as in the service
            start = time.perf_counter()
            for crops, vectors, metas, frames in batches:
                gallery.add(crops, vectors, metas, frames)
            ingest_s = time.perf_counter() - start
            stored = len(gallery)
            purger = Purger(gallery, RetentionPolicy(default_s=86400.0), batch=batch)
            start = time.perf_counter()
            purged = purger.run_once()
            purge_s = time.perf_counter() - start
            left, files = len(gallery), sum(len(f) for _, _, f in os.walk(Path(tmp) / "images"))
        finally:
            gallery.close()
    ingest_rate, purge_rate = stored / ingest_s, purged.purged / purge_s
    return {
        "bench": "purge_rate", "items": items, "factory": factory, "dim": DIM,
        "ingest_batch": ingest_batch, "purge_batch": batch, "stored": stored,
        "ingest_s": round(ingest_s, 3), "ingest_items_per_s": round(ingest_rate, 1),
        "purge_s": round(purge_s, 3), "purge_items_per_s": round(purge_rate, 1),
        "purged": purged.purged, "purge_batches": purged.batches, "left_rows": left, "left_files": files,
        "purge_over_ingest": round(purge_rate / ingest_rate, 2),
        "uptime": uptime(), "load_average": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=5000, help="camera crops to ingest, then purge")
    parser.add_argument("--batch", type=int, default=256, help="items the purge removes per transaction")
    parser.add_argument("--ingest-batch", type=int, default=32, help="crops per gallery addition")
    parser.add_argument("--factory", default="Flat", help="FAISS factory string of the gallery")
    parser.add_argument("--out", type=Path, help="also write the result as JSON here")
    args = parser.parse_args()
    if args.items < 1 or args.batch < 1 or args.ingest_batch < 1:
        parser.error("--items, --batch and --ingest-batch must be at least 1")
    print(f"before: {uptime()}", flush=True)
    result = run(args.items, args.batch, args.ingest_batch, args.factory)
    ingest, purge = result["ingest_items_per_s"], result["purge_items_per_s"]
    print(
        f"ingest {ingest:.1f} items/s, purge {purge:.1f} items/s: purge/ingest = "
        f"{result['purge_over_ingest']:.2f}x ({args.items} camera crops, {args.factory}, "
        f"purge batches of {args.batch})"
    )
    print(f"after: {result['uptime']}")
    if args.out is not None:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
