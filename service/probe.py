"""A value read by a blocking call (a Milvus count) in a background thread, so readers never wait on it.

/health, /metrics and search read the last value with its age; when the source hangs, the reading
thread waits alone and readers see the value go stale and the refresh reported as timed out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Reading(Generic[T]):
    """What a probe knows now: the last value read, how old it is, and how the last refresh went."""

    value: T | None  # the last value read successfully, or None before any
    age_s: float | None  # seconds since that read
    ok: bool  # the last refresh finished and succeeded, and none is overdue now
    timed_out: bool  # the last refresh ran (or is running) past the timeout
    error: str | None  # why the last refresh failed

    @property
    def settled(self) -> bool:
        """Whether any refresh has finished or overrun yet (False only just after start)."""
        return self.ok or self.timed_out or self.error is not None


class Probe(Generic[T]):
    """Calls `read` every `interval_s` on its own thread; `reading()` answers at once."""

    def __init__(self, name: str, read: Callable[[], T], interval_s: float, timeout_s: float) -> None:
        self.name, self.read, self.interval_s, self.timeout_s = name, read, interval_s, timeout_s
        self._lock = threading.Lock()
        self._value: T | None = None
        self._read_at: float | None = None
        self._ok, self._timed_out = False, False
        self._error: str | None = None
        self._running_since: float | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"probe-{name}", daemon=True)

    def start(self) -> None:
        """Begin refreshing."""
        self._thread.start()

    def stop(self) -> None:
        """Stop after the refresh in flight (a hung one is left behind: the thread is a daemon)."""
        self._stop.set()
        self._thread.join(self.timeout_s + 1.0)

    def refresh(self) -> None:
        """Read once now, on the calling thread, and record the outcome."""
        started = time.monotonic()
        with self._lock:
            self._running_since = started
        try:
            value = self.read()
        except Exception as exc:
            elapsed = time.monotonic() - started
            with self._lock:
                self._ok, self._error = False, f"{type(exc).__name__}: {exc}"
                self._timed_out = elapsed >= 0.9 * self.timeout_s  # a call's deadline fires about then
                self._running_since = None
            log.warning("%s refresh failed after %.1fs: %s", self.name, elapsed, self._error)
            return
        with self._lock:
            self._value, self._read_at, self._running_since = value, time.monotonic(), None
            self._ok, self._error, self._timed_out = True, None, False

    def reading(self) -> Reading[T]:
        """The last value, its age and the refresh state; never blocks on the source."""
        now = time.monotonic()
        with self._lock:
            running = now - self._running_since if self._running_since is not None else 0.0
            overdue = running >= self.timeout_s
            return Reading(
                value=self._value,
                age_s=round(now - self._read_at, 3) if self._read_at is not None else None,
                ok=self._ok and not overdue,
                timed_out=self._timed_out or overdue,
                error=f"no answer for {running:.1f}s" if overdue else self._error,
            )

    def _run(self) -> None:
        while not self._stop.is_set():
            self.refresh()
            self._stop.wait(self.interval_s)
