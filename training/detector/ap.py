"""AP50 of person detections, in numpy: greedy matching by score, all-points interpolated precision.

Detections of all frames are ranked by score. Each, in turn, matches the unmatched counted person of its
frame it overlaps most if that IoU is >= 0.5 (a true positive); otherwise, if it overlaps an ignored
person (visibility below the threshold) by >= 0.5 it is set aside (neither true nor false positive);
otherwise it is a false positive. Ignored persons are not counted in recall. AP is the area under the
precision-recall curve with precision made monotone from the right (VOC 2010+ / COCO all-points style).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from engine.detector.boxes import box_iou
from engine.detector.decode import Detections

IOU = 0.5


def _outcomes(
    detections: Sequence[Detections], gts: Sequence[np.ndarray], ignores: Sequence[np.ndarray], iou: float
) -> tuple[np.ndarray, np.ndarray]:
    """Scores and outcomes (1 true, 0 false, -1 set aside) of every detection, best score first."""
    ranked = sorted(
        ((float(s), f, k) for f, d in enumerate(detections) for k, s in enumerate(d.scores)), reverse=True
    )
    matched = [np.zeros(len(g), bool) for g in gts]
    overlaps = [
        box_iou(d.boxes, g) if len(g) else np.zeros((len(d), 0)) for d, g in zip(detections, gts, strict=True)
    ]
    outcome = np.zeros(len(ranked), np.int8)
    for r, (_, f, k) in enumerate(ranked):
        row, ignored = overlaps[f][k], ignores[f]
        counted = np.where(~ignored & ~matched[f], row, -1.0)
        if counted.size and counted.max() >= iou:
            matched[f][int(counted.argmax())] = True
            outcome[r] = 1
        elif (row[ignored] >= iou).any():
            outcome[r] = -1
    return np.array([s for s, _, _ in ranked], np.float64), outcome


def average_precision(
    detections: Sequence[Detections],
    gts: Sequence[np.ndarray],
    ignores: Sequence[np.ndarray],
    iou: float = IOU,
) -> float:
    """AP at an IoU threshold over frames: detections, persons (K, 4) and ignore flags (K,) per frame."""
    if not len(detections) == len(gts) == len(ignores):
        raise ValueError(f"{len(detections)} detection lists for {len(gts)} frames of ground truth")
    counted = int(sum((~np.asarray(i, bool)).sum() for i in ignores))
    if counted == 0:
        raise ValueError("no counted persons in the ground truth: AP is undefined")
    _, outcome = _outcomes(detections, gts, [np.asarray(i, bool) for i in ignores], iou)
    outcome = outcome[outcome >= 0]
    tp = np.cumsum(outcome == 1)
    fp = np.cumsum(outcome == 0)
    recall = np.concatenate([[0.0], tp / counted, [1.0]])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1), [0.0]])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    steps = np.flatnonzero(recall[1:] != recall[:-1])
    return float(np.sum((recall[steps + 1] - recall[steps]) * precision[steps + 1]))
