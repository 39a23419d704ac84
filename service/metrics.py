"""Prometheus metrics: stage histograms, queue depth, gallery size, requests and refusals."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

# Seconds; from sub-millisecond text encodes on a GPU to multi-second uploads on a small CPU.
BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    """One registry per app, so several apps (tests) never collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "person_search_stage_seconds",
            "Time per request spent in each stage",
            ["pipeline", "stage"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            "person_search_batch_size",
            "Items per micro-batch run by each tower",
            ["tower"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
            registry=self.registry,
        )
        self.requests = Counter(
            "person_search_requests",
            "HTTP requests by route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.ingested = Counter(
            "person_search_ingested_files", "Uploaded files by outcome", ["outcome"], registry=self.registry
        )
        self.queue_depth = Gauge(
            "person_search_queue_depth", "Items waiting for a micro-batch", ["tower"], registry=self.registry
        )
        self.gallery_size = Gauge(
            "person_search_gallery_size", "Items in the gallery", registry=self.registry
        )
        self.ready = Gauge("person_search_ready", "1 once warm-up is done", registry=self.registry)
        self.outbox_pending = Gauge(
            "person_search_outbox_pending",
            "Gallery changes not yet in the fleet's Milvus",
            registry=self.registry,
        )
        self.outbox_oldest = Gauge(
            "person_search_outbox_oldest_age_seconds",
            "Age of the oldest change waiting for the fleet (0 when none)",
            registry=self.registry,
        )

    def observe(self, pipeline: str, stages_ms: dict[str, float]) -> None:
        """Feed one request's stage times (ms) into the histograms."""
        for stage, ms in stages_ms.items():
            self.stage_seconds.labels(pipeline, stage).observe(ms / 1000.0)

    def observe_batch(self, tower: str, size: int) -> None:
        """Record the size of one micro-batch."""
        self.batch_size.labels(tower).observe(size)

    def bind(self, gallery_size: Callable[[], float], queue_depth: dict[str, Callable[[], int]]) -> None:
        """Read gallery size and queue depths at scrape time."""
        self.gallery_size.set_function(gallery_size)
        for tower, depth in queue_depth.items():
            self.queue_depth.labels(tower).set_function(depth)

    def bind_fleet(self, status: Callable[[], dict[str, Any]]) -> None:
        """Read the replication backlog at scrape time."""
        self.outbox_pending.set_function(lambda: status()["pending"])
        self.outbox_oldest.set_function(lambda: status()["oldest_age_s"] or 0.0)

    def render(self) -> bytes:
        """The Prometheus text exposition of everything above."""
        return generate_latest(self.registry)
