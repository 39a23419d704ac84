"""Replicator: drains a gallery's outbox into the fleet's central collection, in batches, in order.

Each batch is upserted and deleted in Milvus first and acknowledged in SQLite after (the outbox loop of
index/drainer.py), so a crash in between replays it (upserts by global id make that harmless) and nothing
is ever dropped. While Milvus is away the edge keeps serving; the loop retries with capped exponential
backoff and reconnects from scratch.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from index.drainer import Drainer
from index.fleet.central import CentralCollection, central_row, global_id
from index.milvus_conn import connect
from index.outbox import Change, Outbox
from index.records import Records

if TYPE_CHECKING:
    from index.gallery import Gallery


@dataclass(frozen=True)
class ReplicaTarget:
    """Where and as whom a gallery replicates."""

    site: str
    image_url: Callable[[int], str]  # a local item id -> the link to its image that fleet users follow
    connect: Callable[[], CentralCollection]  # opens (and ensures) the central collection


class Replicator:
    """A background worker that keeps the central collection equal to this site's gallery: the outbox
    loop (index/drainer.py) over the fleet's outbox, delivering to Milvus."""

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
        self.batch = batch
        self.central: CentralCollection | None = None
        self.drainer = Drainer(
            "fleet-replicator", self.outbox, self._deliver, batch, poll_s, max_backoff_s, self._disconnect
        )

    @property
    def replicated(self) -> int:
        """Changes acknowledged by Milvus since start."""
        return self.drainer.delivered

    @property
    def last_error(self) -> str | None:
        """The last failure, until the next success."""
        return self.drainer.last_error

    def start(self) -> None:
        """Run the worker thread."""
        self.drainer.start()

    def wake(self) -> None:
        """Drain now instead of at the next poll (called after each gallery change)."""
        self.drainer.wake()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the worker; what is still queued stays in the outbox for the next start."""
        self.drainer.stop(timeout)

    def drain_once(self) -> int:
        """Send the oldest batch of queued changes to Milvus, then acknowledge it -> changes sent."""
        return self.drainer.drain_once()

    def _disconnect(self) -> None:
        """After a failure: reconnect from scratch next time."""
        self.central = None

    def _deliver(self, rows: list[tuple[Any, ...]]) -> int:
        """Apply a batch to Milvus (all of it or, raising, none)."""
        if self.central is None:
            self.central = self.target.connect()
        self._apply(self.central, [Change(*row) for row in rows])
        return len(rows)

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
        drained = self.drainer.status()
        return {
            "site_id": self.target.site,
            "pending": drained["pending"],
            "oldest_age_s": drained["oldest_age_s"],
            "replicated": drained["delivered"],
            "connected": self.central is not None and self.last_error is None,
            "last_error": drained["last_error"],
            "last_success_age_s": drained["last_success_age_s"],
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
