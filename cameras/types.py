"""The values that flow through a camera pipeline: frames, detections, and finished tracks."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol, runtime_checkable

import numpy as np

from engine.detector.decode import Detections


@dataclass(frozen=True)
class Frame:
    """One decoded frame: RGB pixels, its wall-clock time and its position in the source."""

    pixels: np.ndarray  # (H, W, 3) uint8 RGB
    time: datetime  # wall clock (timezone-aware), shared with uploads
    index: int  # 0-based among the frames the source produced (before fps skipping)
    pts_s: float  # seconds since the source's first frame
    digest: bytes | None = None  # of its decoded pixels (luma): the same picture, the same digest


Boxes = Detections  # person boxes (K, 4) x1, y1, x2, y2 in frame pixels and their scores (K,)


class PersonDetector(Protocol):
    """What the pipeline needs of a detector (engine.detector's, or a test's ground truth)."""

    def detect(self, frames: list[np.ndarray]) -> list[Boxes]:
        """Person boxes for each RGB frame, in that frame's pixels."""
        ...


@runtime_checkable
class PreparingDetector(Protocol):
    """A detector whose input preparation (letterboxing) can run apart from the graph, on another thread."""

    def prepare(self, frame: np.ndarray) -> object:
        """One RGB frame made ready for `detect_prepared`."""
        ...

    def detect_prepared(self, prepared: list[object]) -> list[Boxes]:
        """Person boxes for each prepared frame, as `detect` gives them for the frames."""
        ...


@dataclass(frozen=True)
class Crop:
    """One chosen crop of a track, with the evidence it came from."""

    pixels: np.ndarray  # (h, w, 3) uint8 RGB
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels
    time: datetime
    frame_index: int
    quality: float  # in [0, 1]; see cameras.quality
    frame_jpeg: bytes  # the whole frame, downscaled, as evidence
    frame_scale: float  # evidence frame pixels per source frame pixel (<= 1)


@dataclass
class Track:
    """A person followed on one camera, with the few crops chosen to represent it."""

    camera: str
    local_id: int  # the tracker's id, unique within one pipeline run only
    first_seen: datetime
    last_seen: datetime
    frames: int  # frames it was detected in
    crops: list[Crop] = field(default_factory=list)
