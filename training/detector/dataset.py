"""Training and held-out frames for the tiny detector, letterboxed by the serving code's own letterbox.

Training frames are kept letterboxed as uint8 (B, 3, H, W) with their boxes in input pixels; held-out
frames stay as decoded, since they are scored through the exported graph and the serving Detector.
A person with visibility below `min_visibility` is an ignore region, in training and in AP alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from engine.detector.letterbox import letterbox_into
from training.detector.scenes import Camera, Labelled, cameras, labelled_frames

PAD_VALUE = 114  # YOLO's letterbox grey


@dataclass
class TrainFrames:
    """Letterboxed training frames: images uint8 (N, 3, H, W); per frame boxes (K, 4) and ignore flags."""

    images: torch.Tensor
    boxes: list[torch.Tensor]
    ignore: list[torch.Tensor]


@dataclass
class HeldOut:
    """Held-out frames as decoded, their persons (K, 4) in frame pixels and ignore flags (K,)."""

    frames: list[np.ndarray] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    ignore: list[np.ndarray] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)


def split_cameras(scenes: Path, holdout: Path | None) -> tuple[list[Camera], list[Camera]]:
    """(train, held out): all of SCENES and all of HOLDOUT, or SCENES less its last camera."""
    train = cameras(scenes)
    if holdout is not None:
        return train, cameras(holdout)
    if len(train) < 2:
        raise ValueError(
            f"{scenes} has one camera: hold out scenes of another seed with --holdout DIR, or render two"
        )
    return train[:-1], train[-1:]


def train_frames(
    cams: list[Camera], input_size: tuple[int, int], step: int, limit: int, min_visibility: float
) -> TrainFrames:
    """Every `step`-th frame of the cameras (at most `limit` per camera), letterboxed to input_size."""
    h, w = input_size
    labelled = [x for c in cams for x in labelled_frames(c, step, limit)]
    images = torch.empty((len(labelled), 3, h, w), dtype=torch.uint8)
    scratch = np.empty((3, h, w), np.float32)
    boxes, ignore = [], []
    for i, item in enumerate(labelled):
        t = letterbox_into(item.frame, scratch, PAD_VALUE, center=True)
        images[i] = torch.from_numpy(np.rint(scratch * 255).astype(np.uint8))
        boxes.append(torch.from_numpy(t.to_input(item.boxes)))
        ignore.append(torch.from_numpy(item.visibility < min_visibility))
    return TrainFrames(images, boxes, ignore)


def held_out(cams: list[Camera], step: int, limit: int, min_visibility: float) -> HeldOut:
    """Every `step`-th frame of the held-out cameras (at most `limit` per camera), as decoded."""
    out = HeldOut()
    for camera in cams:
        item: Labelled
        for item in labelled_frames(camera, step, limit):
            out.frames.append(item.frame)
            out.boxes.append(item.boxes)
            out.ignore.append(item.visibility < min_visibility)
            out.cameras.append(item.camera)
    return out
