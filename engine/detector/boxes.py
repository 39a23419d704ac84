"""Box arithmetic in numpy: centre to corner form, IoU matrices and greedy non-maximum suppression.

NMS is written here (vectorised per kept box): the libraries that have a numpy one (supervision) import
cv2, which the serving image does not carry.
"""

from __future__ import annotations

import numpy as np


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(K, 4) centre x, centre y, width, height -> (K, 4) x1, y1, x2, y2."""
    c, half = boxes[:, :2], boxes[:, 2:4] / 2
    return np.concatenate([c - half, c + half], axis=1).astype(np.float32)


def area(boxes: np.ndarray) -> np.ndarray:
    """Areas (K,) of x1, y1, x2, y2 boxes; inverted boxes have area 0."""
    return np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(boxes[:, 3] - boxes[:, 1], 0, None)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU matrix (K, M) between x1, y1, x2, y2 boxes a (K, 4) and b (M, 4); 0 where a union is empty."""
    top_left = np.maximum(a[:, None, :2], b[None, :, :2])  # (K, M, 2)
    bottom_right = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(bottom_right - top_left, 0, None), axis=2)  # (K, M)
    union = area(a)[:, None] + area(b)[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter, dtype=np.float64), where=union > 0)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_threshold: float, limit: int | None = None) -> np.ndarray:
    """Indices of the boxes greedy NMS keeps, best score first: a box is dropped when its IoU with a kept,
    higher-scoring box exceeds iou_threshold. Stops after `limit` kept boxes."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size and (limit is None or len(keep) < limit):
        best, rest = order[0], order[1:]
        keep.append(int(best))
        order = rest[box_iou(boxes[best : best + 1], boxes[rest])[0] <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)
