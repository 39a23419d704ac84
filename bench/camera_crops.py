"""Image-tower calls per person: the pipeline's best crops per track against embedding every detection.

One read of each camera through `CameraRunner` gives both galleries side by side: the tracks it hands on
(K crops each, as the service stores them) and, recorded at the tracker's input, every detection of every
frame the detector saw. Both are embedded with the demo CLIP and scored against the scenes' ground truth:
a crop shows the person whose gt box it overlaps most (IoU >= 0.5); coverage is the share of persons
visible >= 1 s on a camera with at least one crop there; per-identity text R@1 queries each identity's
captions against the whole gallery (a hit: the top-1 crop shows that identity), averaged per identity.
Goal: >= 20x fewer encodes at coverage >= 0.95 with no loss of R@1. Run: `python -m bench.camera_crops`.
"""

from __future__ import annotations

import argparse
import json
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from bench.camera_common import (
    GroundTruth,
    SceneSpec,
    demo_clip,
    demo_detector,
    ground_truth,
    identity_of,
    scenes,
    videos,
    visible_persons,
    work_root,
)
from bench.machine import describe, load_average
from cameras.pipeline import CameraRunner
from cameras.quality import crop
from cameras.sources import SourceOptions
from cameras.tracking import CameraTracker, TrackingOptions
from cameras.types import Boxes, Frame, PersonDetector, Track

GOALS = {"fewer_encodes": 20.0, "coverage": 0.95}
SCENES = {"cameras": 4, "seconds": 30.0, "fps": 10, "seed": 1}  # a seed neither model was trained on


@dataclass(frozen=True)
class Shot:
    """One crop of a gallery: where it came from and who it shows (None: nobody in the ground truth)."""

    camera: str
    frame: int
    pixels: np.ndarray
    person: int | None


class RecordingTracker(CameraTracker):
    """The pipeline's own tracker that also keeps every detection it is given (the per-frame way)."""

    def __init__(self, camera: str, options: TrackingOptions) -> None:
        super().__init__(camera, options)
        self.seen: list[tuple[int, tuple[float, float, float, float], np.ndarray]] = []

    def update(self, frame: Frame, boxes: Boxes) -> list[Track]:
        """Record each detection's crop, then track as the pipeline does."""
        for box in boxes.boxes:
            pixels = crop(frame.pixels, box)
            if pixels.size:
                corners = (float(box[0]), float(box[1]), float(box[2]), float(box[3]))
                self.seen.append((frame.index, corners, np.ascontiguousarray(pixels)))
        return super().update(frame, boxes)


class TruthDetector:
    """The ground truth as a detector (smoke runs): frame k of the gated stream is gt frame k."""

    def __init__(self, truth: GroundTruth) -> None:
        self.truth, self.next = truth, 0

    def detect(self, frames: list[np.ndarray]) -> list[Boxes]:
        """The gt boxes of the next len(frames) frames, score 0.9."""
        out = []
        for _ in frames:
            boxes = [box for _, box in self.truth.get(self.next, [])]
            self.next += 1
            xyxy = np.array(boxes, np.float32).reshape(-1, 4)
            out.append(Boxes(xyxy, np.full(len(xyxy), 0.9, np.float32)))
        return out


def read_camera(
    camera: str, video: Path, detector: PersonDetector, truth: GroundTruth, options: TrackingOptions
) -> tuple[list[Shot], list[Shot]]:
    """(best crops of every track, every detection) of one camera, each labelled through the gt."""
    tracks: list[Track] = []
    runner = CameraRunner(camera, str(video), detector, tracks.append, SourceOptions(fps=options.fps))
    runner.tracker = recorder = RecordingTracker(camera, options)
    runner.run(threading.Event())
    best = [
        Shot(camera, c.frame_index, c.pixels, identity_of(c.box, c.frame_index, truth))
        for track in tracks
        for c in track.crops
    ]
    every = [Shot(camera, k, pixels, identity_of(box, k, truth)) for k, box, pixels in recorder.seen]
    return best, every


def coverage(shots: list[Shot], visible: set[tuple[str, int]]) -> float:
    """Share of (camera, person) pairs in `visible` with at least one crop on that camera."""
    shown = {(s.camera, s.person) for s in shots if s.person is not None}
    return len(shown & visible) / len(visible) if visible else 0.0


def recall_at_1(
    texts: np.ndarray, owners: list[int], gallery: np.ndarray, labels: list[int | None]
) -> dict[int, float]:
    """Per identity: the share of its captions (rows of `texts`, owned by `owners`) whose top-1 gallery
    crop shows it."""
    hits: dict[int, list[bool]] = {}
    top = (texts @ gallery.T).argmax(axis=1) if len(gallery) else np.full(len(texts), -1)
    for owner, best in zip(owners, top.tolist(), strict=True):
        hits.setdefault(owner, []).append(best >= 0 and labels[best] == owner)
    return {owner: float(np.mean(h)) for owner, h in hits.items()}


