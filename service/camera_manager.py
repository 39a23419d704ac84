"""The cameras a service reads itself: one thread per camera, their tracks into the gallery.

Each camera runs in its own thread with its own reader; crops are embedded through the image tower's
batcher (shared with uploads), so a stream that stalls or fails slows neither search nor uploads. The
configuration lives in the gallery's SQLite record and the cameras restart with the service.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from cameras.gstreamer import GstOptions
from cameras.pipeline import CameraRunner, RunOptions
from cameras.sources import SourceOptions
from cameras.tracking import TrackingOptions
from cameras.types import PersonDetector
from index import Gallery
from index.streams import StreamConfig
from service.batcher import QueueFullError
from service.fleet import redacted
from service.settings import CameraSettings
from service.towers import Towers
from service.track_writer import TrackWriter

log = logging.getLogger(__name__)


@dataclass
class _Running:
    config: StreamConfig
    runner: CameraRunner
    stop: threading.Event
    thread: threading.Thread


def embed_with_towers(towers: Towers, retry_s: float = 0.2, attempts: int = 50) -> Callable[..., np.ndarray]:
    """Crops -> unit vectors through the image batcher; waits while its queue is full, never drops."""

    def embed(images: list[Image.Image]) -> np.ndarray:
        pixels = towers.encoder.preprocess(images)  # (N, 3, H, W)
        for _ in range(attempts):
            try:
                futures = towers.image.submit(list(pixels))
                return np.stack([f.result().row for f in futures])  # (N, D)
            except QueueFullError:
                time.sleep(retry_s)
        raise RuntimeError(f"the image tower stayed busy for {retry_s * attempts:.0f} s")

    return embed


class CameraManager:
    """Starts, stops and reports the configured cameras of one gallery."""

    def __init__(
        self,
        settings: CameraSettings,
        gallery: Gallery,
        embed: Callable[[list[Image.Image]], np.ndarray],
        detector: PersonDetector | None,
        detector_error: str | None = None,
    ) -> None:
        self.settings, self.gallery, self.embed, self.detector = settings, gallery, embed, detector
        self.detector_error = detector_error
        self._running: dict[str, _Running] = {}
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start every enabled camera the gallery records."""
        for config in self.gallery.streams.all():
            if config.enabled:
                self._start(config)

    def why_off(self) -> str:
        """Why no camera can run: the detector is not configured, or it failed to load."""
        return (
            self.detector_error or "cameras are off: no person detector (set PERSON_SEARCH_CAMERAS__DETECTOR)"
        )

    def describe_detector(self) -> dict[str, Any] | None:
        """What /health says of the detector: what it runs on, or why there is none."""
        if self.detector is None:
            return {"loaded": False, "error": self.why_off()}
        describe = getattr(self.detector, "describe", None)
        return {"loaded": True, **(describe() if callable(describe) else {})}

    def add(self, config: StreamConfig) -> dict[str, Any]:
        """Record and start a camera; KeyError when its name is taken, OverflowError over the limit."""
        if len(self.gallery.streams.all()) >= self.settings.max_cameras:
            raise OverflowError(f"this service reads at most {self.settings.max_cameras} cameras")
        stored = self.gallery.streams.add(config)
        if stored.enabled:
            self._start(stored)
        return self.status_of(stored)

    def remove(self, name: str) -> bool:
        """Stop a camera and forget it (its crops stay); False when there was none."""
        with self._lock:
            running = self._running.pop(name, None)
        if running is not None:
            running.stop.set()
            running.thread.join(15)
        return self.gallery.streams.remove(name)

    def stop(self) -> None:
        """Stop every camera, handing their open tracks to the gallery."""
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for camera in running:
            camera.stop.set()
        for camera in running:
            camera.thread.join(15)

    def _start(self, config: StreamConfig) -> None:
        """A thread reading one camera until it is stopped."""
        if self.detector is None:
            log.warning("camera %s not started: no person detector configured", config.name)
            return
        s = self.settings
        fps = config.fps or s.fps
        runner = CameraRunner(
            config.name,
            config.url,
            self.detector,
            TrackWriter(self.gallery, self.embed, config.url),
            SourceOptions(fps=fps, decoder=s.decoder, gstreamer=GstOptions(codec=s.gstreamer_codec)),
            TrackingOptions(fps, s.lost_s, s.activation_score, s.min_frames, s.crops_per_track,
                            frame_jpeg_width=s.frame_jpeg_width),
            RunOptions(batch=s.detector_batch, max_backoff_s=s.max_backoff_s),
        )  # fmt: skip
        stop = threading.Event()
        thread = threading.Thread(
            target=self._run, args=(runner, stop), name=f"camera-{config.name}", daemon=True
        )
        with self._lock:
            self._running[config.name] = _Running(config, runner, stop, thread)
        thread.start()

    @staticmethod
    def _run(runner: CameraRunner, stop: threading.Event) -> None:
        """A camera thread: errors are kept in its stats, never raised into the service."""
        try:
            runner.run(stop)
        except Exception as err:
            runner.stats.last_error = f"{type(err).__name__}: {err}"
            log.exception("camera %s stopped", runner.name)
        finally:
            runner.stats.connected = False

    def status_of(self, config: StreamConfig) -> dict[str, Any]:
        """What GET /cameras shows for one camera."""
        with self._lock:
            running = self._running.get(config.name)
        stats = running.runner.stats if running is not None else None
        return {
            "name": config.name,
            "url": redacted(config.url),
            "fps": config.fps or self.settings.fps,
            "enabled": config.enabled,
            "running": running is not None and running.thread.is_alive(),
            "connected": bool(stats and stats.connected),
            "fps_in": round(stats.fps_in(), 2) if stats else 0.0,
            "fps_out": round(stats.fps_out(), 2) if stats else 0.0,
            "frames": stats.frames_out if stats else 0,
            "open_tracks": stats.open_tracks if stats else 0,
            "tracks": stats.tracks if stats else 0,
            "crops": stats.crops if stats else 0,
            "reconnects": stats.reconnects if stats else 0,
            "last_error": stats.last_error if stats else None,
        }

    def status(self) -> list[dict[str, Any]]:
        """Every configured camera's state."""
        return [self.status_of(config) for config in self.gallery.streams.all()]
