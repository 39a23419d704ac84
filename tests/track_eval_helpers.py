"""Tracking scored against synthetic ground truth: a ground-truth detector double, CLEAR-MOT / IDF1 with
motmetrics, and identity coverage of the stored crops.

Conventions (the same as the demo detector's AP50): gt.txt boxes are 1-based MOTChallenge pixels and are
moved to 0-based x1, y1, x2, y2 here; a person with visibility < IGNORE_BELOW in a frame is an ignore
region there (not a miss when untracked, and a track on it is not a false positive).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import motmetrics as mm
import numpy as np
from scipy.optimize import linear_sum_assignment

from cameras.pipeline import CameraRunner, RunOptions
from cameras.sources import SourceOptions
from cameras.tracking import TrackingOptions
from cameras.types import Boxes, Frame, PersonDetector, Track

IGNORE_BELOW = 0.3
# A detector about as good as the demo's: 5% of boxes missed, always when under 20% visible, corners off
# by 3% of the box, scores falling with occlusion, 0.2 low-score false boxes per frame.
REALISTIC = {"drop": 0.05, "jitter": 0.03, "min_visibility": 0.2, "false_per_frame": 0.2}


@dataclass(frozen=True)
class Persons:
    """The persons of one frame: ids (K,), boxes (K, 4) 0-based x1, y1, x2, y2, visibility (K,)."""

    ids: np.ndarray
    boxes: np.ndarray
    visibility: np.ndarray


NOBODY = Persons(np.zeros(0, int), np.zeros((0, 4), np.float32), np.zeros(0, np.float32))


def read_truth(gt_txt: Path) -> dict[int, Persons]:
    """gt.txt -> {1-based frame: Persons}, boxes moved from 1-based (x, y, w, h) to 0-based corners."""
    rows = np.loadtxt(gt_txt, delimiter=",", ndmin=2)
    out = {}
    for k in np.unique(rows[:, 0]).astype(int):
        r = rows[rows[:, 0] == k]
        x1, y1 = r[:, 2] - 1, r[:, 3] - 1
        boxes = np.stack([x1, y1, x1 + r[:, 4], y1 + r[:, 5]], axis=1).astype(np.float32)
        out[int(k)] = Persons(r[:, 1].astype(int), boxes, r[:, 8].astype(np.float32))
    return out


class GroundTruthDetector:
    """A test double for the person detector: each frame's ground-truth boxes, degraded as a detector's are.

    Frames are taken to arrive in order, one per video frame (the source reads at the video's fps); the
    n-th frame detected is gt frame n. Seeded: a box is missed with probability `drop`, always when its
    visibility is below `min_visibility`; its corners move by `jitter` x its size (Gaussian); its score
    falls with occlusion (0.3 + 0.65 x visibility, +- noise), so hidden people reach ByteTrack's weak
    round; `false_per_frame` low-score boxes of person size appear at random places.
    """

    def __init__(
        self,
        truth: dict[int, Persons],
        seed: int = 0,
        drop: float = 0.0,
        jitter: float = 0.0,
        min_visibility: float = 0.0,
        false_per_frame: float = 0.0,
    ) -> None:
        self.truth, self.rng = truth, np.random.default_rng(seed)
        self.drop, self.jitter, self.min_visibility, self.false_per_frame = (
            drop,
            jitter,
            min_visibility,
            false_per_frame,
        )
        self.frames = 0

    def detect(self, frames: list[np.ndarray]) -> list[Boxes]:
        """Boxes for the next len(frames) frames of the ground truth."""
        out = []
        for pixels in frames:
            self.frames += 1
            out.append(self._one(self.truth.get(self.frames, NOBODY), pixels.shape[:2]))
        return out

    def _one(self, persons: Persons, size: tuple[int, int]) -> Boxes:
        rng, h, w = self.rng, *size
        keep = (persons.visibility >= self.min_visibility) & (rng.random(len(persons.ids)) >= self.drop)
        boxes, vis = persons.boxes[keep].copy(), persons.visibility[keep]
        size_wh = boxes[:, 2:] - boxes[:, :2]
        boxes += rng.normal(0.0, self.jitter, boxes.shape) * np.concatenate([size_wh, size_wh], axis=1)
        scores = np.clip(0.3 + 0.65 * vis + rng.normal(0.0, 0.04, len(vis)), 0.05, 0.99)
        fakes = rng.poisson(self.false_per_frame)
        if fakes:
            fh = rng.uniform(40, 160, fakes)
            x, y = rng.uniform(0, w - fh / 2.5), rng.uniform(0, h - fh)
            boxes = np.concatenate([boxes, np.stack([x, y, x + fh / 2.5, y + fh], axis=1)])
            scores = np.concatenate([scores, rng.uniform(0.1, 0.45, fakes)])
        boxes = np.clip(boxes, 0, [w, h, w, h])
        return Boxes(boxes.astype(np.float32), scores.astype(np.float32))


@dataclass
class Recorder:
    """An observer of CameraTracker: the confirmed tracks of every frame, by 1-based frame."""

    seen: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    def __call__(self, frame: Frame, ids: np.ndarray, boxes: np.ndarray) -> None:
        self.seen[frame.index + 1] = (ids.copy(), boxes.copy())


@dataclass
class Run:
    """One camera through the real CameraRunner: what the tracker saw per frame and the stored tracks."""

    recorder: Recorder
    tracks: list[Track]
    frames_out: int


def run_camera(
    video: Path, detector: PersonDetector, tracking: TrackingOptions = TrackingOptions(), fps: float = 10.0
) -> Run:
    """Read a scene video through CameraRunner with this detector; every track it hands on."""
    tracks: list[Track] = []
    recorder = Recorder()
    runner = CameraRunner(
        video.stem, str(video), detector, tracks.append, SourceOptions(fps=fps), tracking,
        RunOptions(batch=4), observer=recorder,
    )  # fmt: skip
    runner.run(threading.Event())
    return Run(recorder, tracks, runner.stats.frames_out)


def iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of boxes a (N, 4) against b (M, 4), x1, y1, x2, y2: (N, M)."""
    lo, hi = np.maximum(a[:, None, :2], b[None, :, :2]), np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=2)
    area = lambda x: np.prod(x[:, 2:] - x[:, :2], axis=1)  # noqa: E731
    return inter / np.maximum(area(a)[:, None] + area(b)[None, :] - inter, 1e-9)


