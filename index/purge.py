"""The retention purge: a background worker removing expired crops in batches, with all they left behind.

Each batch is one gallery removal (rows, vectors, outbox deletes for the fleet, then files), so a crash
loses nothing half-way: a committed batch left files behind at most, which the next lone open sweeps,
and the next run picks up the expired items that were not removed yet. The first run after a start also
looks for rows whose files are gone (damage: a purge never unlinks a file before its row commits) and
reports and removes them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from index.holds import Holds
from index.removal import OnHold, Removal
from index.retention import RetentionPolicy, expired, oldest
from index.rows import CHUNK
from index.worker import Worker

if TYPE_CHECKING:
    from index.gallery import Gallery

log = logging.getLogger(__name__)
OnRemoved = Callable[[str, Removal], None]  # (why: "retention" | "missing_file", what went)


def _iso(moment: float | None) -> str | None:
    """Unix seconds as ISO 8601 UTC, for /health."""
    return datetime.fromtimestamp(moment, UTC).isoformat() if moment is not None else None


@dataclass(frozen=True)
class PurgeRun:
    """What one run removed."""

    started: float  # Unix seconds
    purged: int
    batches: int
    missing_files: list[int]  # rows removed because their image file was gone
    frames_cleared: list[int]  # rows whose evidence frame was gone (the crop stays, without it)


class Purger(Worker):
    """Runs the retention policy over one gallery every `interval_s`, `batch` items per removal."""

    def __init__(
        self,
        gallery: Gallery,
        policy: RetentionPolicy,
        batch: int = 256,
        interval_s: float = 300.0,
        on_removed: OnRemoved | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if batch < 1 or interval_s <= 0:
            raise ValueError(f"a purge needs batch >= 1 and interval_s > 0, got {batch} and {interval_s}")
        self.gallery, self.policy, self.batch, self.interval_s = gallery, policy, batch, interval_s
        self.on_removed, self.clock = on_removed, clock
        self.purged = 0  # items removed since start
        self.last: PurgeRun | None = None
        self.last_error: str | None = None
        self.next_run: float | None = None  # Unix seconds
        self._checked_files = False
        super().__init__("retention-purge")

    def start(self) -> None:
        """Run now (resuming whatever a crash interrupted), then every interval; a policy that keeps
        everything never runs."""
        if self.policy.keeps_everything:
            return
        self.next_run = self.clock()
        super().start()

    def _run(self) -> None:
        while not self.stopping:
            try:
                self.run_once()
                self.last_error = None
            except Exception as exc:  # a locked database, a Milvus store away: try again next interval
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("retention purge failed")
            self.next_run = self.clock() + self.interval_s
            self.pause(self.interval_s)

    def run_once(self) -> PurgeRun:
        """Remove every item expired now, batch by batch (and, the first time, rows without files)."""
        started = self.clock()
        missing, cleared = ([], []) if self._checked_files else self._check_files()
        self._checked_files = True
        purged = batches = 0
        while not self.stopping:
            ids = expired(self.gallery.records.conn(), self.policy, self.clock(), self.batch)
            if not ids:
                break
            removal = self.gallery.remove(ids, OnHold.SKIP)
            purged, batches = purged + len(removal.ids), batches + 1
            self.purged += len(removal.ids)
            self._report("retention", removal)
            if not removal.ids:  # every one was put on hold since it was selected: try again next run
                break
        if purged or missing:  # no page of a removed row left in SQLite's log; the FAISS snapshot, a
            self.gallery.records.checkpoint()  # whole-index write, follows at its next rebuild or close
        self.last = PurgeRun(started, purged, batches, missing, cleared)
        return self.last

    def _report(self, why: str, removal: Removal) -> None:
        if self.on_removed is not None and removal.ids:
            self.on_removed(why, removal)

    def _check_files(self) -> tuple[list[int], list[int]]:
        """Remove rows whose image file is gone and forget evidence frames that are gone, saying so."""
        images, conn = self.gallery.images, self.gallery.records.conn()
        no_image, no_frame = [], []
        for item_id, image, frame in conn.execute("SELECT id, image_path, frame_path FROM items"):
            if not images.has(image):
                no_image.append(int(item_id))
            elif frame is not None and not images.has(frame):
                no_frame.append(int(item_id))
        if no_image:
            log.warning("%d items had no image file; removing their rows: %s", len(no_image), no_image)
            self._report("missing_file", self.gallery.remove(no_image, OnHold.SKIP))
        if no_frame:
            log.warning("%d items lost their evidence frame file: %s", len(no_frame), no_frame)
            with self.gallery.records.write() as tx:
                for i in range(0, len(no_frame), CHUNK):
                    part = no_frame[i : i + CHUNK]
                    marks = ",".join("?" * len(part))
                    tx.execute(f"UPDATE items SET frame_path = NULL WHERE id IN ({marks})", part)
        return no_image, no_frame

    def status(self) -> dict[str, Any]:
        """For /health: the policy, the oldest item's age, the next run, what the last one did."""
        now = self.clock()
        found = oldest(self.gallery.records.conn())
        last = self.last
        return {
            "default_s": self.policy.default_s,
            "cameras_s": dict(self.policy.cameras),
            "batch_size": self.batch,
            "interval_s": self.interval_s,
            "oldest_item_id": found[0] if found else None,
            "oldest_item_age_s": round(now - found[1], 3) if found else None,
            "next_purge_at": _iso(self.next_run),
            "next_purge_in_s": round(max(0.0, self.next_run - now), 3) if self.next_run is not None else None,
            "purged": self.purged,
            "last_purge": None if last is None else {
                "at": _iso(last.started), "purged": last.purged, "batches": last.batches,
                "missing_files": len(last.missing_files), "frames_cleared": len(last.frames_cleared),
            },
            "holds": len(Holds(self.gallery.records).list()),
            "held_items": Holds(self.gallery.records).covered(),
            "last_error": self.last_error,
        }  # fmt: skip
