"""The audit trail as routes use it: `runtime.audit.record(action, actor, details)` queues one row and
returns at once; a background writer chains and commits rows in batches (index.audit_log).

The queue is bounded and never drops: when it is full (the disk stalls) `record` answers 503, so a search
or view whose row cannot be kept returns nothing (a change, recorded once done, is answered 503 and its
row is lost and logged; the writer's error is in /health). A crash (kill -9, power cut)
loses only rows still queued: those of the last `linger_s` (50 ms) and the commit in flight; a committed
row survives and the chain stays valid. A clean stop writes every queued row first.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from index.audit_chain import AuditEntry, canonical_details
from index.audit_log import AUDIT_FILE, AuditLog
from service.audit_details import check_details
from service.errors import ApiError
from service.keys import Actor
from service.settings import Settings

log = logging.getLogger(__name__)
BATCH = 512  # rows per transaction at most


class Action(StrEnum):
    """What an audit row records."""

    SEARCH = "search"
    VIEW_IMAGE = "view.image"
    VIEW_FRAME = "view.frame"
    VIEW_TRACK = "view.track"
    EXPORT = "export"
    GALLERY_DELETE = "gallery.delete"
    WATCHLIST_CREATE = "watchlist.create"
    WATCHLIST_DELETE = "watchlist.delete"
    CAMERA_CREATE = "camera.create"
    CAMERA_DELETE = "camera.delete"
    AUTH_DENIED = "auth.denied"
    AUDIT_READ = "audit.read"
    HOLD_PLACE = "hold.place"
    HOLD_RELEASE = "hold.release"
    ERASURE_PREVIEW = "erasure.preview"
    ERASURE = "erasure"
    PURGE = "retention.purge"
    PURGE_MISSING_FILES = "retention.missing_files"  # rows removed because their image files were gone


def audit_path(settings: Settings) -> Path | None:
    """Where the trail lives: audit.file, else the data directory's audit.sqlite3; None when off."""
    if not settings.audit.enabled:
        return None
    if settings.audit.file is not None:
        return settings.audit.file
    data_dir = settings.index.data_dir
    return data_dir / AUDIT_FILE if data_dir is not None else None


def utc_text(when: datetime) -> str:
    """A time as the trail stores it (UTC, microseconds), so that text order is time order."""
    aware = when if when.tzinfo is not None else when.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat(timespec="microseconds")


class AuditTrail:
    """The bounded queue and its writer thread; with no path, recording does nothing."""

    def __init__(self, path: Path | None, queue_size: int, linger_s: float = 0.0) -> None:
        self.path, self.linger_s = path, linger_s
        self._queue: queue.Queue[AuditEntry | None] = queue.Queue(queue_size)
        self._log: AuditLog | None = None
        self._thread: threading.Thread | None = None
        self.written = 0
        self.last_error: str | None = None

    def open(self) -> None:
        """Open (or create) the trail and start the writer; raises if the file cannot be opened."""
        if self.path is None:
            log.warning("the audit trail is off (audit.enabled=false, or no data dir and no audit.file)")
            return
        self._log = AuditLog(self.path)
        self._thread = threading.Thread(target=self._run, name="audit-writer", daemon=True)
        self._thread.start()

    def record(self, action: str, actor: Actor, details: dict[str, Any]) -> None:
        """Queue one row (who, when, from where, what); 503 when the queue is full."""
        if self.path is None:
            return
        text = canonical_details(check_details(str(action), details))
        entry = AuditEntry(utc_text(datetime.now(UTC)), actor.name, actor.address, str(action), text)
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
            log.error("audit queue full: row not kept: %s by %s from %s", action, actor.name, actor.address)
            raise ApiError(
                503, "the audit trail cannot keep up (is its disk full?)", headers={"Retry-After": "5"}
            ) from None

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued row is committed -> whether that happened within the timeout."""
        done = self._queue.all_tasks_done
        with done:
            return done.wait_for(lambda: self._queue.unfinished_tasks == 0, timeout)

    def reader(self) -> AuditLog:
        """The open trail, for queries; 503 when auditing is off."""
        if self._log is None:
            raise ApiError(503, "the audit trail is off: set a data dir or audit.file, and audit.enabled")
        return self._log

    def stop(self) -> None:
        """Write what is queued, stop the writer, close the file."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(60)
        if self._log is not None:
            self._log.close()

    def status(self) -> dict[str, Any]:
        """For /health: on or off, where, rows waiting and written, the last write error."""
        return {
            "enabled": self.path is not None,
            "file": str(self.path) if self.path is not None else None,
            "backlog": self._queue.qsize(),
            "written": self.written,
            "last_error": self.last_error,
        }

    def _run(self) -> None:
        """Take what is queued (up to BATCH rows, waiting linger_s for more after the first), commit it
        as one transaction, repeat until stopped. Lingering makes one commit (three fsyncs) serve many
        requests: committing row by row cost each search of a quiet 2-core box 20% more."""
        while True:
            batch = [self._queue.get()]
            until = time.monotonic() + self.linger_s
            while len(batch) < BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get(timeout=max(0.0, until - time.monotonic())))
                except queue.Empty:
                    break
            stopping = batch[-1] is None
            self._write([e for e in batch if e is not None], stopping)
            for _ in batch:
                self._queue.task_done()
            if stopping:
                return

    def _write(self, entries: list[AuditEntry], stopping: bool) -> None:
        """Append, retrying with back-off while the disk fails (a stop gives up after a few tries)."""
        assert self._log is not None
        delay = 0.05
        for attempt in itertools.count(1):
            try:
                self._log.append(entries)
                self.written += len(entries)
                self.last_error = None
                return
            except Exception as exc:  # sqlite3.Error, OSError: keep the rows and try again
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception(
                    "audit write failed (attempt %d); %d rows kept in memory", attempt, len(entries)
                )
                if stopping and attempt >= 3:
                    log.error("stopping: %d audit rows could not be written", len(entries))
                    return
                time.sleep(delay)
                delay = min(delay * 2, 5.0)
