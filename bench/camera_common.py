"""Shared set-up for the camera benchmarks: synthetic scenes, the demo detector and CLIP, ground truth.

Everything is made under a work directory and reused when it is already there (a trained detector and
CLIP take minutes). `trained=False` makes untrained tiny stand-ins of the same kinds in seconds, for
smoke runs: they cost a realistic amount of compute (the detector) or none of the accuracy.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from training.synth.scenes import synth_scenes

DETECTOR_SCENES = {"cameras": 8, "seconds": 20.0, "fps": 10, "seed": 0}  # the README's demo recipe
SMOKE_DETECTOR_INPUT = (96, 160)


@dataclass(frozen=True)
class SceneSpec:
    """A synth-scenes set: how many cameras, how long, at what frame rate, which seed and domain."""

    cameras: int
    seconds: float
    fps: int
    seed: int
    domain: str = "target"
    size: tuple[int, int] = (360, 640)  # (H, W)

    @property
    def name(self) -> str:
        """A folder name that changes with every field."""
        h, w = self.size
        return f"scenes-{self.domain}-c{self.cameras}-s{self.seconds:g}-f{self.fps}-seed{self.seed}-{w}x{h}"


def work_root(workdir: str | Path | None) -> Path:
    """Where the camera benches keep scenes and models: the given directory, else a per-user cache."""
    return Path(workdir) if workdir else Path.home() / ".cache" / "person-search" / "bench-cameras"


def scenes(workdir: Path, spec: SceneSpec) -> Path:
    """The scenes directory for `spec` under workdir, rendered unless it is already there."""
    out = Path(workdir) / spec.name
    if not (out / "scenes.json").is_file():
        synth_scenes(out, spec.cameras, spec.seconds, spec.fps, spec.seed, spec.domain, spec.size)
    return out


def videos(scene_dir: Path) -> list[tuple[str, Path]]:
    """(camera name, video path) of every camera of a scenes directory."""
    meta = json.loads((scene_dir / "scenes.json").read_text())
    return [(c["name"], scene_dir / c["video"]) for c in meta["cameras"]]


def demo_detector(workdir: Path, trained: bool = True, threads: int = 2) -> Path:
    """The demo detector (train-detector's defaults on target-domain scenes of seed 0), or an untrained
    tiny one for smoke runs; trained once per work directory."""
    out = Path(workdir) / ("detector" if trained else "detector-untrained")
    if (out / "detector.json").is_file():
        return out
    import torch

    if trained:
        from training.detector.train import DetectorTrainConfig, train_detector

        data = scenes(workdir, SceneSpec(**DETECTOR_SCENES))  # type: ignore[arg-type]
        train_detector(data, out, DetectorTrainConfig(threads=threads), echo=lambda line: None)
        return out
    from training.detector.export import export_detector
    from training.detector.model import TinyDetector

    torch.manual_seed(0)
    export_detector(TinyDetector(width=8), out, SMOKE_DETECTOR_INPUT, {"made_by": "bench (untrained)"})
    return out


def first_camera(root: Path, spec: SceneSpec, trained: bool) -> tuple[Path, Path]:
    """The first video of a scene set and the demo detector, each made under root unless already there."""
    (_, path), *_ = videos(scenes(root, spec))
    return path, demo_detector(root, trained)


def demo_clip(workdir: Path, trained: bool = True, threads: int = 2) -> Path:
    """The demo's CLIP bundle with ONNX towers: PS-Tiny pretrained on the synthetic source domain and
    LoRA-tuned on the target one (as `person-search demo`), or a seeded random PS-Micro for smoke runs."""
    from engine.export import export_bundle, exported_for
    from engine.spec import ModelSpec

    if not trained:
        from bench.service_harness import demo_bundle

        out = Path(workdir) / "clip-untrained"
        if not (out / "model.json").is_file():
            demo_bundle(out, "PS-Micro", export=True)
        return out
    from training.config import demo_finetune_config, demo_pretrain_config
    from training.pipeline import finetune, pretrain
    from training.synth import generate

    root = Path(workdir) / "clip"
    data = {"source": (400, 8), "target": (300, 6)}  # the demo's sizes (cli/demo_stages.DemoPlan)
    for domain, (identities, per_id) in data.items():
        if not (root / domain / "reid_raw.json").is_file():
            generate(root / domain, identities, per_id, domain, 0)
    configs = demo_pretrain_config(), demo_finetune_config()
    for config in configs:
        config.threads, config.progress = threads, False
    quiet = lambda line: None  # noqa: E731
    base = pretrain(root / "source", root / "runs" / "base", configs[0], echo=quiet)
    bundle = finetune(base, root / "target", root / "runs" / "tuned", configs[1], echo=quiet)
    if not exported_for(ModelSpec.load(bundle)):
        export_bundle(bundle)
    return bundle


Box = tuple[float, float, float, float]  # x1, y1, x2, y2 in frame pixels (0-based)
GroundTruth = dict[int, list[tuple[int, Box]]]  # 0-based frame index -> (person id, box)


def ground_truth(scene_dir: Path, camera: str) -> GroundTruth:
    """A camera's MOTChallenge gt.txt as 0-based frame -> [(person id, x1 y1 x2 y2)] (0-based pixels)."""
    rows: GroundTruth = defaultdict(list)
    for line in (scene_dir / camera / "gt" / "gt.txt").read_text().splitlines():
        frame, pid, x, y, w, h = (float(v) for v in line.split(",")[:6])
        x1, y1 = x - 1, y - 1  # MOTChallenge's top-left pixel is (1, 1)
        rows[int(frame) - 1].append((int(pid), (x1, y1, x1 + w, y1 + h)))
    return dict(rows)


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def identity_of(box: Box, frame: int, truth: GroundTruth, min_iou: float = 0.5) -> int | None:
    """The ground-truth person a box of this frame shows (best IoU >= min_iou), None for none."""
    best, who = min_iou, None
    for pid, gt_box in truth.get(frame, []):
        overlap = iou(box, gt_box)
        if overlap >= best:
            best, who = overlap, pid
    return who


def visible_persons(truth: GroundTruth, fps: float, min_s: float = 1.0) -> set[int]:
    """Persons present in at least `min_s` seconds of frames of one camera."""
    frames: dict[int, int] = defaultdict(int)
    for rows in truth.values():
        for pid, _ in rows:
            frames[pid] += 1
    return {pid for pid, n in frames.items() if n >= min_s * fps}


def percentiles_ms(samples: list[float]) -> dict[str, float]:
    """p50/p90/p99 and count of millisecond samples."""
    a = np.asarray(samples, float)
    return {
        "n": len(samples),
        "p50_ms": round(float(np.percentile(a, 50)), 3),
        "p90_ms": round(float(np.percentile(a, 90)), 3),
        "p99_ms": round(float(np.percentile(a, 99)), 3),
    }
