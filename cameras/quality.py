"""How good a detection is as a person crop: confident, large, sharp, whole, and not overlapped.

Each factor is in [0, 1] and the quality is their product, so one bad property (a person cut by the
frame edge, half hidden behind another) is enough to prefer another moment of the same track.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from cameras.types import Boxes


@dataclass(frozen=True)
class QualityWeights:
    """The knobs of the quality score."""

    full_height_px: float = 128.0  # a crop this tall (or taller) scores 1 on size
    sharpness_half: float = 60.0  # Laplacian variance that scores 0.5 on sharpness
    edge_margin_px: float = 2.0  # a box this close to the frame edge is truncated
    truncated_factor: float = 0.4


def sharpness(gray: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grayscale crop (higher is sharper)."""
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    g = gray.astype(np.float32)
    lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
    return float(lap.var())


def overlap_fraction(xyxy: np.ndarray) -> np.ndarray:
    """For each box, the largest share of its area that another box covers, (N,)."""
    n = len(xyxy)
    if n < 2:
        return np.zeros(n, np.float32)
    x1 = np.maximum(xyxy[:, None, 0], xyxy[None, :, 0])
    y1 = np.maximum(xyxy[:, None, 1], xyxy[None, :, 1])
    x2 = np.minimum(xyxy[:, None, 2], xyxy[None, :, 2])
    y2 = np.minimum(xyxy[:, None, 3], xyxy[None, :, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)  # (N, N)
    area = np.maximum((xyxy[:, 2] - xyxy[:, 0]) * (xyxy[:, 3] - xyxy[:, 1]), 1e-6)
    np.fill_diagonal(inter, 0.0)
    return (inter / area[:, None]).max(axis=1).astype(np.float32)


def crop(frame: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The pixels inside a box (rounded outward, clipped to the frame)."""
    h, w = frame.shape[:2]
    x1, y1 = max(0, int(np.floor(box[0]))), max(0, int(np.floor(box[1])))
    x2, y2 = min(w, int(np.ceil(box[2]))), min(h, int(np.ceil(box[3])))
    return frame[y1:y2, x1:x2]


def qualities(frame: np.ndarray, boxes: Boxes, weights: QualityWeights = QualityWeights()) -> np.ndarray:
    """The quality in [0, 1] of every detection of one frame, (N,)."""
    h, w = frame.shape[:2]
    xyxy = boxes.boxes
    if not len(xyxy):
        return np.zeros(0, np.float32)
    heights = xyxy[:, 3] - xyxy[:, 1]
    size = np.clip(heights / weights.full_height_px, 0.0, 1.0)
    m = weights.edge_margin_px
    cut = (xyxy[:, 0] <= m) | (xyxy[:, 1] <= m) | (xyxy[:, 2] >= w - m) | (xyxy[:, 3] >= h - m)
    whole = np.where(cut, weights.truncated_factor, 1.0)
    free = 1.0 - overlap_fraction(xyxy)
    sharp = np.array([_sharp_factor(crop(frame, box), weights) for box in xyxy], np.float32)
    return (np.clip(boxes.scores, 0, 1) * size * whole * free * sharp).astype(np.float32)


def _sharp_factor(pixels: np.ndarray, weights: QualityWeights) -> float:
    """Sharpness mapped to [0, 1): v / (v + half)."""
    if pixels.size == 0:
        return 0.0
    v = sharpness(pixels.mean(axis=2))
    return v / (v + weights.sharpness_half)
