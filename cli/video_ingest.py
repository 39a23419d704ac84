"""Recorded videos into the gallery through the camera pipeline: detect, track, keep K crops per track.

A file's finished tracks are held until the whole file has been read, and only then embedded and stored:
a file that turns out truncated or unreadable adds nothing. Crops are stored by their bytes, so reading
the same file again adds nothing (the tracker and the detector are deterministic on the same frames).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from PIL import Image

from cameras.pipeline import CameraRunner, CameraStats, RunOptions
from cameras.sources import SourceError, SourceOptions
from cameras.tracking import TrackingOptions
from cameras.types import PersonDetector, Track
from index import Gallery
from service.settings import CameraSettings
from service.track_writer import Embed, TrackWriter

Progress = Callable[[CameraStats], object]


@dataclass(frozen=True)
class VideoOptions:
    """How every video of one command is read, tracked and batched."""

    source: SourceOptions
    tracking: TrackingOptions
    run: RunOptions

    @classmethod
    def of(cls, cameras: CameraSettings, start_time: datetime | None = None) -> VideoOptions:
        """The options the `cameras` settings describe, as the service's cameras use them."""
        fps = cameras.fps
        tracking = TrackingOptions(
            fps,
            cameras.lost_s,
            cameras.activation_score,
            cameras.min_frames,
            cameras.crops_per_track,
            frame_jpeg_width=cameras.frame_jpeg_width,
        )
        source = SourceOptions(fps=fps, start_time=start_time)
        return cls(source, tracking, RunOptions(cameras.detector_batch))


@dataclass
class VideoSummary:
    """What reading one video did, or why it stored nothing."""

    video: Path
    camera: str
    frames: int = 0
    tracks: int = 0
    crops: int = 0
    added: int = 0
    duplicate: int = 0
    error: str | None = None

    def line(self) -> str:
        """One line for the terminal."""
        if self.error is not None:
            return f"error: {self.error}; nothing of it stored"
        return (
            f"{self.video} (camera {self.camera}): {self.frames} frames, {self.tracks} tracks, "
            f"{self.crops} crops: added {self.added}, duplicate {self.duplicate}"
        )


def embed_in_batches(encode: Callable[[list[Image.Image]], np.ndarray], batch: int) -> Embed:
    """Crops -> unit vectors (N, D) through `encode`, at most `batch` crops per call."""

    def embed(images: list[Image.Image]) -> np.ndarray:
        parts = [encode(images[i : i + batch]) for i in range(0, len(images), batch)]
        return np.concatenate([np.asarray(p, np.float32) for p in parts])

    return embed


def _watch(runner: CameraRunner, progress: Progress | None, every_s: float = 0.25) -> None:
    """Run a camera to its end in a thread, reporting its stats meanwhile; Ctrl-C stops it cleanly."""
    stop, failure = threading.Event(), []

    def work() -> None:
        try:
            runner.run(stop)
        except BaseException as err:  # handed to the caller's thread below
            failure.append(err)

    thread = threading.Thread(target=work, name=f"ingest-{runner.name}", daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(every_s)
            if progress is not None:
                progress(runner.stats)
    finally:
        stop.set()
        thread.join()
    if failure:
        raise failure[0]


def ingest_video(
    video: Path,
    camera: str,
    detector: PersonDetector,
    gallery: Gallery,
    embed: Embed,
    options: VideoOptions,
    progress: Progress | None = None,
) -> VideoSummary:
    """Read one video to its end, then store its tracks; a SourceError stores nothing and is reported."""
    summary = VideoSummary(video, camera)
    tracks: list[Track] = []
    try:
        runner = CameraRunner(
            camera, str(video), detector, tracks.append, options.source, options.tracking, options.run
        )
        _watch(runner, progress)
    except SourceError as err:
        summary.error = str(err)
        return summary
    stats = runner.stats
    summary.frames, summary.tracks, summary.crops = stats.frames_out, stats.tracks, stats.crops
    writer = TrackWriter(gallery, embed, str(video.resolve()))
    for track in tracks:
        summary.duplicate += sum(r.duplicate for r in writer(track))
    summary.added = writer.added
    return summary
