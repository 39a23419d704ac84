"""Cross-request micro-batching: one worker thread per tower gathers queued items into batches.

Requests submit items and await futures; the worker takes the oldest item, lingers up to max_wait
(counted from that item's arrival, so a busy worker adds no extra delay) for more items while the
batch is short, runs the batch off the event loop and hands each item its row. The queue is bounded:
a submission that does not fit is refused whole, and the caller answers 429 with Retry-After.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import numpy as np

log = logging.getLogger(__name__)
T = TypeVar("T")


class QueueFullError(RuntimeError):
    """The tower's queue cannot take the submission now; retry after `retry_after` seconds."""

    def __init__(self, tower: str, depth: int, capacity: int, retry_after: int) -> None:
        super().__init__(f"the {tower} queue is full ({depth} of {capacity} queued); retry in {retry_after}s")
        self.tower, self.retry_after = tower, retry_after


@dataclass(frozen=True)
class BatchInfo:
    """How the batch an item rode in was run: its id, size and the time its stages took."""

    batch_id: int
    size: int
    stages_ms: dict[str, float]


@dataclass(frozen=True)
class BatchResult:
    """One item's output row, the batch it came from, and what its follow-up returned."""

    row: np.ndarray
    batch: BatchInfo
    value: Any = None
    follow_ms: float = 0.0


# A batch function maps payloads to rows [N, D] and the milliseconds each of its stages took.
BatchFn = Callable[[list[T]], tuple[np.ndarray, dict[str, float]]]
# A follow-up runs with an item's row right after its batch: on the worker for a lone item (two fewer
# thread hand-offs), on a small pool for the items of a larger batch (so slow searches run side by side).
FollowUp = Callable[[np.ndarray], Any]


@dataclass
class _Item(Generic[T]):
    payload: T
    future: Future[BatchResult]
    then: FollowUp | None = None
    arrived: float = field(default_factory=time.perf_counter)


class MicroBatcher(Generic[T]):
    """A bounded queue and worker threads (one by default) running `fn` on batches of up to max_batch."""

    def __init__(
        self,
        name: str,
        fn: BatchFn[T],
        max_batch: int,
        max_wait_ms: float,
        queue_size: int,
        on_batch: Callable[[str, int], None] | None = None,
        workers: int = 1,
        follow_threads: int = 4,
    ) -> None:
        self.name, self.fn, self.on_batch = name, fn, on_batch
        self.max_batch, self.max_wait = max_batch, max_wait_ms / 1000.0
        self.capacity = queue_size
        self._queue: deque[_Item[T]] = deque()
        self._cond = threading.Condition()
        self._stopping = False
        self._last_size = 1
        self._batch_ids = itertools.count(1)
        self._batch_seconds = 0.01  # running average, for Retry-After
        # A lone item's follow-up runs on the worker (no hand-off); a batch's run side by side here.
        self._follow = ThreadPoolExecutor(follow_threads, thread_name_prefix=f"batcher-{name}-then")
        self._threads = [
            threading.Thread(target=self._run, name=f"batcher-{name}-{i}", daemon=True)
            for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def depth(self) -> int:
        """Items waiting now (not counting the batch being run)."""
        return len(self._queue)

    def retry_after(self) -> int:
        """Seconds until the queue has likely drained, at least 1."""
        batches = math.ceil((self.depth + 1) / self.max_batch)
        return max(1, math.ceil(batches * self._batch_seconds))

    def submit(self, payloads: Sequence[T], then: FollowUp | None = None) -> list[Future[BatchResult]]:
        """Queue all payloads or none; raises QueueFullError when they do not fit."""
        items = [_Item(p, Future(), then) for p in payloads]
        with self._cond:
            if self._stopping:
                raise RuntimeError(f"the {self.name} batcher is stopped")
            if len(self._queue) + len(items) > self.capacity:
                raise QueueFullError(self.name, len(self._queue), self.capacity, self.retry_after())
            self._queue.extend(items)
            self._cond.notify(len(items))
        return [item.future for item in items]

    async def run(self, payloads: Sequence[T], then: FollowUp | None = None) -> list[BatchResult]:
        """Submit payloads and await their rows (and follow-ups) without blocking the event loop."""
        futures = self.submit(payloads, then)
        return list(await asyncio.gather(*(asyncio.wrap_future(f) for f in futures)))

    def stop(self, timeout: float = 5.0) -> None:
        """Finish what is queued, then end the worker threads."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        for thread in self._threads:
            thread.join(timeout)
        self._follow.shutdown(wait=True)

    def _take_batch(self) -> list[_Item[T]]:
        """Block for the oldest item, then gather more until full or its deadline passes."""
        with self._cond:
            while not self._queue and not self._stopping:
                self._cond.wait()
            if not self._queue:
                return []
            # Linger only when the last batch showed concurrency; a lone client never waits.
            linger = self._last_size > 1 and self.max_wait > 0
            deadline = self._queue[0].arrived + self.max_wait
            while linger and len(self._queue) < self.max_batch and not self._stopping:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            count = min(self.max_batch, len(self._queue))
            batch = [self._queue.popleft() for _ in range(count)]
            if self._queue:
                self._cond.notify()  # another worker may start on the rest
            return batch

    def _run(self) -> None:
        """Worker loop: take a batch, run it, deliver rows or the exception to every item."""
        while True:
            batch = self._take_batch()
            if not batch:
                return
            batch = [item for item in batch if item.future.set_running_or_notify_cancel()]
            if batch:
                self._run_batch(batch)

    def _run_batch(self, batch: list[_Item[T]]) -> None:
        """Run fn on one batch and resolve its futures."""
        start = time.perf_counter()
        try:
            rows, stages = self.fn([item.payload for item in batch])
        except Exception as exc:  # delivered to every waiting request; the worker lives on
            log.exception("%s batch of %d failed", self.name, len(batch))
            for item in batch:
                item.future.set_exception(exc)
            return
        elapsed = time.perf_counter() - start
        self._batch_seconds = 0.8 * self._batch_seconds + 0.2 * elapsed
        self._last_size = len(batch)
        if self.on_batch is not None:
            self.on_batch(self.name, len(batch))
        info = BatchInfo(next(self._batch_ids), len(batch), stages)
        for i, item in enumerate(batch):
            if len(batch) == 1 or item.then is None:
                _deliver(item, rows[i], info)
            else:
                self._follow.submit(_deliver, item, rows[i], info)


def _deliver(item: _Item[Any], row: np.ndarray, info: BatchInfo) -> None:
    """Run the item's follow-up, if any, and resolve its future with the row or the error."""
    if item.then is None:
        item.future.set_result(BatchResult(row, info))
        return
    start = time.perf_counter()
    try:
        value = item.then(row)
    except Exception as exc:  # this item's follow-up failed; the others are unaffected
        item.future.set_exception(exc)
        return
    item.future.set_result(BatchResult(row, info, value, (time.perf_counter() - start) * 1000.0))


def timed(stages: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    """Call fn, add its wall time in ms to stages[name], return its result."""
    start = time.perf_counter()
    out = fn()
    stages[name] = stages.get(name, 0.0) + (time.perf_counter() - start) * 1000.0
    return out
