"""Helpers for the fleet tests: edge galleries that replicate, and what the central collection holds."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from service_live import LiveServer, crop_bytes

from index import Gallery, ItemMeta
from index.fleet import CentralCollection, Replicator, replicate
from index.milvus_conn import connect
from service.views import site_image_url

DIM, MODEL = 16, "fleet-model"


def unit(seed: int, n: int) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def open_edge(data_dir: Path, site: str) -> Gallery:
    """An edge gallery that queues its changes for the fleet as `site`."""
    return Gallery.open(data_dir, MODEL, DIM, use_gpu=False, site_id=site)


def start_replicator(gallery: Gallery, uri: str, site: str) -> Replicator:
    """A fast-polling replicator with short backoff, so tests converge quickly."""
    links = site_image_url(f"http://{site}.example:8000")
    return replicate(gallery, uri, site, links, poll_s=0.05, max_backoff_s=0.5)


def add_items(gallery: Gallery, seeds: range, cameras: tuple[str, ...] = ("gate", "lobby")) -> list[int]:
    """Add crops with seeded embeddings and cameras -> their ids."""
    vectors = np.concatenate([unit(s, 1) for s in seeds])
    metas = [ItemMeta(camera=cameras[s % len(cameras)], extra={"seed": s}) for s in seeds]
    return [r.id for r in gallery.add([crop_bytes(s) for s in seeds], vectors, metas)]


def wait_for(condition: Callable[[], bool], timeout: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.05)


def drained(server: LiveServer) -> dict[str, Any]:
    """A live edge's fleet status once its outbox is empty (or after a minute)."""
    deadline = time.monotonic() + 60
    while True:
        status: dict[str, Any] = httpx.get(f"{server.url}/health").json()["fleet"]
        if status["pending"] == 0 or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def central(uri: str) -> CentralCollection:
    return CentralCollection(connect(uri), MODEL, DIM).ensure()


def central_contents(uri: str) -> dict[str, np.ndarray]:
    """global id -> embedding of every row the central collection holds (strongly consistent)."""
    hub = central(uri)
    rows = hub.client.query(hub.name, filter="", output_fields=["gid", "embedding"], limit=16_384)
    assert len(rows) == len(hub)
    return {r["gid"]: np.asarray(r["embedding"], np.float32) for r in rows}


def bare_rows(site: str, vectors: np.ndarray) -> list[dict[str, Any]]:
    """Minimal central rows of one site for these vectors (ids 0..n-1), written without an edge."""
    return [
        {
            "gid": f"{site}:{i}", "site": site, "local_id": i, "embedding": v.tolist(), "sha256": "0" * 64,
            "camera": None, "captured_at": None, "captured_ts": None, "external_id": None, "metadata": {},
            "image_url": f"http://{site}/gallery/{i}/image", "created_at": "2026-01-01T00:00:00+00:00",
        }
        for i, v in enumerate(vectors)
    ]  # fmt: skip


def local_contents(gallery: Gallery, site: str) -> dict[str, np.ndarray]:
    """global id -> embedding of every item the edge gallery holds."""
    out: dict[str, np.ndarray] = {}
    for ids, vectors in gallery.records.embeddings(DIM):
        out.update({f"{site}:{i}": v for i, v in zip(ids, vectors, strict=True)})
    return out
