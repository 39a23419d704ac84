"""The two towers behind micro-batchers, plus the LRU cache of query embeddings."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.concurrency import run_in_threadpool

from engine.encoder import Encoder
from engine.graph_io import Tower
from service.batcher import BatchResult, FollowUp, MicroBatcher, timed
from service.settings import BatchingSettings


class QueryCache:
    """Least-recently-used map from a cleaned query text to its embedding."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> np.ndarray | None:
        """The cached embedding, refreshed as most recent, or None."""
        with self._lock:
            row = self._items.get(key)
            if row is not None:
                self._items.move_to_end(key)
            return row

    def put(self, key: str, row: np.ndarray) -> None:
        """Remember an embedding, evicting the least recently used beyond size."""
        if self.size <= 0:
            return
        with self._lock:
            self._items[key] = row
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


def _batch_stages(results: list[BatchResult], wall_ms: float) -> dict[str, float]:
    """A request's share of its batches: each distinct batch's stage times, the rest is queue wait."""
    stages: dict[str, float] = {}
    seen: set[int] = set()
    for result in results:
        if result.batch.batch_id in seen:
            continue
        seen.add(result.batch.batch_id)
        for name, ms in result.batch.stages_ms.items():
            stages[name] = stages.get(name, 0.0) + ms
    stages["queue"] = max(0.0, wall_ms - sum(stages.values()))
    return stages


class Towers:
    """Text and image encoding for requests, batched across requests, off the event loop."""

    def __init__(
        self, encoder: Encoder, batching: BatchingSettings, on_batch: Callable[[str, int], None] | None = None
    ) -> None:
        self.encoder = encoder
        self.cache = QueryCache(batching.query_cache_size)
        text, image = batching.text, batching.image
        self.text = MicroBatcher[str](
            Tower.TEXT,
            self._encode_texts,
            text.max_batch,
            text.max_wait_ms,
            text.queue_size,
            on_batch,
            text.workers,
        )
        self.image = MicroBatcher[np.ndarray](
            Tower.IMAGE,
            self._encode_pixels,
            image.max_batch,
            image.max_wait_ms,
            image.queue_size,
            on_batch,
            image.workers,
        )

    def _encode_texts(self, texts: list[str]) -> tuple[np.ndarray, dict[str, float]]:
        """Tokenize the batch together, so it runs at its longest real length, then encode."""
        stages: dict[str, float] = {}
        ids, _ = timed(stages, "preprocess", lambda: self.encoder.tokenizer(texts))  # (B, L)
        return timed(stages, "encode", lambda: self.encoder.encode_tokens(ids)), stages  # (B, D)

    def _encode_pixels(self, pixels: list[np.ndarray]) -> tuple[np.ndarray, dict[str, float]]:
        """Stack preprocessed crops and run the image tower."""
        stages: dict[str, float] = {}
        batch = np.stack(pixels)  # (B, 3, H, W)
        return timed(stages, "encode", lambda: self.encoder.encode_pixels(batch)), stages  # (B, D)

    async def search_text(self, text: str, search: FollowUp) -> tuple[Any, dict[str, float], bool]:
        """Embed a description (batched, cached), then run search(embedding [D]) on the text worker.

        Returns (what search returned, stage ms, whether the embedding came from the cache).
        """
        key = " ".join(text.split()).lower()  # cheap; the tokenizer's own cleaning is heavier
        cached = self.cache.get(key)
        start = time.perf_counter()
        if cached is not None:
            value = await run_in_threadpool(search, cached)
            ms = (time.perf_counter() - start) * 1000.0
            return value, {"preprocess": 0.0, "encode": 0.0, "queue": 0.0, "search": ms}, True
        (result,) = await self.text.run([text], then=search)
        self.cache.put(key, result.row)
        stages = _batch_stages([result], (time.perf_counter() - start) * 1000.0 - result.follow_ms)
        stages["search"] = result.follow_ms
        return result.value, stages, False

    async def embed_pixels(self, pixels: np.ndarray) -> tuple[np.ndarray, dict[str, float]]:
        """Preprocessed crops [N, 3, H, W] -> (embeddings [N, D], stage ms)."""
        if len(pixels) == 0:
            return np.zeros((0, self.encoder.embed_dim), np.float32), {}
        start = time.perf_counter()
        results = await self.image.run(list(pixels))
        rows = np.stack([r.row for r in results])  # (N, D)
        return rows, _batch_stages(results, (time.perf_counter() - start) * 1000.0)

    def warm_up(self) -> None:
        """Run the loaded towers at batch 1 and at their max batch so first requests pay no start-up cost."""
        h, w = self.encoder.spec.image_size
        words = "a person in a red jacket and blue jeans carrying a black bag"
        for n in sorted({1, self.text.max_batch}):
            self._encode_texts([words] * n)
        for n in sorted({1, self.image.max_batch}) if Tower.IMAGE in self.encoder.towers else ():
            self._encode_pixels([np.zeros((3, h, w), np.float32)] * n)

    def stop(self) -> None:
        """Stop both workers after their queues drain."""
        self.text.stop()
        self.image.stop()
