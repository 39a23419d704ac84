"""The outbox loop: take the oldest rows of a queue, deliver them, acknowledge what was delivered.

Shared by fleet replication and alert delivery. Rows are acknowledged only after delivery, so a crash in
between replays them (consumers make replays harmless) and nothing is dropped. While the far side is away
the worker keeps the rows and retries with capped, jittered exponential backoff.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Any

from index.outbox import Queue
from index.worker import Worker

log = logging.getLogger(__name__)
Deliver = Callable[[list[tuple[Any, ...]]], int]  # rows (seq, *columns) -> how many, from the first, went


class PartialDelivery(Exception):
    """The first `done` rows of a batch were delivered, then delivery failed (`cause` says why)."""

    def __init__(self, done: int, cause: BaseException) -> None:
        super().__init__(f"{done} delivered, then {type(cause).__name__}: {cause}")
        self.done, self.cause = done, cause


class Drainer(Worker):
    """A background worker that drains one queue through `deliver`, in order, in batches."""

    def __init__(
        self,
        name: str,
        queue: Queue,
        deliver: Deliver,
        batch: int = 256,
        poll_s: float = 1.0,
        max_backoff_s: float = 30.0,
        on_failure: Callable[[], None] | None = None,
    ) -> None:
        self.name, self.queue, self.deliver = name, queue, deliver
        self.batch, self.poll_s, self.max_backoff_s = batch, poll_s, max_backoff_s
        self.on_failure = on_failure  # e.g. drop a connection so the next attempt reconnects
        self.delivered = 0  # rows acknowledged since start
        self.last_error: str | None = None
        self.last_success: float | None = None
        super().__init__(name)

    def _run(self) -> None:
        delay = 0.0
        while not self.stopping:
            try:
                moved = self.drain_once()
                delay = 0.0
            except Exception as exc:  # the far side away, timed out, refused: keep the rows, back off
                cause = exc.cause if isinstance(exc, PartialDelivery) else exc
                self.last_error = f"{type(cause).__name__}: {cause}"
                if self.on_failure is not None:
                    self.on_failure()
                delay = min(self.max_backoff_s, max(0.5, 2 * delay))
                log.warning("%s failed (retry in %.1fs): %s", self.name, delay, self.last_error)
                self.back_off(delay * random.uniform(0.8, 1.2))
                continue
            if moved < self.batch:
                self.pause(self.poll_s)

    def drain_once(self) -> int:
        """Deliver the oldest batch, then acknowledge it -> rows delivered; raises when delivery failed
        (after acknowledging the rows a PartialDelivery says went)."""
        rows = self.queue.take(self.batch)
        if not rows:
            self.last_success = time.time()
            return 0
        try:
            done = self.deliver(rows)
        except PartialDelivery as partial:
            self._ack(rows, partial.done)
            raise
        self._ack(rows, done)
        self.last_error, self.last_success = None, time.time()
        return done

    def _ack(self, rows: list[tuple[Any, ...]], done: int) -> None:
        """Acknowledge the first `done` rows."""
        if done > 0:
            self.queue.ack(int(rows[done - 1][0]))
            self.delivered += done

    def status(self) -> dict[str, Any]:
        """Backlog and health, for /health and /metrics."""
        pending, oldest = self.queue.backlog()
        return {
            "pending": pending,
            "oldest_age_s": round(time.time() - oldest, 3) if oldest is not None else None,
            "delivered": self.delivered,
            "last_error": self.last_error,
            "last_success_age_s": round(time.time() - self.last_success, 3) if self.last_success else None,
        }
