"""Per-camera Prometheus series, read from the camera manager at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

GAUGES = {
    "connected": "1 while frames arrive from the camera",
    "fps_in": "Frames per second read from the camera, recent",
    "fps_out": "Frames per second through detection and tracking, recent",
    "open_tracks": "Persons followed right now",
}
COUNTERS = {
    "frames": "Frames through detection and tracking",
    "tracks": "Person tracks finished and stored",
    "crops": "Crops stored from finished tracks",
    "reconnects": "Times the stream was reopened",
}


class CameraCollector:
    """Yields person_search_camera_* series labelled by camera name."""

    def __init__(self, status: Callable[[], list[dict[str, Any]]]) -> None:
        self.status = status

    def collect(self) -> Iterator[Metric]:
        """One family per figure, one sample per camera."""
        cameras = self.status()
        for name, text in GAUGES.items():
            gauge = GaugeMetricFamily(f"person_search_camera_{name}", text, labels=["camera"])
            for camera in cameras:
                gauge.add_metric([camera["name"]], float(camera[name]))
            yield gauge
        for name, text in COUNTERS.items():
            counter = CounterMetricFamily(f"person_search_camera_{name}", text, labels=["camera"])
            for camera in cameras:
                counter.add_metric([camera["name"]], float(camera[name]))
            yield counter


def bind_cameras(registry: CollectorRegistry, status: Callable[[], list[dict[str, Any]]]) -> None:
    """Expose the cameras' figures on a registry."""
    registry.register(CameraCollector(status))
