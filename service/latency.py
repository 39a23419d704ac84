"""Rolling latency per pipeline and stage: p50/p90/p99/max over the last N observations, and counts."""

from __future__ import annotations

import threading
from collections import deque

import numpy as np

PIPELINES = ("search", "ingest")
STAGES = {
    "search": ("preprocess", "encode", "queue", "search", "total"),
    "ingest": ("decode", "preprocess", "encode", "queue", "index", "total"),
}


class LatencyTracker:
    """Thread-safe rolling windows of stage times in milliseconds."""

    def __init__(self, window: int = 2048) -> None:
        self._windows: dict[tuple[str, str], deque[float]] = {}
        self._counts: dict[tuple[str, str], int] = {}
        self.window = window
        self._lock = threading.Lock()

    def observe(self, pipeline: str, stages_ms: dict[str, float]) -> None:
        """Record one request's stage times."""
        with self._lock:
            for stage, ms in stages_ms.items():
                key = (pipeline, stage)
                self._windows.setdefault(key, deque(maxlen=self.window)).append(ms)
                self._counts[key] = self._counts.get(key, 0) + 1

    def summary(self) -> dict[str, dict[str, dict[str, float | int]]]:
        """{pipeline: {stage: {count, window, p50, p90, p99, max}}} with times in ms."""
        with self._lock:
            snapshot = {key: np.fromiter(values, float) for key, values in self._windows.items()}
            counts = dict(self._counts)
        out: dict[str, dict[str, dict[str, float | int]]] = {p: {} for p in PIPELINES}
        for (pipeline, stage), values in sorted(snapshot.items()):
            p50, p90, p99 = np.percentile(values, [50, 90, 99]) if len(values) else (0.0, 0.0, 0.0)
            out.setdefault(pipeline, {})[stage] = {
                "count": counts[(pipeline, stage)],
                "window": len(values),
                "p50_ms": round(float(p50), 3),
                "p90_ms": round(float(p90), 3),
                "p99_ms": round(float(p99), 3),
                "max_ms": round(float(values.max()) if len(values) else 0.0, 3),
            }
        return out