def _without_ignored(
    persons: Persons, ids: np.ndarray, boxes: np.ndarray
) -> tuple[Persons, np.ndarray, np.ndarray]:
    """Drop persons below IGNORE_BELOW and the track boxes they claim (IoU >= 0.5, one to one)."""
    ignored = persons.visibility < IGNORE_BELOW
    claimed = np.zeros(len(ids), bool)
    if ignored.any() and len(ids):
        overlap = iou(persons.boxes, boxes)
        rows, cols = linear_sum_assignment(-overlap)
        for r, c in zip(rows, cols, strict=True):
            claimed[c] |= bool(ignored[r] and overlap[r, c] >= 0.5)
    kept = ~ignored
    counted = Persons(persons.ids[kept], persons.boxes[kept], persons.visibility[kept])
    return counted, ids[~claimed], boxes[~claimed]


def mot_metrics(
    truth: dict[int, Persons],
    recorder: Recorder,
    frames: int,
    relabel: Callable[[int, np.ndarray], np.ndarray] = lambda _k, ids: ids,
) -> dict[str, float]:
    """IDF1, MOTA and their counts over frames 1..frames (motmetrics; a match needs IoU >= 0.5, distance
    1 - IoU); `relabel(frame, ids)` rewrites the track ids first (to score a deliberately broken tracker)."""
    acc = mm.MOTAccumulator(auto_id=False)
    for k in range(1, frames + 1):
        ids, boxes = recorder.seen.get(k, (np.zeros(0, int), np.zeros((0, 4), np.float32)))
        persons, ids, boxes = _without_ignored(truth.get(k, NOBODY), ids, boxes)
        overlap = iou(persons.boxes, boxes)  # motmetrics' own iou_matrix uses np.asfarray, gone in numpy 2
        distances = np.where(overlap >= 0.5, 1.0 - overlap, np.nan)
        acc.update(persons.ids.tolist(), relabel(k, ids).tolist(), distances, frameid=k)
    names = ["idf1", "mota", "num_switches", "num_misses", "num_false_positives", "num_objects"]
    summary = mm.metrics.create().compute(acc, metrics=names)
    return {name: float(summary[name].iloc[0]) for name in names}


@dataclass(frozen=True)
class Coverage:
    """Which persons, visible long enough on a camera, have at least one stored crop of themselves."""

    eligible: frozenset[int]
    covered: frozenset[int]

    @property
    def missing(self) -> list[int]:
        """Eligible persons without a crop."""
        return sorted(self.eligible - self.covered)


def coverage(
    truth: dict[int, Persons], tracks: list[Track], frames_needed: int, min_visibility: float = 0.5
) -> Coverage:
    """Eligible: visible (>= min_visibility) in at least `frames_needed` frames. Covered: some crop of a
    stored track overlaps that person's gt box in the crop's frame by IoU >= 0.5, more than anyone else's."""
    counts: dict[int, int] = {}
    for persons in truth.values():
        for pid in persons.ids[persons.visibility >= min_visibility].tolist():
            counts[pid] = counts.get(pid, 0) + 1
    covered = set()
    for track in tracks:
        for crop in track.crops:
            persons = truth.get(crop.frame_index + 1, NOBODY)
            if len(persons.ids):
                overlap = iou(np.array([crop.box], np.float32), persons.boxes)[0]
                if overlap.max() >= 0.5:
                    covered.add(int(persons.ids[overlap.argmax()]))
    eligible = frozenset(pid for pid, n in counts.items() if n >= frames_needed)
    return Coverage(eligible, frozenset(covered & eligible))
