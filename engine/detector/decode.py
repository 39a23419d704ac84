"""Decode YOLO-layout outputs [4+C, N] into person boxes in original-frame pixels.

Per candidate the class is the best-scoring one (single-label, as YOLO's own NMS does by default): a box
is a person when its best class is the person class and that score reaches the threshold. Boxes are
mapped through the letterbox and clipped to the frame, those left with no area (they lay in the padding)
are dropped, then NMS keeps the best `max_detections`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.detector.boxes import area, cxcywh_to_xyxy, nms
from engine.detector.letterbox import Transform


@dataclass(frozen=True)
class Detections:
    """The persons in one frame: boxes (K, 4) x1, y1, x2, y2 in frame pixels, scores (K,), best first."""

    boxes: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class PostProcess:
    """The post-processing settings of a detector (from detector.json)."""

    person_class: int
    score_threshold: float
    nms_iou: float
    max_detections: int


def person_candidates(
    output: np.ndarray, person_class: int, score_threshold: float
) -> tuple[np.ndarray, ...]:
    """(4+C, N) -> input-pixel boxes (K, 4) x1, y1, x2, y2 and scores (K,) of candidates that are persons."""
    boxes, classes = output[:4].T, output[4:].T  # (N, 4), (N, C)
    best = classes.argmax(axis=1)
    scores = classes[np.arange(len(classes)), best]
    keep = (best == person_class) & (scores >= score_threshold)
    return cxcywh_to_xyxy(boxes[keep]), scores[keep].astype(np.float32)


def decode(output: np.ndarray, transform: Transform, post: PostProcess) -> Detections:
    """One frame's output (4+C, N) -> its persons after class filter, threshold, NMS and clipping."""
    boxes, scores = person_candidates(output, post.person_class, post.score_threshold)
    frame_boxes = transform.to_frame(boxes)
    visible = area(frame_boxes) > 0
    frame_boxes, scores = frame_boxes[visible], scores[visible]
    kept = nms(frame_boxes, scores, post.nms_iou, post.max_detections)
    return Detections(frame_boxes[kept], scores[kept])


def decode_batch(outputs: np.ndarray, transforms: list[Transform], post: PostProcess) -> list[Detections]:
    """[B, 4+C, N] for B >= len(transforms) frames -> one Detections per frame (padding rows ignored)."""
    return [decode(outputs[i], t, post) for i, t in enumerate(transforms)]
