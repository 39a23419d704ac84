"""The micro-batcher: batches across callers, keeps order, bounds its queue, survives failures."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pytest

from service.batcher import MicroBatcher, QueueFullError
from service.latency import LatencyTracker
from service.towers import QueryCache


def _echo(sizes: list[int]):
    """A batch function that returns each payload as a one-value row and records batch sizes."""

    def run(items: list[int]) -> tuple[np.ndarray, dict[str, float]]:
        sizes.append(len(items))
        return np.array(items, np.float32)[:, None], {"encode": 0.0}

    return run


def test_concurrent_submissions_share_batches_and_keep_order() -> None:
    sizes: list[int] = []
    batcher = MicroBatcher("t", _echo(sizes), max_batch=8, max_wait_ms=20, queue_size=64)

    async def main() -> list[float]:
        results = await asyncio.gather(*(batcher.run([i]) for i in range(24)))
        return [float(r[0].row[0]) for r in results]

    try:
        assert asyncio.run(main()) == list(range(24))
    finally:
        batcher.stop()
    assert max(sizes) <= 8
    assert len(sizes) < 24  # some requests rode together


def test_multi_item_submission_returns_rows_in_order() -> None:
    batcher = MicroBatcher("t", _echo([]), max_batch=4, max_wait_ms=0, queue_size=64)
    try:
        results = asyncio.run(batcher.run(list(range(10))))
    finally:
        batcher.stop()
    assert [float(r.row[0]) for r in results] == list(range(10))


def test_a_lone_request_does_not_wait_for_partners() -> None:
    batcher = MicroBatcher("t", _echo([]), max_batch=8, max_wait_ms=500, queue_size=8)
    try:
        start = time.perf_counter()
        asyncio.run(batcher.run([1]))
        assert time.perf_counter() - start < 0.25
    finally:
        batcher.stop()


def test_full_queue_refuses_whole_submission_with_retry_after() -> None:
    release = threading.Event()

    def slow(items: list[int]) -> tuple[np.ndarray, dict[str, float]]:
        release.wait(5)
        return np.zeros((len(items), 1), np.float32), {}

    batcher = MicroBatcher("image", slow, max_batch=1, max_wait_ms=0, queue_size=2)
    try:
        first = batcher.submit([0])  # taken by the worker, which now blocks
        time.sleep(0.05)
        batcher.submit([1, 2])  # fills the queue
        with pytest.raises(QueueFullError) as caught:
            batcher.submit([3])
        assert caught.value.retry_after >= 1 and "image" in str(caught.value)
        assert batcher.depth == 2
    finally:
        release.set()
        batcher.stop()
    assert first[0].result(5).row.shape == (1,)


def test_a_failing_batch_reaches_its_callers_and_the_worker_lives_on() -> None:
    calls = []

    def flaky(items: list[int]) -> tuple[np.ndarray, dict[str, float]]:
        calls.append(items)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return np.ones((len(items), 1), np.float32), {}

    batcher = MicroBatcher("t", flaky, max_batch=4, max_wait_ms=0, queue_size=8)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            asyncio.run(batcher.run([1]))
        assert asyncio.run(batcher.run([2]))[0].row[0] == 1.0
    finally:
        batcher.stop()


def test_query_cache_evicts_least_recently_used() -> None:
    cache = QueryCache(2)
    cache.put("a", np.zeros(2)), cache.put("b", np.ones(2))
    assert cache.get("a") is not None  # a is now most recent
    cache.put("c", np.ones(2))
    assert cache.get("b") is None and cache.get("a") is not None and cache.get("c") is not None


def test_latency_percentiles_and_counts() -> None:
    tracker = LatencyTracker(window=100)
    for ms in range(1, 201):
        tracker.observe("search", {"total": float(ms)})
    total = tracker.summary()["search"]["total"]
    assert total["count"] == 200 and total["window"] == 100
    assert total["max_ms"] == 200.0 and 149 <= total["p50_ms"] <= 151 and total["p99_ms"] >= 198


def test_several_workers_run_batches_at_once() -> None:
    both_running = threading.Barrier(2, timeout=5)

    def meet(items: list[int]) -> tuple[np.ndarray, dict[str, float]]:
        both_running.wait()  # only returns when two batches are in flight together
        return np.zeros((len(items), 1), np.float32), {}

    batcher = MicroBatcher("t", meet, max_batch=1, max_wait_ms=0, queue_size=8, workers=2)
    try:
        futures = batcher.submit([1, 2])
        assert [f.result(5).row.shape for f in futures] == [(1,), (1,)]
    finally:
        batcher.stop()


def test_follow_ups_run_after_the_batch_and_fail_alone() -> None:
    batcher = MicroBatcher("t", _echo([]), max_batch=4, max_wait_ms=0, queue_size=8)

    def double_or_fail(row: np.ndarray) -> float:
        if row[0] == 2:
            raise ValueError("no twos")
        return float(row[0]) * 2

    try:
        ok = batcher.submit([1, 3], then=double_or_fail)
        bad = batcher.submit([2], then=double_or_fail)
        assert [f.result(5).value for f in ok] == [2.0, 6.0]
        assert ok[0].result().follow_ms >= 0
        with pytest.raises(ValueError, match="no twos"):
            bad[0].result(5)
    finally:
        batcher.stop()


def test_follow_ups_of_one_batch_run_side_by_side() -> None:
    together = threading.Barrier(2, timeout=5)
    batcher = MicroBatcher("t", _echo([]), max_batch=4, max_wait_ms=0, queue_size=8)
    try:
        futures = batcher.submit([1, 2], then=lambda row: together.wait())  # deadlocks if run one by one
        assert sorted(f.result(5).value for f in futures) == [0, 1]
    finally:
        batcher.stop()
