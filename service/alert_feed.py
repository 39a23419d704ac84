"""Wakes Server-Sent Event streams (on the event loop) when the alert engine (a thread) records alerts."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class AlertFeed:
    """One asyncio.Event per open stream, set from any thread after new alerts commit."""

    def __init__(self) -> None:
        self._waiting: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()

    def notify(self, alert_ids: list[int]) -> None:
        """New alerts committed: wake every stream (the engine's listener)."""
        with self._lock:
            waiting = list(self._waiting)
        for loop, event in waiting:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    @contextmanager
    def subscribe(self) -> Iterator[asyncio.Event]:
        """An event set whenever alerts arrive, for the lifetime of one stream."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            self._waiting.add(entry)
        try:
            yield entry[1]
        finally:
            with self._lock:
                self._waiting.discard(entry)
