"""Helpers for the retention, hold and erasure tests: galleries of crops with ages, cameras and frames."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from service_live import crop_bytes

from index import Gallery, ItemMeta, TrackRef
from index.fleet import CentralCollection, Replicator
from index.fleet.replicator import ReplicaTarget
from index.milvus_conn import connect
from index.vector_store import VectorStore
from service.views import site_image_url

DIM, MODEL = 16, "privacy-model"
_seeds = itertools.count(1000)
Opener = Callable[[str, int], VectorStore]


def unit(seed: int, n: int = 1) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal((n, DIM)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def ago(seconds: float) -> datetime:
    """A capture time `seconds` before now."""
    return datetime.now(UTC) - timedelta(seconds=seconds)


def open_gallery(data: Path, store: Opener | None = None, site: str | None = None) -> Gallery:
    return Gallery.open(data, MODEL, DIM, use_gpu=False, vector_store=store, site_id=site)


def add(
    gallery: Gallery,
    camera: str | None = None,
    captured: datetime | None = None,
    track: str | None = None,
    frame: bytes | None = None,
    vector: np.ndarray | None = None,
) -> int:
    """One crop (an upload, or a camera crop with a track and a frame) -> its id."""
    seed = next(_seeds)
    ref = TrackRef(track, captured, captured) if track and captured else None
    meta = ItemMeta(camera=camera, captured_at=captured, track=ref, box=(1, 1, 9, 20) if frame else None)
    embedding = unit(seed) if vector is None else vector[None]
    return gallery.add([crop_bytes(seed)], embedding, [meta], [frame])[0].id


def files_on_disk(data: Path) -> set[str]:
    """Every stored file, relative to the data directory (temporaries excluded)."""
    root = data / "images"
    return {
        str(Path(d).relative_to(data) / f)
        for d, _, names in os.walk(root)
        for f in names
        if not f.endswith(".tmp")
    }


def outbox_deletes(gallery: Gallery) -> set[int]:
    """Item ids with a queued fleet 'delete'."""
    rows = gallery.records.conn().execute("SELECT item_id FROM outbox WHERE op = 'delete'")
    return {r[0] for r in rows}


def drain(gallery: Gallery, uri: str, site: str) -> None:
    """Send every queued fleet change of a site's gallery to the hub at `uri`."""

    def central() -> CentralCollection:
        return CentralCollection(connect(uri), gallery.model_id, DIM).ensure()

    replicator = Replicator(gallery.records, DIM, ReplicaTarget(site, site_image_url("http://x"), central))
    while replicator.drain_once():
        pass


def hub(uri: str) -> CentralCollection:
    """The fleet's central collection of the test model."""
    return CentralCollection(connect(uri), MODEL, DIM).ensure()