def embed(encoder: Any, shots: list[Shot], chunk: int = 256) -> tuple[np.ndarray, float]:
    """Unit image vectors of the shots (N, D) and the seconds the tower took."""
    start, parts = time.perf_counter(), []
    for i in range(0, len(shots), chunk):
        parts.append(encoder.encode_images([Image.fromarray(s.pixels) for s in shots[i : i + chunk]]))
    vectors = np.concatenate(parts) if parts else np.zeros((0, encoder.embed_dim), np.float32)
    return vectors, time.perf_counter() - start


def score(
    encoder: Any,
    galleries: dict[str, list[Shot]],
    visible: set[tuple[str, int]],
    captions: dict[int, list[str]],
) -> dict[str, dict[str, Any]]:
    """Encodes, coverage and per-identity R@1 (percent) of each gallery."""
    people = sorted({pid for _, pid in visible})
    owners = [pid for pid in people for _ in captions[pid]]
    texts = encoder.encode_texts([text for pid in people for text in captions[pid]])
    out = {}
    for name, shots in galleries.items():
        vectors, seconds = embed(encoder, shots)
        per_identity = recall_at_1(texts, owners, vectors, [s.person for s in shots])
        out[name] = {
            "encodes": len(shots),
            "encodes_per_person": round(len(shots) / max(len(visible), 1), 2),
            "encode_seconds": round(seconds, 2),
            "unmatched_crops": sum(s.person is None for s in shots),
            "coverage": round(coverage(shots, visible), 4),
            "text_R1_per_identity": round(100 * float(np.mean(list(per_identity.values()))), 2),
        }
    return out


def run(
    scene: dict[str, Any] | None = None,
    crops_per_track: int = 3,
    detector: str = "trained",
    trained_clip: bool = True,
    workdir: str | Path | None = None,
) -> dict[str, Any]:
    """Both galleries of the scenes through the pipeline, scored side by side; detector is 'trained',
    'untrained' or 'truth' (the ground truth: smoke runs)."""
    load_start = load_average()
    root = work_root(workdir)
    spec = SceneSpec(**(scene or SCENES))
    data = scenes(root, spec)
    from engine import load_encoder
    from engine.detector import load_detector

    encoder = load_encoder(demo_clip(root, trained_clip), "onnxruntime")
    model = None
    if detector != "truth":
        model = load_detector(demo_detector(root, detector == "trained"), "onnxruntime")
    options = TrackingOptions(fps=spec.fps, crops_per_track=crops_per_track)
    galleries: dict[str, list[Shot]] = {"best crops": [], "every detection": []}
    visible: set[tuple[str, int]] = set()
    for camera, video in videos(data):
        truth = ground_truth(data, camera)
        best, every = read_camera(camera, video, model or TruthDetector(truth), truth, options)
        galleries["best crops"] += best
        galleries["every detection"] += every
        visible |= {(camera, pid) for pid in visible_persons(truth, spec.fps)}
    identities = json.loads((data / "identities.json").read_text())
    captions = {int(pid): entry["captions"] for pid, entry in identities.items()}
    scored = score(encoder, galleries, visible, captions)
    best, every = scored["best crops"], scored["every detection"]
    fewer = every["encodes"] / best["encodes"] if best["encodes"] else None
    return {
        "bench": "camera_crops",
        "scenes": {**spec.__dict__, "size": list(spec.size)},
        "detector": detector,
        "clip": "demo (trained)" if trained_clip else "untrained PS-Micro",
        "crops_per_track": crops_per_track,
        "persons_visible_1s": len(visible),
        "identities": len({pid for _, pid in visible}),
        "galleries": scored,
        "fewer_encodes": None if fewer is None else round(fewer, 1),
        "R1_change_points": round(best["text_R1_per_identity"] - every["text_R1_per_identity"], 2),
        "goals": GOALS,
        "goal_met": bool(
            fewer and fewer >= GOALS["fewer_encodes"] and best["coverage"] >= GOALS["coverage"]
            and best["text_R1_per_identity"] >= every["text_R1_per_identity"]
        ),
        "load_average": {"start": load_start, "end": load_average()},
        "machine": describe(),
    }  # fmt: skip


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=None, help="scenes and the models, kept")
    parser.add_argument("--crops-per-track", type=int, default=3)
    parser.add_argument("--detector", choices=["trained", "untrained", "truth"], default="trained")
    args = parser.parse_args()
    print(json.dumps(run(None, args.crops_per_track, args.detector, True, args.workdir), indent=2))
