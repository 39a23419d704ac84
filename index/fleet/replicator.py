"""Replicator: drains a gallery's outbox into the fleet's central collection, in batches, in order.

Each batch is upserted and deleted in Milvus first and acknowledged in SQLite after, so a crash in between
replays it (upserts by global id make that harmless) and nothing is ever dropped. While Milvus is away the
edge keeps serving; the worker retries with capped exponential backoff and reconnects from scratch.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from index.fleet.central import CentralCollection, central_row, global_id
from index.milvus_conn import connect
from index.outbox import Change, Outbox
from index.records import Records

if TYPE_CHECKING:
    from index.gallery import Gallery

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplicaTarget:
    """Where and as whom a gallery replicates."""

    site: str
    image_url: Callable[[int], str]  # a local item id -> the link to its image that fleet users follow
    connect: Callable[[], CentralCollection]  # opens (and ensures) the central collection


class Replicator:
    """A background worker that keeps the central collection equal to this site's gallery."""

    def __init__(
        self,
        records: Records,
        dim: int,
        target: ReplicaTarget,
        batch: int = 256,
        poll_s: float = 1.0,
        max_backoff_s: float = 30.0,
    ) -> None:
        self.records, self.dim, self.target = records, dim, target
        self.outbox = Outbox(records)
        self.batch, self.poll_s, self.max_backoff_s = batch, poll_s, max_backoff_s
        self.central: CentralCollection | None = None
        self.replicated = 0  # changes acknowledged by Milvus since start
        self.last_error: str | None = None
        self.last_success: float | None = None
        self._wake, self._stop = threading.Event(), threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the worker thread."""
        self._thread = threading.Thread(target=self._run, name="fleet-replicator", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Drain now instead of at the next poll (called after each gallery change)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker; what is still queued stays in the outbox for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        delay = 0.0
        while not self._stop.is_set():
            try:
                moved = self.drain_once()
                delay = 0.0
            except Exception as exc:  # Milvus away, timed out, refused: keep the rows, back off, reconnect
                self.central, self.last_error = None, f"{type(exc).__name__}: {exc}"
                delay = min(self.max_backoff_s, max(0.5, 2 * delay))
                log.warning("fleet replication failed (retry in %.1fs): %s", delay, self.last_error)
                self._stop.wait(delay * random.uniform(0.8, 1.2))
                continue
            if moved < self.batch:
                self._wake.wait(self.poll_s)
                self._wake.clear()

    def drain_once(self) -> int:
        """Send the oldest batch of queued changes to Milvus, then acknowledge it -> changes sent."""
        changes = self.outbox.take(self.batch)
        if not changes:
            self.last_success = time.time()
            return 0
        if self.central is None:
            self.central = self.target.connect()
        self._apply(self.central, changes)
        self.outbox.ack(changes[-1].seq)
        self.replicated += len(changes)
        self.last_error, self.last_success = None, time.time()
        return len(changes)

    def _apply(self, central: CentralCollection, changes: list[Change]) -> None:
        """Upsert the items whose last change here is an upsert, delete the rest, run any sweep."""
        last = {c.item_id: c.op for c in changes if c.op != "sweep"}
        upserts = sorted(i for i, op in last.items() if op == "upsert")
        rows = self.records.items(upserts, self.dim)  # an item deleted since is skipped: its delete follows
        site, link = self.target.site, self.target.image_url
        central.upsert([central_row(site, item, vec, link(item.id)) for item, vec in rows.values()])
        central.delete(global_id(site, i) for i, op in last.items() if op == "delete")
        if any(c.op == "sweep" for c in changes):
            gone = np.setdiff1d(central.site_ids(site), self.records.ids())
            central.delete(global_id(site, int(i)) for i in gone)

    def status(self) -> dict[str, Any]:
        """Backlog and health of replication, for /health and /metrics."""
        pending, oldest = self.outbox.backlog()
        return {
            "site_id": self.target.site,
            "pending": pending,
            "oldest_age_s": round(time.time() - oldest, 3) if oldest is not None else None,
            "replicated": self.replicated,
            "connected": self.central is not None and self.last_error is None,
            "last_error": self.last_error,
            "last_success_age_s": round(time.time() - self.last_success, 3) if self.last_success else None,
        }


def replicate(
    gallery: Gallery,
    uri: str,
    site: str,
    image_url: Callable[[int], str],
    token: str | None = None,
    **options: Any,
) -> Replicator:
    """Start replicating an open gallery (opened with this site_id) into the fleet at `uri`; `image_url`
    gives each item's image link as fleet users reach this site (the service knows its routes)."""
    model_id, dim = gallery.model_id, gallery.dim

    def central() -> CentralCollection:
        return CentralCollection(connect(uri, token), model_id, dim).ensure()

    replicator = Replicator(gallery.records, dim, ReplicaTarget(site, image_url, central), **options)
    gallery.listeners.append(replicator.wake)
    replicator.start()
    return replicator
