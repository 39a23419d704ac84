"""Read synthetic scenes (the layout of `person-search synth-scenes`): frames from each camera's H.264 mp4
with PyAV, person boxes from its MOTChallenge gt.txt.

gt.txt lines are `frame(1-based),id,x,y,w,h,1,1,visibility` with (x, y) the top-left corner in pixels;
boxes are clipped to the frame (visibility already counts what the frame edge hides).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

SCENES_JSON = "scenes.json"


@dataclass(frozen=True)
class Camera:
    """One camera of a scenes directory: its video and its ground truth."""

    name: str
    video: Path
    gt: Path


@dataclass(frozen=True)
class Labelled:
    """One frame and its persons: boxes (K, 4) x1, y1, x2, y2 in frame pixels, visibility (K,) in [0, 1]."""

    camera: str
    index: int  # 1-based, as in gt.txt
    frame: np.ndarray  # (H, W, 3) uint8 RGB
    boxes: np.ndarray
    visibility: np.ndarray


def cameras(scenes: Path) -> list[Camera]:
    """The cameras listed in SCENES/scenes.json, in order; a clear error when a file is missing."""
    path = Path(scenes) / SCENES_JSON
    if not path.is_file():
        raise FileNotFoundError(f"{path} not found: make scenes with `person-search synth-scenes --out DIR`")
    try:
        listed = json.loads(path.read_text())["cameras"]
        found = [
            Camera(c["name"], path.parent / c["video"], path.parent / c["sequence"] / "gt" / "gt.txt")
            for c in listed
        ]
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{path} does not list cameras with name, video and sequence: {exc!r}") from None
    for camera in found:
        for file in (camera.video, camera.gt):
            if not file.is_file():
                raise FileNotFoundError(f"{file} (camera {camera.name} in {path}) not found")
    if not found:
        raise ValueError(f"{path} lists no cameras")
    return found


def read_gt(path: Path) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """gt.txt -> {frame: (boxes (K, 4) x1, y1, x2, y2 in 0-based pixels, visibility (K,))}."""
    try:
        rows = np.loadtxt(path, delimiter=",", ndmin=2, dtype=np.float64)
    except ValueError as exc:
        raise ValueError(f"{path} is not MOTChallenge gt (frame,id,x,y,w,h,1,1,visibility): {exc}") from None
    if rows.size and rows.shape[1] < 9:
        raise ValueError(f"{path} has {rows.shape[1]} columns; MOTChallenge gt has 9")
    out: dict[int, tuple[np.ndarray, np.ndarray]] = {}
    for frame in np.unique(rows[:, 0]).astype(int) if rows.size else []:
        r = rows[rows[:, 0] == frame]
        x, y = r[:, 2] - 1, r[:, 3] - 1  # MOTChallenge pixels are 1-based: the top-left pixel is (1, 1)
        boxes = np.stack([x, y, x + r[:, 4], y + r[:, 5]], axis=1)
        out[int(frame)] = (boxes.astype(np.float32), r[:, 8].astype(np.float32))
    return out


def clip_boxes(boxes: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes (K, 4) clipped to a (H, W) frame: what a detector can see, and how its boxes come back."""
    h, w = size
    return np.clip(boxes, 0, [w, h, w, h]).astype(np.float32)


def labelled_frames(camera: Camera, step: int = 1, limit: int | None = None) -> Iterator[Labelled]:
    """Every `step`-th frame of a camera's video (at most `limit`) with its boxes, empty frames included."""
    gt = read_gt(camera.gt)
    empty = (np.zeros((0, 4), np.float32), np.zeros(0, np.float32))
    taken = 0
    with av.open(str(camera.video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i % step:
                continue
            if limit is not None and taken >= limit:
                break
            boxes, visibility = gt.get(i + 1, empty)
            pixels = frame.to_ndarray(format="rgb24")
            yield Labelled(camera.name, i + 1, pixels, clip_boxes(boxes, pixels.shape[:2]), visibility)
            taken += 1
