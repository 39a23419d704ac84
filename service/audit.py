"""The audit trail as routes use it: `runtime.audit.record(action, actor, details)` queues one row and
returns at once; a background writer chains and commits rows in batches (index.audit_log).

The queue is bounded and never drops: when it is full (the disk stalls) `record` answers 503, so an
action whose row cannot be kept is refused rather than left unaudited. A crash (kill -9, power cut)
loses only rows still queued, those recorded during the commit in flight (milliseconds); a committed row
survives and the chain stays valid. A clean stop writes every queued row first.
"""

from __future__ import annotations

import hashlib
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
from service.alert_schemas import WatchlistPublic
from service.errors import ApiError
from service.export import ExportEntry
from service.keys import Actor
from service.schemas import SearchRequest, SearchResults
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


def search_details(body: SearchRequest, results: SearchResults) -> dict[str, Any]:
    """What a search asked (description, example, filters) and how many results it got; no vectors."""
    asked = body.model_dump(mode="json", exclude_none=True, exclude={"like", "text_weight", "order"})
    if results.example is not None:
        asked["example"] = results.example  # {item_id}, {track_id} or {image_sha256}
    return {**asked, "count": results.count}


def export_details(asked: dict[str, Any], entries: list[ExportEntry], archive: bytes) -> dict[str, Any]:
    """What an export held: the request, the items, and the archive's sha256 (ties the ZIP to this row)."""
    request = {k: v for k, v in asked.items() if k in ("search", "tracks", "items")}
    return {
        **request,
        "exported_items": [e.item.id for e in entries],
        "archive_sha256": hashlib.sha256(archive).hexdigest(),
    }


def watchlist_details(watchlist: WatchlistPublic) -> dict[str, Any]:
    """What a new watchlist watches for (never its embedding, nor its webhook URL, which may hold a token)."""
    shown = watchlist.model_dump(mode="json", include={"id", "name", "kind", "text", "item_id", "cameras"})
    return {**shown, "sensitivity": watchlist.sensitivity, "webhook": watchlist.webhook_url is not None}


class AuditTrail:
    """The bounded queue and its writer thread; with no path, recording does nothing."""

    def __init__(self, path: Path | None, queue_size: int) -> None:
        self.path = path
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
        try:
            text = canonical_details(details)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"audit details of {action} must be plain JSON values, no bytes: {exc}") from exc
        entry = AuditEntry(utc_text(datetime.now(UTC)), actor.name, actor.address, str(action), text)
        try:
            self._queue.put_nowait(entry)
        except queue.Full:
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
        """Take what is queued (up to BATCH rows), commit it as one transaction, repeat until stopped."""
        while True:
            batch = [self._queue.get()]
            while len(batch) < BATCH and batch[-1] is not None:
                try:
                    batch.append(self._queue.get_nowait())
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
