"""Letterboxing: fit a frame into the detector's input without distortion, and map boxes back to the frame.

The frame is scaled by r = min(H / H0, W / W0) (PIL bilinear; no cv2 at serving), placed centred (YOLO) or
top-left, and the rest is filled with the pad value. Boxes come back as (x - pad_x) / r, clipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class Transform:
    """Where one frame went in the input: its scale, its offset and the original size."""

    scale: float
    pad_x: int
    pad_y: int
    frame_size: tuple[int, int]  # (H0, W0)
    resized: tuple[int, int]  # (round(H0 * scale), round(W0 * scale)): the frame's area in the input

    def to_frame(self, boxes: np.ndarray) -> np.ndarray:
        """Input-pixel boxes (K, 4) x1, y1, x2, y2 -> original-frame pixels, clipped to the frame."""
        h0, w0 = self.frame_size
        offset = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        out = (np.asarray(boxes, np.float32) - offset) / np.float32(self.scale)
        np.clip(out[:, 0::2], 0, w0, out=out[:, 0::2])
        np.clip(out[:, 1::2], 0, h0, out=out[:, 1::2])
        return out

    def to_input(self, boxes: np.ndarray) -> np.ndarray:
        """Original-frame boxes (K, 4) -> input pixels (what training targets are written in)."""
        offset = np.array([self.pad_x, self.pad_y, self.pad_x, self.pad_y], np.float32)
        return np.asarray(boxes, np.float32) * np.float32(self.scale) + offset


def fit(frame_size: tuple[int, int], input_size: tuple[int, int], center: bool) -> Transform:
    """The transform that fits a (H0, W0) frame into (H, W): scale, then the padding offsets."""
    (h0, w0), (h, w) = frame_size, input_size
    scale = min(h / h0, w / w0)
    nh, nw = min(h, round(h0 * scale)), min(w, round(w0 * scale))
    pad_y, pad_x = ((h - nh) // 2, (w - nw) // 2) if center else (0, 0)
    return Transform(scale, pad_x, pad_y, (h0, w0), (nh, nw))


def check_frame(frame: np.ndarray) -> None:
    """Raise naming what is wrong unless a frame is uint8 (H0, W0, 3) RGB."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3:
        shape = getattr(frame, "shape", type(frame).__name__)
        raise ValueError(f"a frame must be a (H, W, 3) RGB array, got {shape}")
    if frame.dtype != np.uint8:
        raise ValueError(f"a frame must be uint8 RGB, got {frame.dtype}")
    if min(frame.shape[:2]) < 1:
        raise ValueError(f"a frame must have pixels, got shape {frame.shape}")


def letterbox_into(frame: np.ndarray, out: np.ndarray, pad_value: int, center: bool) -> Transform:
    """Write one letterboxed frame into out (3, H, W) float32 in [0, 1]; returns its transform."""
    check_frame(frame)
    h, w = out.shape[1:]
    t = fit(frame.shape[:2], (h, w), center)
    nh, nw = t.resized
    pixels = frame
    if (nh, nw) != frame.shape[:2]:
        pixels = np.asarray(Image.fromarray(frame).resize((nw, nh), Image.Resampling.BILINEAR))
    out[...] = pad_value / 255.0
    out[:, t.pad_y : t.pad_y + nh, t.pad_x : t.pad_x + nw] = pixels.transpose(2, 0, 1) / np.float32(255.0)
    return t


def letterbox_batch(
    frames: Sequence[np.ndarray], input_size: tuple[int, int], pad_value: int, center: bool, batch: int = 0
) -> tuple[np.ndarray, list[Transform]]:
    """Frames -> float32 [max(len, batch), 3, H, W] and their transforms; rows past the frames are padding."""
    h, w = input_size
    x = np.empty((max(len(frames), batch), 3, h, w), np.float32)
    x[len(frames) :] = pad_value / 255.0
    transforms = [letterbox_into(f, x[i], pad_value, center) for i, f in enumerate(frames)]
    return x, transforms
